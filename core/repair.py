"""`repair`: rebuild the vector store and the graph from the history, the source of truth.

For when files were lost or damaged (a deleted graph directory, an invalid
`collection.json`, a Qdrant log with garbage after a crash...): the open path's check or
`doctor --check` says so with a `CorruptionError`, and this mends it. It

1. folds the history into what the stores must hold (`core.consistency.expected_state`);
2. reads what it can from the old vector store — memories the history does not list
   (imports) and the payloads of memories whose rows kept no payload — when it still opens;
3. drops the vector store (the embedded engines' damaged files go with it) and writes every
   memory again, re-embedded `batch_size` texts at a time;
4. sets the embedded graph's damaged files aside (or empties a Neo4j graph of this
   library's nodes) and writes every relation again, valid or invalidated, under its own
   id, time and entities, the entity names re-embedded in batches;
5. replays the unapplied journal, and opens normally, which runs the check again.

Run it while nothing else writes to the same data. The history itself is not rebuilt: a
damaged history file is restored from a backup (`export_jsonl`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mem_integrations.core.consistency import (
    Expected,
    ExpectedRelation,
    collection_info,
    expected_state,
)
from mem_integrations.core.errors import (
    EmbeddingMismatchError,
    StoreError,
    StoreLockedError,
)
from mem_integrations.core.graph.base import EntityRecord, GraphStore
from mem_integrations.core.records import DATA, embedded_text
from mem_integrations.core.stores.base import CollectionInfo, Point
from mem_integrations.core.writer import PAGE

if TYPE_CHECKING:
    from mem_integrations.core.async_memory import AsyncMemory

__all__ = ["Progress", "RepairReport", "repair"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as `progress(stage, done, total)`; stage is "memories" or "relations"."""


class RepairReport(BaseModel):
    """What one `repair` wrote back."""

    memories: int = 0
    """Memories written from the history."""
    kept_from_store: int = 0
    """Memories the history does not list (imports), carried over from the old store."""
    without_payload: int = 0
    """Memories whose history rows kept only text, scope and times (written by an earlier
    version): rebuilt from those, with the old store's payload when it still had them."""
    relations: int = 0
    relations_not_rebuildable: int = 0
    """Relations whose history rows kept no payload (an earlier version): not rebuilt."""
    vector_store_was_readable: bool = True
    graph_was_readable: bool = True


@dataclass
class _Salvage:
    """What the old vector store still held, when it opened."""

    readable: bool
    payloads: dict[str, dict[str, Any]]


async def repair(memory: AsyncMemory, *, batch_size: int = 64,
                 progress: Progress | None = None) -> RepairReport:
    """Rebuild `memory`'s vector store and graph from its history (see the module)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    expected = await asyncio.to_thread(expected_state, memory.history_store)
    info = await collection_info(memory)
    memory._ready = False  # nothing reads the stores while they are rebuilt
    salvage = await asyncio.to_thread(_open_vectors, memory, info)
    report = RepairReport(vector_store_was_readable=salvage.readable,
                          relations_not_rebuildable=len(expected.unrecorded_relations))
    await _write_memories(memory, expected, salvage, report, batch_size, progress)
    if memory.graph is not None:
        report.graph_was_readable = await asyncio.to_thread(_empty_graph, memory.graph,
                                                            info.dimension)
        report.relations = await _write_relations(memory, expected, batch_size, progress)
    await memory.writer.recover()
    await memory.open()  # runs the check of every open on what was rebuilt
    log.warning("repair rebuilt %d memories and %d relations from the history",
                report.memories + report.kept_from_store, report.relations)
    return report


def _open_vectors(memory: AsyncMemory, info: CollectionInfo) -> _Salvage:
    """Open the vector store, read what it still holds, and empty it; a store whose files
    no longer open is dropped as it is."""
    store = memory.store
    try:
        store.open(info)
        payloads = _all_payloads(store)
    except (EmbeddingMismatchError, StoreLockedError):
        raise  # a wrong embedder or another process: nothing is damaged, nothing to do
    except Exception as exc:  # noqa: BLE001 - damaged files fail in many ways; all rebuilt
        log.warning("the vector store does not open or read (%s): it is rebuilt", exc)
        store.drop()
        store.open(info)
        return _Salvage(False, {})
    store.drop()
    return _Salvage(True, payloads)


def _all_payloads(store: Any) -> dict[str, dict[str, Any]]:
    payloads: dict[str, dict[str, Any]] = {}
    offset: str | None = None
    while True:
        page, offset = store.scroll(None, limit=PAGE, offset=offset)
        payloads.update((hit.id, hit.payload) for hit in page)
        if offset is None:
            return payloads


async def _write_memories(memory: AsyncMemory, expected: Expected, salvage: _Salvage,
                          report: RepairReport, batch_size: int,
                          progress: Progress | None) -> None:
    payloads: dict[str, dict[str, Any]] = {}
    for memory_id, want in expected.memories.items():
        old = salvage.payloads.get(memory_id)
        if not want.recorded:
            report.without_payload += 1
            if old is not None and old.get(DATA) == want.payload[DATA]:
                payloads[memory_id] = old  # the old store still had its metadata
                continue
        payloads[memory_id] = want.payload
    report.memories = len(payloads)
    for memory_id, old in salvage.payloads.items():
        if memory_id not in payloads and old.get(DATA):
            payloads[memory_id] = old
            report.kept_from_store += 1
    ids = list(payloads)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        vectors = await memory.embedder.embed([embedded_text(payloads[i]) for i in chunk],
                                             "document")
        points = [Point(id=i, vector=v, payload=payloads[i],
                        sparse=memory.lexical.document(payloads[i][DATA]))
                  for i, v in zip(chunk, vectors, strict=True)]
        await asyncio.to_thread(memory.store.upsert, points)
        if progress is not None:
            progress("memories", start + len(chunk), len(ids))


def _empty_graph(graph: GraphStore, dimension: int) -> bool:
    """Open the graph and remove this library's nodes; the embedded graph's files, when
    they no longer open, are set aside first. Returns whether it opened as it was."""
    try:
        graph.open(dimension)
    except StoreLockedError:
        raise
    except StoreError as exc:
        set_aside = getattr(graph, "set_aside", None)
        if set_aside is None:  # a server's graph that does not open: not ours to mend
            raise
        log.warning("the embedded graph does not open (%s): its files are set aside", exc)
        set_aside()
        graph.open(dimension)
        return False
    graph.reset()
    return True


async def _write_relations(memory: AsyncMemory, expected: Expected, batch_size: int,
                           progress: Progress | None) -> int:
    graph = memory.graph
    assert graph is not None
    relations = sorted(expected.relations.values(), key=lambda r: r.created_at)
    names = sorted({(end.id, end.name) for r in relations for end in (r.add.source,
                                                                       r.add.target)})
    vectors: dict[tuple[str, str], list[float]] = {}
    for start in range(0, len(names), batch_size):
        chunk = names[start:start + batch_size]
        vectors.update(zip(chunk, await memory.embedder.embed([n for _, n in chunk],
                                                                "document"), strict=True))
    for done, relation in enumerate(relations, 1):
        await asyncio.to_thread(_write_relation, graph, relation, vectors)
        if progress is not None and (done % batch_size == 0 or done == len(relations)):
            progress("relations", done, len(relations))
    return len(relations)


def _write_relation(graph: GraphStore, relation: ExpectedRelation,
                    vectors: dict[tuple[str, str], list[float]]) -> None:
    # one write per relation: `write` stamps what it writes with one time, and each
    # relation keeps the time its history row was recorded
    ends: Sequence[EntityRecord] = (relation.add.source, relation.add.target)
    entities = [EntityRecord(e.id, e.name, e.type, e.scope, vectors[(e.id, e.name)])
                for e in ends]
    graph.write(entities, [relation.add.relation], [], relation.created_at.isoformat())
    if relation.invalidated_at is not None:
        graph.write([], [], [relation.add.relation.id], relation.invalidated_at.isoformat(),
                    ended=relation.valid_to)
