"""The write path: every change the engine makes goes journal → apply → confirm here, and
what a crash left between journal and confirm is applied again on the next open.

* journal: the operations go to the history store in ONE transaction, unapplied (with
  the pending add they came from removed in that same transaction);
* apply: the vector store and the graph store are written, idempotently;
* confirm: the batch is marked applied and becomes history.

A process killed after the journal and before the confirm leaves an unapplied batch;
`recover` (run by `AsyncMemory.open`) applies it again, which is safe because applying
is idempotent. A write that fails while applying tells the engine (`on_unapplied`) to
replay the journal before its next call. `reset` leaves a mark first, so that a reset a
crash interrupted is finished by the next open instead of leaving half of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mem_integrations.core.graph.base import EntityRecord, GraphStore, RelationRecord
from mem_integrations.core.history.base import HistoryStore
from mem_integrations.core.journal import (
    MemoryClose,
    MemoryDelete,
    MemoryUpsert,
    RelationAdd,
    RelationInvalidate,
    ScopeWipe,
    WriteOp,
    decode,
)
from mem_integrations.core.providers.base import Embedder
from mem_integrations.core.records import DATA
from mem_integrations.core.search.lexical import LEXICAL_VERSION, BM25Encoder, has_cjk
from mem_integrations.core.stores.base import Point, VectorStore

log = logging.getLogger(__name__)

PAGE = 256  # points per scroll page, for the engine's scans too


@dataclass
class Writes:
    """Operations to journal and apply together, and the dense vector of every text they
    store, by memory or entity id (vectors are not journaled: a replay embeds again)."""

    ops: list[WriteOp] = field(default_factory=list)
    vectors: dict[str, list[float]] = field(default_factory=dict)


class Writer:
    """Journals, applies and confirms the engine's writes; replays what a crash left."""

    def __init__(self, store: VectorStore, graph: GraphStore | None, history: HistoryStore,
                 embedder: Embedder, lexical: BM25Encoder,
                 on_unapplied: Callable[[], None],
                 before_write: Callable[[Writes], None] | None = None) -> None:
        self.store = store
        self.graph = graph
        self.history = history
        self.embedder = embedder
        self.lexical = lexical
        self._on_unapplied = on_unapplied
        # raises before a write that must not start (a full disk, wrong-sized vectors): a
        # journaled write the stores refuse would be replayed, and refused, on every open
        self._before_write = before_write
        self._scope_locks: defaultdict[tuple[tuple[str, str], ...], asyncio.Lock] = \
            defaultdict(asyncio.Lock)

    @asynccontextmanager
    async def lock(self, scope: dict[str, str]) -> AsyncIterator[None]:
        """Serialise plan-and-commit for one scope: an asyncio lock within this process,
        and the history store's scope lock across processes sharing it (PostgreSQL).
        Whatever a write is decided on (neighbours, what exists) is read under it."""
        async with self._scope_locks[tuple(sorted(scope.items()))]:
            shared = self.history.scope_lock(scope)
            await asyncio.to_thread(shared.__enter__)
            try:
                yield
            finally:
                await asyncio.to_thread(shared.__exit__, None, None, None)

    async def commit(self, writes: Writes, scope: dict[str, str], *,
                     pending_id: str | None = None) -> None:
        """Journal, apply, confirm. `pending_id` is the pending add these writes come
        from: it is removed with the journal (or at once, when there is nothing to write)."""
        if not writes.ops:
            if pending_id:
                await asyncio.to_thread(self.history.drop_pending, pending_id)
            return
        if self._before_write is not None:
            self._before_write(writes)
        batch = await asyncio.to_thread(self.history.journal, [op.row() for op in writes.ops],
                                        scope, done_pending=pending_id)
        try:
            await asyncio.to_thread(self.apply, writes)
        except BaseException:
            self._on_unapplied()
            raise
        await asyncio.to_thread(self.history.mark_applied, batch)

    def apply(self, writes: Writes) -> None:
        """Write the operations to the vector and graph stores. Idempotent, so a journal
        may be replayed any number of times. Synchronous: run it in a worker thread."""
        deletes = [op.memory_id for op in writes.ops if isinstance(op, MemoryDelete)]
        # a closed memory is written like any other: its payload says it is no longer valid
        upserts = {op.memory_id: op for op in writes.ops
                   if isinstance(op, (MemoryUpsert, MemoryClose))}
        self.store.upsert([Point(id=mid, vector=writes.vectors[mid], payload=op.payload,
                                 sparse=self.lexical.document(op.text))
                           for mid, op in upserts.items() if mid not in deletes])
        self.store.delete(deletes)
        graph_ops = [op for op in writes.ops
                     if isinstance(op, (RelationAdd, RelationInvalidate, ScopeWipe))]
        if not graph_ops or self.graph is None:
            return
        entities: dict[str, EntityRecord] = {}
        relations: list[RelationRecord] = []
        for op in graph_ops:
            if isinstance(op, RelationAdd):
                for end in (op.source, op.target):
                    entities[end.id] = EntityRecord(end.id, end.name, end.type, end.scope,
                                                    writes.vectors.get(end.id))
                relations.append(op.relation)
        # one write per event time the invalidated relations ended at (one add: one time)
        ended: dict[str | None, list[str]] = {None: []}
        for op in graph_ops:
            if isinstance(op, RelationInvalidate):
                ended.setdefault(op.ended, []).append(op.relation_id)
        now = datetime.now(UTC).isoformat()
        self.graph.write(list(entities.values()), relations, ended.pop(None), now)
        for at, ids in ended.items():
            self.graph.write([], [], ids, now, ended=at)
        for op in graph_ops:
            if isinstance(op, ScopeWipe):
                self.graph.delete_scope(op.scope)

    async def recover(self) -> None:
        """Finish a reset a crash interrupted, replay the unapplied journal, and bring
        sparse vectors written by an older tokenizer up to date."""
        if await asyncio.to_thread(self.history.reset_started):
            log.warning("finishing a reset that a crash interrupted")
            await self._wipe()  # before any replay: the journal goes too
        await self.replay()
        if self.store.lexical_version < LEXICAL_VERSION:
            await asyncio.to_thread(self._reencode_lexical)

    def _reencode_lexical(self) -> None:
        """Write every memory's sparse vector again with today's tokenizing (the text is in
        the payload and the dense vector is kept, so nothing is embedded again). Only
        CJK text tokenizes differently since version 1; a crash half-way just starts over."""
        offset: str | None = None
        changed = 0
        while True:
            page, offset = self.store.scroll(None, limit=PAGE, offset=offset)
            stale = [hit.id for hit in page if has_cjk(hit.payload.get(DATA, ""))]
            points = [Point(id=hit.id, vector=hit.vector or [], payload=hit.payload,
                            sparse=self.lexical.document(hit.payload[DATA]))
                      for hit in self.store.retrieve(stale, with_vectors=True)]
            self.store.upsert(points)
            changed += len(points)
            if offset is None:
                break
        self.store.record_lexical_version(LEXICAL_VERSION)
        log.info("re-encoded the lexical index of %d memories (tokenizer version %d)",
                 changed, LEXICAL_VERSION)

    async def replay(self) -> None:
        """Apply again, batch by batch, the journaled operations not confirmed applied."""
        pending = await asyncio.to_thread(self.history.unapplied)
        if not pending:
            return
        log.warning("recovering %d journaled operation(s) left by an interrupted write",
                    len(pending))
        batches: dict[str, list[WriteOp]] = {}
        for batch_id, row in pending:
            batches.setdefault(batch_id, []).append(decode(row))
        for batch_id, ops in batches.items():
            texts = {key: text for op in ops for key, text in op.texts().items()}
            vectors = await self.embedder.embed(list(texts.values()), "document") if texts else []
            await asyncio.to_thread(self.apply, Writes(ops, dict(zip(texts, vectors, strict=True))))
            await asyncio.to_thread(self.history.mark_applied, batch_id)

    async def reset(self) -> None:
        """Delete everything: the vector store, the graph, all history and pending adds."""
        await asyncio.to_thread(self.history.begin_reset)  # from here on, open finishes it
        await self._wipe()

    async def _wipe(self) -> None:
        await asyncio.to_thread(self.store.drop)
        if self.graph is not None:
            await asyncio.to_thread(self.graph.reset)
        await asyncio.to_thread(self.history.reset)  # clears the reset mark too
