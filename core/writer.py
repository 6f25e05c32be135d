"""The write path: every change the engine makes goes journal → apply → confirm here, and
what a crash left between journal and confirm is applied again on the next open.

* journal: the operations go to the history store in ONE transaction, unapplied (with
  the pending add they came from removed in that same transaction);
* apply: the vector store and the graph store are written, idempotently;
* confirm: the batch is marked applied and becomes history.

The embedded graph's write-ahead log can be torn by a crash, and a torn log is set aside
on open (`core.graph.ladybug`), losing the writes since its last checkpoint. A checkpoint
takes 30-70 ms here, whatever it covers, so it is not on the write path: a background
task runs one at most every `CHECKPOINT_DELAY` seconds of graph writes (and on close,
flush, reset and repair), and records with it the journal seq from which the applied
history's graph writes may be missing from it (`_mark`). After a torn log, `recover`
writes those again, in order.

A process killed after the journal and before the confirm leaves an unapplied batch;
`recover` (run by `AsyncMemory.open`) applies it again, which is safe because applying
is idempotent. A write that fails while applying tells the engine (`on_unapplied`) to
replay the journal before its next call. `reset` leaves a mark first, so that a reset a
crash interrupted is finished by the next open instead of leaving half of it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
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
CHECKPOINT_DELAY = 5.0  # seconds of graph writes one background checkpoint covers


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
        # the embedded graph's checkpoints: the highest journal seq written here, and the
        # lowest one each commit between its journal and its confirm may have
        self._journaled = 0
        self._writing: dict[object, int] = {}
        self._checkpointing: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def lock(self, scope: dict[str, str]) -> AsyncIterator[None]:
        """Serialise plan-and-commit for one scope: an asyncio lock within this process,
        and the history store's scope lock across processes sharing it (PostgreSQL).
        Whatever a write is decided on (neighbours, what exists) is read under it."""
        async with self._scope_locks[tuple(sorted(scope.items()))]:
            shared = self.history.scope_lock(scope)
            if isinstance(shared, nullcontext):  # one process (SQLite): nothing to take
                yield
                return
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
        lazy = self._checkpoints_later(writes)
        token = object()
        # until it is confirmed, a batch holds the graph's mark at or below its first row
        self._writing[token] = self._journaled + 1
        try:
            rows = [op.row() for op in writes.ops]
            batch = await asyncio.to_thread(self.history.journal, rows, scope,
                                            done_pending=pending_id)
            if seqs := [row.seq for row in rows if row.seq]:
                self._journaled = max(self._journaled, *seqs)
                self._writing[token] = min(seqs)
            try:
                if lazy:
                    await asyncio.to_thread(functools.partial(self.apply, writes, durable=False))
                else:
                    await asyncio.to_thread(self.apply, writes)
            except BaseException:
                self._on_unapplied()
                raise
            await asyncio.to_thread(self.history.mark_applied, batch)
        finally:
            del self._writing[token]
        if lazy:
            self._checkpoint_soon()

    # --- the embedded graph's checkpoints ---------------------------------------------------

    def _checkpoints_later(self, writes: Writes) -> bool:
        """Whether these writes go to a graph that a checkpoint makes safe from a crash,
        which then runs in the background (`_checkpoint_soon`)."""
        return self.graph is not None and getattr(self.graph, "needs_checkpoint", False) \
            and any(isinstance(op, (RelationAdd, RelationInvalidate)) for op in writes.ops)

    def _mark(self) -> int:
        """The journal seq from which a checkpoint started now leaves the applied history's
        graph writes uncovered: every batch below it is confirmed, so its graph write has
        committed and the checkpoint holds it."""
        return min(self._writing.values(), default=self._journaled + 1)

    def _checkpoint_soon(self) -> None:
        task = self._checkpointing
        # a task of a loop that has ended (asyncio.run called again) never runs again
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._checkpointing = asyncio.get_running_loop().create_task(
                self._checkpoint_later())

    async def _checkpoint_later(self) -> None:
        """One checkpoint for the graph writes of the next `CHECKPOINT_DELAY` seconds."""
        await asyncio.sleep(CHECKPOINT_DELAY)
        self._checkpointing = None  # a write from here on schedules the next one
        try:
            await self._checkpoint()
        except Exception as exc:  # the journal still covers those writes: nothing is lost
            log.warning("checkpointing the graph failed (%s); its write-ahead log keeps the "
                        "writes, and the journal can write them again", exc)

    async def _checkpoint(self) -> None:
        # the mark is read here, on the loop that changes what it is read from
        if self.graph is not None:
            await asyncio.to_thread(self.graph.checkpoint, replay_from=self._mark())

    async def settle(self) -> None:
        """Checkpoint now what waits for a background checkpoint (before a close, a
        flush, a reset or a repair)."""
        task, self._checkpointing = self._checkpointing, None
        if task is None or task.done():
            return
        task.cancel()
        await self._checkpoint()

    def apply(self, writes: Writes, *, durable: bool = True) -> None:
        """Write the operations to the vector and graph stores. Idempotent, so a journal
        may be replayed any number of times. Synchronous: run it in a worker thread.
        `durable=False`: the graph write may wait for a `checkpoint()`."""
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
        # one write per event time the invalidated relations ended at (one add: one time,
        # so one write)
        ended: dict[str | None, list[str]] = {}
        for op in graph_ops:
            if isinstance(op, RelationInvalidate):
                ended.setdefault(op.ended, []).append(op.relation_id)
        now = datetime.now(UTC).isoformat()
        (first, ids), *others = list(ended.items()) or [(None, [])]
        self.graph.write(list(entities.values()), relations, ids, now, ended=first,
                         durable=durable)
        for at, ids in others:
            self.graph.write([], [], ids, now, ended=at, durable=durable)
        for op in graph_ops:
            if isinstance(op, ScopeWipe):
                self.graph.delete_scope(op.scope)

    async def recover(self) -> None:
        """Finish a reset a crash interrupted, write again what a torn graph log held
        (`_replay_graph`), replay the unapplied journal, and bring sparse vectors written
        by an older tokenizer up to date."""
        if await asyncio.to_thread(self.history.reset_started):
            log.warning("finishing a reset that a crash interrupted")
            await self._wipe()  # before any replay: the journal goes too
        replay_from = getattr(self.graph, "replay_from", None)
        if replay_from is not None:  # a torn log was set aside: the writes it held
            await self._replay_graph(replay_from)
            self.graph.replay_from = None  # type: ignore[union-attr]
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

    async def _replay_graph(self, start: int) -> None:
        """Write again, in journal order, the graph operations of the applied history
        from seq `start` on: what the graph's last checkpoint may lack. Idempotent."""
        ops: list[WriteOp] = []
        after = start - 1
        while page := await asyncio.to_thread(self.history.applied_rows, after=after,
                                              limit=PAGE):
            after = page[-1].op.seq
            for row in page:
                try:
                    op = decode(row.op)
                except ValueError:  # a row kept without its payload: not a graph write
                    continue
                if isinstance(op, (RelationAdd, RelationInvalidate, ScopeWipe)):
                    ops.append(op)
        if not ops:
            return
        log.warning("writing again %d graph operation(s) the graph's torn log held", len(ops))
        texts = {key: text for op in ops for key, text in op.texts().items()}
        vectors: dict[str, list[float]] = {}
        keys = list(texts)
        for i in range(0, len(keys), PAGE):
            chunk = keys[i:i + PAGE]
            vectors.update(zip(chunk, await self.embedder.embed([texts[k] for k in chunk],
                                                                "document"), strict=True))
        self._journaled = max(self._journaled, after)

        def write_all() -> None:
            for op in ops:
                self.apply(Writes([op], vectors), durable=False)

        await asyncio.to_thread(write_all)
        await self._checkpoint()

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
        await self.settle()
        await asyncio.to_thread(self.history.begin_reset)  # from here on, open finishes it
        await self._wipe()

    async def _wipe(self) -> None:
        await asyncio.to_thread(self.store.drop)
        if self.graph is not None:
            await asyncio.to_thread(self.graph.reset)
        await asyncio.to_thread(self.history.reset)  # clears the reset mark too
