"""The write path's vocabulary: the operations a write journals and then applies, and how
each is kept as a row of the history store's journal (`JournalOp`).

A row holds the id the operation's history belongs to, its event, the old and new text
(the history shown to users), and a JSON payload from which a replay after a crash can
apply the operation again. The payloads are laid out as journals always were, so a data
directory written by an earlier version replays unchanged:

* memory upsert: the memory's point payload itself (it has no "kind" key);
* memory delete: no payload;
* memory close (a DELETE the reconcile step decided: the memory stays, no longer valid):
  ``{"kind": "close", "point": <its point payload, valid_to set>}``;
* relation add: ``{"kind": "relation", "relation", "scope", "source": {id, name, type,
  scope}, "target": {...}, "valid_from"}`` (rows from before per-entity scopes lack the
  ends' "scope", rows from before event time "valid_from");
* relation invalidate: ``{"kind": "invalidate", "valid_to"}`` (older rows: no "valid_to");
* scope wipe: ``{"kind": "wipe_scope", "scope": {...}}``.

This module is the only place that reads or writes those "kind" strings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from mem_integrations.core.graph.base import EntityRecord, RelationRecord
from mem_integrations.core.history.base import JournalOp
from mem_integrations.core.models import Event
from mem_integrations.core.records import DATA, embedded_text

__all__ = ["MemoryClose", "MemoryDelete", "MemoryUpsert", "RelationAdd", "RelationInvalidate", "ScopeWipe",
           "WriteOp", "decode"]

_KIND = "kind"
_RELATION = "relation"
_INVALIDATE = "invalidate"
_WIPE_SCOPE = "wipe_scope"
_CLOSE = "close"


@dataclass(frozen=True)
class MemoryUpsert:
    """A memory written whole (ADD, or UPDATE of an existing id): `payload` is its point
    payload, text included."""

    memory_id: str
    event: Event
    old_text: str | None
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        if self.event not in (Event.ADD, Event.UPDATE):
            raise ValueError(f"a memory upsert is an ADD or an UPDATE, not {self.event}")

    @property
    def text(self) -> str:
        return str(self.payload[DATA])

    def row(self) -> JournalOp:
        return JournalOp(self.memory_id, self.event, self.old_text, self.text, self.payload)

    def texts(self) -> dict[str, str]:
        """What a replay embeds to apply this, by vector id."""
        return {self.memory_id: embedded_text(self.payload)}


@dataclass(frozen=True)
class MemoryDelete:
    """A memory removed; its history ends with this DELETE."""

    memory_id: str
    old_text: str | None

    def row(self) -> JournalOp:
        return JournalOp(self.memory_id, Event.DELETE, self.old_text, None, None)

    def texts(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class MemoryClose:
    """A memory a later fact made false: kept, with `valid_to` set, for reads of the past
    (`core.validity`). Its history shows the DELETE the reconcile step decided."""

    memory_id: str
    payload: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.payload[DATA])

    def row(self) -> JournalOp:
        return JournalOp(self.memory_id, Event.DELETE, self.text, None,
                         {_KIND: _CLOSE, "point": self.payload})

    def texts(self) -> dict[str, str]:
        return {self.memory_id: embedded_text(self.payload)}


@dataclass(frozen=True)
class RelationAdd:
    """A new relation and its two entities (created, or updated in place, by id)."""

    relation: RelationRecord
    source: EntityRecord
    target: EntityRecord

    def row(self) -> JournalOp:
        payload = {_KIND: _RELATION, "relation": self.relation.relation,
                   "scope": self.relation.scope,
                   "source": _entity_payload(self.source), "target": _entity_payload(self.target)}
        if self.relation.valid_from:
            payload["valid_from"] = self.relation.valid_from
        return JournalOp(self.relation.id, Event.ADD, None, self.relation.describe(), payload)

    def texts(self) -> dict[str, str]:
        """The entities' names: their embeddings are stored with them."""
        return {self.source.id: self.source.name, self.target.id: self.target.name}


@dataclass(frozen=True)
class RelationInvalidate:
    """A relation superseded (or its scope deleted): kept in the graph, no longer valid."""

    relation_id: str
    description: str | None
    ended: str | None = None  # event time it stopped being true (None: when it is written)

    def row(self) -> JournalOp:
        payload: dict[str, Any] = {_KIND: _INVALIDATE}
        if self.ended:
            payload["valid_to"] = self.ended
        return JournalOp(self.relation_id, Event.DELETE, self.description, None, payload)

    def texts(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class ScopeWipe:
    """The graph half of `delete_all`: every entity and relation of exactly this scope."""

    scope: dict[str, str]
    # a history row needs an id; no memory or relation has this one
    wipe_id: str = field(default_factory=lambda: f"wipe:{uuid.uuid4().hex}")

    def row(self) -> JournalOp:
        return JournalOp(self.wipe_id, Event.DELETE, None, None,
                         {_KIND: _WIPE_SCOPE, "scope": self.scope})

    def texts(self) -> dict[str, str]:
        return {}


WriteOp = MemoryUpsert | MemoryClose | MemoryDelete | RelationAdd | RelationInvalidate | ScopeWipe


def decode(row: JournalOp) -> WriteOp:
    """The operation a journal row records (rows of every version so far)."""
    payload = row.payload or {}
    kind = payload.get(_KIND)
    if kind == _RELATION:
        source = _entity(payload["source"], payload["scope"])
        target = _entity(payload["target"], payload["scope"])
        return RelationAdd(RelationRecord(row.memory_id, source.id, source.name,
                                          payload["relation"], target.id, target.name,
                                          scope=payload["scope"],
                                          valid_from=payload.get("valid_from")),
                           source, target)
    if kind == _INVALIDATE:
        return RelationInvalidate(row.memory_id, row.old_memory, payload.get("valid_to"))
    if kind == _WIPE_SCOPE:
        return ScopeWipe(payload["scope"], row.memory_id)
    if kind == _CLOSE:
        return MemoryClose(row.memory_id, payload["point"])
    if kind is None and DATA in payload:
        return MemoryUpsert(row.memory_id, row.event, row.old_memory, payload)
    if row.payload is None and row.event is Event.DELETE:
        return MemoryDelete(row.memory_id, row.old_memory)
    raise ValueError(f"journal row {row.id or row.memory_id!r} records no known operation "
                     f"(event {row.event}, kind {kind!r})")


def _entity_payload(entity: EntityRecord) -> dict[str, Any]:
    return {"id": entity.id, "name": entity.name, "type": entity.type, "scope": entity.scope}


def _entity(end: dict[str, Any], relation_scope: dict[str, str]) -> EntityRecord:
    return EntityRecord(end["id"], end["name"], end["type"], end.get("scope", relation_scope))
