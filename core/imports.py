"""Writing memories made elsewhere (a migration from mem0, a restore) as they were: under
their own ids, with their own text, hash, times and history — and graph relations under
theirs.

`AsyncMemory.import_records` and `AsyncMemory.import_relations` are the public entries;
this module does the work, so the engine file only forwards to it. Importing is
idempotent — memories are upserted by id, history entries are inserted by id and skipped
when present, relations and their entities are merged by id — so an import a crash
interrupted is finished by running it again, and never leaves two copies of anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.graph.base import EntityRecord, RelationRecord
from mem_integrations.core.journal import MemoryUpsert
from mem_integrations.core.models import Event, HistoryEntry, Source
from mem_integrations.core.records import (
    ACTOR_ID,
    CATEGORIES,
    CREATED_AT,
    DATA,
    HASH,
    MEMORY_TYPE,
    METADATA,
    ROLE,
    SOURCE_ADDS,
    SOURCES,
    SUPERSEDED_BY,
    SUPERSEDES,
    UPDATED_AT,
    VALID_FROM,
    VALID_TO,
    check_memory_id,
    check_metadata,
    check_text,
    content_hash,
)
from mem_integrations.core.scope import Scope
from mem_integrations.core.writer import Writes

if TYPE_CHECKING:
    from mem_integrations.core.async_memory import AsyncMemory

__all__ = ["ImportedMemory", "ImportedRelation", "ImportResult", "import_records",
           "import_relations"]


class ImportedMemory(BaseModel):
    """A memory as another store kept it, written back exactly (`import_records`)."""

    id: str = Field(description="A UUID; importing the same id again replaces the memory.")
    text: str
    hash: str | None = Field(None, description="Kept as given (mem0: md5 of the text); "
                                               "computed when absent.")
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    actor_id: str | None = None
    role: str | None = None
    memory_type: str | None = None
    categories: list[str] | None = None
    # event time and provenance (core.validity, core.sources), as `export_jsonl` writes
    # them; without valid_from a memory is valid since created_at
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    superseded_by: str | None = None
    supersedes: str | None = None
    sources: list[Source] | None = None


class ImportedRelation(BaseModel):
    """A graph relation as another store kept it, written back under its own id and its
    two entities' ids (`import_relations`)."""

    id: str = Field(description="Importing the same id again replaces the relation.")
    source_id: str
    source: str
    relation: str
    target_id: str
    target: str
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    created_at: datetime | None = Field(None, description="Kept as the relation's creation "
                                                          "time; now when absent.")


class ImportResult(BaseModel):
    """What one `import_records` call wrote."""

    memories: int = 0
    history_new: int = 0
    history_present: int = 0


def _payload(item: ImportedMemory, scope: dict[str, str], text: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        DATA: text,
        HASH: item.hash or content_hash(text),
        CREATED_AT: item.created_at.isoformat() if item.created_at else None,
        UPDATED_AT: item.updated_at.isoformat() if item.updated_at else None,
        METADATA: check_metadata(item.metadata) or None,
        ROLE: item.role,
        ACTOR_ID: item.actor_id,
        MEMORY_TYPE: item.memory_type,
        CATEGORIES: item.categories or None,
        VALID_FROM: item.valid_from.isoformat() if item.valid_from else None,
        VALID_TO: item.valid_to.isoformat() if item.valid_to else None,
        SUPERSEDED_BY: item.superseded_by,
        SUPERSEDES: item.supersedes,
        **scope,
    }
    if item.sources:
        payload[SOURCES] = [s.model_dump(mode="json") for s in item.sources]
        payload[SOURCE_ADDS] = sorted({s.add_id for s in item.sources})
    return {k: v for k, v in payload.items() if v is not None}


async def import_records(memory: AsyncMemory, memories: Sequence[ImportedMemory],
                         history: Sequence[HistoryEntry] = ()) -> ImportResult:
    """Write `memories` (embedded with the memory's own embedder) and `history` verbatim.

    Every memory is validated before anything is written. History goes first: a crash
    after it and before the memories leaves entries that the rerun skips, and the
    memories it then writes — never a memory without its history."""
    checked: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    for item in memories:
        scope = Scope.of("import_records", user_id=item.user_id, agent_id=item.agent_id,
                         run_id=item.run_id).ids()
        text = check_text(item.text)
        checked.append((check_memory_id(item.id), scope, _payload(item, scope, text)))
    entries = [entry.model_copy(update={"memory_id": check_memory_id(entry.memory_id)})
               for entry in history]
    await memory.open()
    new = await asyncio.to_thread(memory.history_store.import_entries, entries) \
        if entries else 0
    if checked:
        vectors = await memory.embedder.embed([p[DATA] for _, _, p in checked], "document")
        groups: dict[tuple[tuple[str, str], ...], Writes] = {}
        for (memory_id, scope, payload), vector in zip(checked, vectors, strict=True):
            writes = groups.setdefault(tuple(sorted(scope.items())), Writes())
            # applied without journaling: the history rows are the import's own, written
            # above, and a rerun upserts the same ids again
            writes.ops.append(MemoryUpsert(memory_id, Event.ADD, None, payload))
            writes.vectors[memory_id] = vector
        for key, writes in groups.items():
            # under the scope's lock, so no add of the same scope plans on a half-written set
            async with memory.writer.lock(dict(key)):
                await asyncio.to_thread(memory.writer.apply, writes)
    return ImportResult(memories=len(checked), history_new=new,
                        history_present=len(entries) - new)


async def import_relations(memory: AsyncMemory, relations: Sequence[ImportedRelation], *,
                           batch_size: int = 256) -> int:
    """Write `relations` and their entities into the graph under their own ids; returns
    how many relations were written. Entity names are embedded with the memory's own
    embedder, `batch_size` names a call. Raises `ConfigurationError` without a graph."""
    await memory.open()
    if memory.graph is None:
        raise ConfigurationError("importing relations needs a graph store, and this memory "
                                 "has none: configure graph_store={'provider': 'ladybug'} "
                                 "(or neo4j)")
    checked = [(Scope.of("import_relations", user_id=r.user_id, agent_id=r.agent_id,
                         run_id=r.run_id).ids(), r) for r in relations]
    names = sorted({(r.source_id, r.source) for r in relations}
                   | {(r.target_id, r.target) for r in relations})
    vectors: dict[tuple[str, str], list[float]] = {}
    for start in range(0, len(names), batch_size):
        chunk = names[start:start + batch_size]
        vectors.update(zip(chunk, await memory.embedder.embed([n for _, n in chunk],
                                                                "document"), strict=True))
    # one graph write per scope and creation time: `write` stamps its relations with one
    # time, and a relation keeps its own creation time
    groups: dict[tuple[tuple[tuple[str, str], ...], str], list[ImportedRelation]] = {}
    for scope, r in checked:
        when = (r.created_at or datetime.now(UTC)).isoformat()
        groups.setdefault((tuple(sorted(scope.items())), when), []).append(r)
    for (key, when), group in groups.items():
        scope = dict(key)
        entities = {i: EntityRecord(id=i, name=n, scope=scope, embedding=vectors[(i, n)])
                    for r in group for i, n in ((r.source_id, r.source),
                                                (r.target_id, r.target))}
        records = [RelationRecord(id=r.id, source_id=r.source_id, source=r.source,
                                  relation=r.relation, target_id=r.target_id, target=r.target,
                                  scope=scope) for r in group]
        # MERGE by id: a second import changes nothing; under the scope's lock, so no add
        # of the scope plans its graph changes on a half-written set
        async with memory.writer.lock(scope):
            await asyncio.to_thread(memory.graph.write, list(entities.values()), records, [],
                                    when)
    return len(checked)
