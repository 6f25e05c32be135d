"""What the history says the vector store and the graph must hold, and the checks that
compare them with it. The history is the source of truth; the stores are indexes of it.

* `expected_state` folds the applied history, row by row, into the memories and relations
  that must exist, with each one's payload (text, hash, scope, metadata, times);
* `check_on_open` is the cheap check every open runs: per scope id, the vector store must
  hold at least as many memories, and the graph as many valid relations, as the history
  says — fewer means files were lost or damaged (`CorruptionError`, naming `repair`);
* `deep_check` compares every id and text; `inspect` (`mem-integrations doctor --check`)
  runs it on a memory that may not even open.

"At least": a store may hold more than the history knows — memories written by
`import_records` (a migration) keep the history they came with, which may not list them —
and that is not damage. Rows applied by versions that did not keep payloads are rebuilt
from their text and scope ids only (`Expected.unrecorded` counts them) and are left out of
the cheap check, whose counts must never raise for an old or migrated data directory.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mem_integrations.core.errors import CorruptionError, MemoryLayerError, StoreError
from mem_integrations.core.factory import vector_store_choice
from mem_integrations.core.history.base import AppliedRow, HistoryStore
from mem_integrations.core.journal import (
    MemoryClose,
    MemoryDelete,
    MemoryUpsert,
    RelationAdd,
    RelationInvalidate,
    ScopeWipe,
    decode,
)
from mem_integrations.core.models import Event
from mem_integrations.core.providers.base import probe_dimension
from mem_integrations.core.records import CREATED_AT, DATA, HASH, UPDATED_AT, content_hash
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.core.search.lexical import LEXICAL_VERSION
from mem_integrations.core.search.speaker import speaker_field
from mem_integrations.core.stores.base import CollectionInfo
from mem_integrations.core.writer import PAGE

if TYPE_CHECKING:
    from mem_integrations.core.async_memory import AsyncMemory

__all__ = ["REPAIR_HINT", "Expected", "ExpectedMemory", "ExpectedRelation", "Finding",
           "check_on_open", "collection_info", "deep_check", "expected_state", "inspect",
           "open_vector_store"]

REPAIR_HINT = ("run `mem-integrations repair` (or Memory.repair()) to rebuild the vector "
               "store and the graph from the history")

# how a relation's history text reads (`RelationRecord.describe`), for rows kept without
# a payload by earlier versions
_RELATION_TEXT = re.compile(r" --\S+--> ")
_HISTORY_PAGE = 1000


@dataclass
class ExpectedMemory:
    """A memory the history says exists, as its point payload."""

    payload: dict[str, Any]
    recorded: bool = True
    """False: its last row kept no payload (an earlier version, or an import), so the
    payload was rebuilt from the text, scope ids and times alone."""


@dataclass
class ExpectedRelation:
    """A relation the history says exists in the graph, valid or invalidated."""

    add: RelationAdd
    created_at: datetime
    invalidated_at: datetime | None = None
    valid_to: str | None = None  # the event time it ended (rows before event time: None)


@dataclass
class Expected:
    """The stores' content according to the history."""

    memories: dict[str, ExpectedMemory] = field(default_factory=dict)
    relations: dict[str, ExpectedRelation] = field(default_factory=dict)
    unrecorded_relations: set[str] = field(default_factory=set)
    """Relations whose rows kept no payload: known to exist, not rebuildable."""

    @property
    def unrecorded(self) -> int:
        return sum(not m.recorded for m in self.memories.values())

    def valid_relations(self) -> Iterator[ExpectedRelation]:
        return (r for r in self.relations.values() if r.invalidated_at is None)


def _rows(history: HistoryStore) -> Iterator[AppliedRow]:
    after = 0
    while page := history.applied_rows(after=after, limit=_HISTORY_PAGE):
        yield from page
        after = page[-1].op.seq


def expected_state(history: HistoryStore) -> Expected:
    """Fold the applied history, oldest first, into what the stores must hold."""
    state = Expected()
    first_seen: dict[str, datetime] = {}
    for row in _rows(history):
        op = row.op
        first_seen.setdefault(op.memory_id, row.created_at)
        if op.payload is None and op.event is not Event.DELETE:
            _fold_unrecorded(state, row, first_seen[op.memory_id])
            continue
        try:
            decoded = decode(op)
        except (ValueError, KeyError):  # a row no version wrote: nothing to rebuild
            continue
        if isinstance(decoded, (MemoryUpsert, MemoryClose)):
            state.memories[op.memory_id] = ExpectedMemory(dict(decoded.payload))
        elif isinstance(decoded, MemoryDelete):
            if state.memories.pop(op.memory_id, None) is None:
                # an earlier version's invalidation kept no payload either
                _invalidate(state, op.memory_id, row.created_at)
        elif isinstance(decoded, RelationAdd):
            state.unrecorded_relations.discard(op.memory_id)
            state.relations[op.memory_id] = ExpectedRelation(decoded, row.created_at)
        elif isinstance(decoded, RelationInvalidate):
            _invalidate(state, op.memory_id, row.created_at, decoded.ended)
        elif isinstance(decoded, ScopeWipe):
            wiped = decoded.scope.items()
            state.relations = {rid: r for rid, r in state.relations.items()
                               if not wiped <= r.add.relation.scope.items()}
    return state


def _invalidate(state: Expected, relation_id: str, when: datetime,
                ended: str | None = None) -> None:
    relation = state.relations.get(relation_id)
    if relation is not None and relation.invalidated_at is None:
        relation.invalidated_at = when
        relation.valid_to = ended
    state.unrecorded_relations.discard(relation_id)


def _fold_unrecorded(state: Expected, row: AppliedRow, first: datetime) -> None:
    """An ADD or UPDATE kept without its payload: rebuilt from what the row holds."""
    text = row.op.new_memory or ""
    if _RELATION_TEXT.search(text):
        state.unrecorded_relations.add(row.op.memory_id)
        return
    payload: dict[str, Any] = {DATA: text, HASH: content_hash(text),
                               CREATED_AT: first.isoformat(), **row.scope}
    if row.op.event is Event.UPDATE:
        payload[UPDATED_AT] = row.created_at.isoformat()
    state.memories[row.op.memory_id] = ExpectedMemory(payload, recorded=False)


# --- the checks -------------------------------------------------------------------------


@dataclass
class Finding:
    """One way a store disagrees with the history."""

    store: str  # "vector" or "graph"
    kind: str  # e.g. "missing", "text differs", "not in history"
    detail: str

    def __str__(self) -> str:
        return f"{self.store}: {self.kind}: {self.detail}"


def _scope_label(scope: tuple[tuple[str, str], ...] | dict[str, str]) -> str:
    items = scope.items() if isinstance(scope, dict) else scope
    return ", ".join(f"{k}={v!r}" for k, v in items) or "no scope"


def count_shortfalls(memory: AsyncMemory, expected: Expected) -> list[Finding]:
    """Scope ids for which a store holds fewer memories or valid relations than the
    history says (memories kept without a payload are not counted). Synchronous."""
    findings: list[Finding] = []
    if not _ephemeral_vectors(memory):
        for key in SCOPE_KEYS:
            want = Counter(m.payload.get(key) for m in expected.memories.values()
                           if m.recorded and m.payload.get(key))
            if not want:
                continue
            have = memory.store.facet(key)
            findings += [Finding("vector", "memories missing",
                                 f"{key}={value!r}: {have.get(value, 0)} of {n}")
                         for value, n in sorted(want.items()) if have.get(value, 0) < n]
    if memory.graph is not None:
        want_edges = Counter(tuple(sorted(r.add.relation.scope.items()))
                             for r in expected.valid_relations())
        if want_edges:
            have_edges = Counter(tuple(sorted(r.scope.items()))
                                 for r in memory.graph.all_relations({}))
            findings += [Finding("graph", "relations missing",
                                 f"{_scope_label(scope)}: {have_edges.get(scope, 0)} of {n}")
                         for scope, n in sorted(want_edges.items())
                         if have_edges.get(scope, 0) < n]
    return findings


def _ephemeral_vectors(memory: AsyncMemory) -> bool:
    # An in-memory vector store starts empty at every open, by design: nothing was lost,
    # and `repair()` fills it from the history when wanted.
    try:
        return vector_store_choice(memory.config).where == ":memory:"
    except Exception:  # noqa: BLE001 - a config the factory refuses was refused before
        return False


def corruption(findings: list[Finding]) -> CorruptionError:
    shown = "; ".join(str(f) for f in findings[:5])
    more = f" (and {len(findings) - 5} more)" if len(findings) > 5 else ""
    return CorruptionError(f"the stores disagree with the history, which is the source of "
                           f"truth: {shown}{more}. Files were lost or damaged: {REPAIR_HINT}")


async def collection_info(memory: AsyncMemory) -> CollectionInfo:
    """What `memory`'s vector collection is opened with: its embedder, the lexical
    version, and the payload index the speaker names are counted by (`search`)."""
    return CollectionInfo(embedding_model=memory.embedder.model_name,
                          dimension=await probe_dimension(memory.embedder),
                          lexical_version=LEXICAL_VERSION,
                          keyword_indexes=(
                              speaker_field(memory.config.search.ranking.speaker_key),))


def open_vector_store(memory: AsyncMemory, info: CollectionInfo) -> None:
    """Open the vector store; an embedded one whose files no longer open (an invalid
    `collection.json`, a damaged shard) is a `CorruptionError` naming `repair`. A wrong
    embedder, another process, a full disk or a server outage keep their own errors."""
    try:
        memory.store.open(info)
    except Exception as exc:
        if not _damaged(memory, exc):
            raise
        raise CorruptionError(f"the vector store at {vector_store_choice(memory.config).where}"
                              f" does not open: {exc}. Its files are damaged: {REPAIR_HINT}"
                              ) from exc


def _damaged(memory: AsyncMemory, exc: Exception) -> bool:
    """Whether an embedded store failed to open on its own files: not on a condition we
    type ourselves (a wrong embedder, a lock, a full disk...), nor on permissions."""
    if memory.config.vector_store.url is not None or _ephemeral_vectors(memory):
        return False
    if isinstance(exc, MemoryLayerError) and type(exc) is not StoreError:
        return False
    return not any(isinstance(c, PermissionError) for c in (exc, exc.__cause__))


async def check_on_open(memory: AsyncMemory) -> None:
    """The cheap check of every open: raise `CorruptionError` when a store holds fewer
    memories or relations, for some scope id, than the history says."""
    expected = await asyncio.to_thread(expected_state, memory.history_store)
    findings = await asyncio.to_thread(count_shortfalls, memory, expected)
    if findings:
        raise corruption(findings)


def deep_check(memory: AsyncMemory, expected: Expected) -> list[Finding]:
    """Every memory and relation compared by id and text, both ways (synchronous; the
    memory's stores must be open). "not in history" findings are not damage by
    themselves (imports); everything else is, and `repair` mends it."""
    findings: list[Finding] = []
    stored: dict[str, dict[str, Any]] = {}
    offset: str | None = None
    while True:
        page, offset = memory.store.scroll(None, limit=PAGE, offset=offset)
        stored.update((hit.id, hit.payload) for hit in page)
        if offset is None:
            break
    for memory_id, want in expected.memories.items():
        have = stored.get(memory_id)
        if have is None:
            findings.append(Finding("vector", "missing", f"{memory_id} {want.payload[DATA]!r}"))
        elif have.get(DATA) != want.payload[DATA]:
            findings.append(Finding("vector", "text differs",
                                    f"{memory_id}: {have.get(DATA)!r}, history "
                                    f"{want.payload[DATA]!r}"))
    findings += [Finding("vector", "not in history", f"{mid} {p.get(DATA)!r}")
                 for mid, p in stored.items() if mid not in expected.memories]
    if memory.graph is None:
        return findings
    edges = {r.id: r for r in memory.graph.all_relations({})}
    for relation_id, want_rel in expected.relations.items():
        if want_rel.invalidated_at is None and relation_id not in edges:
            findings.append(Finding("graph", "missing", want_rel.add.relation.describe()))
        elif want_rel.invalidated_at is not None and relation_id in edges:
            findings.append(Finding("graph", "valid, history invalidated it",
                                    want_rel.add.relation.describe()))
    known = expected.relations.keys() | expected.unrecorded_relations
    findings += [Finding("graph", "not in history", r.describe())
                 for rid, r in edges.items() if rid not in known]
    return findings


async def inspect(memory: AsyncMemory) -> list[Finding]:
    """The deep check of `doctor --check`, on a memory that may not open: a store whose
    files no longer open is a finding, and so is a journal left to replay (the next open
    replays it). Nothing is written."""
    findings: list[Finding] = []
    unapplied = await asyncio.to_thread(memory.history_store.unapplied)
    if unapplied:
        findings.append(Finding("history", "journal to replay",
                                f"{len(unapplied)} operation(s); the next open applies them"))
    info = await collection_info(memory)
    opened = True
    for store, work in (("vector", lambda: open_vector_store(memory, info)),
                        ("graph", lambda: memory.graph and memory.graph.open(info.dimension))):
        try:
            await asyncio.to_thread(work)
        except CorruptionError as exc:
            findings.append(Finding(store, "does not open", str(exc)))
            opened = False
    if opened:
        expected = await asyncio.to_thread(expected_state, memory.history_store)
        findings += await asyncio.to_thread(deep_check, memory, expected)
    return findings
