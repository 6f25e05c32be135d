"""The engine's reads and changes over time and provenance: which memories a read sees
(`read_filter`), a memory's history with its chain of versions (`history_chain`), what a
record change keeps (`carried`), and forgetting one add (`delete_source`).

`core.validity` says what the fields mean and `core.sources` how they are written; this
module is what `AsyncMemory` forwards to, so the engine file stays a list of methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.filters import Condition, FilterNode, all_of, scope_filter
from mem_integrations.core.journal import MemoryDelete, MemoryUpsert, WriteOp
from mem_integrations.core.models import Event, HistoryEntry, MemoryItem, SearchResult, _Result
from mem_integrations.core.records import (
    CONTEXT,
    CONTEXT_ID,
    DATA,
    SOURCE_ADDS,
    SOURCES,
    SUPERSEDED_BY,
    SUPERSEDES,
    VALID_FROM,
    VALID_TO,
    payload_scope,
)
from mem_integrations.core.scope import Scope
from mem_integrations.core.search.dates import Period, named_period
from mem_integrations.core.sources import read_sources, without_add
from mem_integrations.core.turn_context import alone, released
from mem_integrations.core.validation import check_clean_text
from mem_integrations.core.validity import current, event_time, iso, valid_at
from mem_integrations.core.writer import PAGE, Writes

if TYPE_CHECKING:
    from mem_integrations.core.async_memory import AsyncMemory

__all__ = ["SourceDeletion", "as_of_iso", "carried", "delete_source", "history_chain",
           "narrowed", "narrowing", "read_filter", "sourced"]

# what a change of the record (update(), a source removed) keeps of a memory's time and
# provenance (and the turn it answers): it corrects the record, it does not make the fact
# newer
_KEPT = (VALID_FROM, VALID_TO, SUPERSEDED_BY, SUPERSEDES, SOURCES, SOURCE_ADDS, CONTEXT,
         CONTEXT_ID)
MAX_CHAIN = 1000  # versions followed by history(): a loop in damaged data ends here


class SourceDeletion(_Result):
    """What `delete_source` did."""

    message: str
    add_id: str
    deleted: list[str] = Field(default_factory=list,
                               description="Memories that came only from this add: deleted.")
    kept: list[str] = Field(default_factory=list, description="Memories other adds said "
                            "too: kept, this add removed from their sources.")


def read_filter(as_of: Any) -> FilterNode:
    """What a read sees: the memories valid now, or with `as_of` those valid then."""
    moment = event_time(as_of, "as_of")
    return current() if moment is None else valid_at(moment)


def as_of_iso(as_of: Any) -> str | None:
    """`as_of` as the ISO 8601 UTC text the graph compares times in (None: now)."""
    moment = event_time(as_of, "as_of")
    return None if moment is None else iso(moment)


def narrowing(query: str, as_of: Any, narrow_dates: Any) -> Period | None:
    """The period `query` names when `narrow_dates` asks for it (`core.search.dates`),
    relative ones counted from `as_of` or today."""
    if not isinstance(narrow_dates, bool):
        raise InvalidInputError(f"narrow_dates must be True or False, got {narrow_dates!r}")
    if not narrow_dates:
        return None
    today = (event_time(as_of, "as_of") or datetime.now(UTC)).date()
    return named_period(query, today=today)


async def narrowed(search: Callable[[dict[str, Any] | None], Awaitable[SearchResult]],
                   period: Period, filters: dict[str, Any] | None, limit: int) -> SearchResult:
    """A search whose query names `period`: the memories said then come first, in their
    ranking, and the rest of the list is the usual ranking (so a fact told outside the
    period is still found). `search(filters)` runs one search."""
    window = period.said_filters()
    inside = await search({"AND": [filters, window]} if filters else window)
    rest = await search(filters)
    seen = {item.id for item in inside.results}
    merged = [*inside.results, *(item for item in rest.results if item.id not in seen)]
    return SearchResult(results=merged[:limit], relations=rest.relations)


def sourced(item: MemoryItem, payload: dict[str, Any], include: bool) -> MemoryItem:
    """`item` with its sources, when asked for (they stay out of results otherwise, which
    keeps them the size of mem0's)."""
    if include and payload.get(SOURCES):
        item.sources = read_sources(payload)
    return item


def carried(old: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` (a record change of the memory `old`) with `old`'s time and provenance."""
    return {**payload, **{k: old[k] for k in _KEPT if k in old}}


async def history_chain(memory: AsyncMemory, memory_id: str) -> list[HistoryEntry]:
    """The history of `memory_id`, oldest first. An UPDATE keeps the memory's id, so its
    own rows are the chain (ADD Paris, UPDATE Paris -> Berlin); a past version kept by
    that UPDATE shows the chain of the memory that superseded it (its own ADD, which
    only recorded the copy, left out)."""
    ids = [memory_id]
    while len(ids) <= MAX_CHAIN:
        hits = await asyncio.to_thread(memory.store.retrieve, [ids[-1]])
        later = hits[0].payload.get(SUPERSEDED_BY) if hits else None
        if not later or later in ids:
            break
        ids.append(later)
    rows: list[HistoryEntry] = []
    for position, one in enumerate(ids):
        own = await asyncio.to_thread(memory.history_store.history, one)
        past = position < len(ids) - 1
        rows += [e for e in own if not (past and e.event is Event.ADD)]
    rows.sort(key=lambda e: e.created_at)
    return rows


def _count(ids: list[str]) -> str:
    return f"{len(ids)} {'memory' if len(ids) == 1 else 'memories'}"


async def delete_source(memory: AsyncMemory, add_id: Any, within: Scope | None
                        ) -> SourceDeletion:
    """See `AsyncMemory.delete_source`."""
    if not isinstance(add_id, str) or not add_id.strip():
        raise InvalidInputError("add_id must be the id of an add (AddResult.add_id, or a "
                                f"memory's sources[].add_id), got {add_id!r}")
    check_clean_text(add_id, "add_id")
    where = all_of(scope_filter(within.ids()) if within is not None else None,
                   Condition(SOURCE_ADDS, "eq", add_id))
    await memory.open()
    found: list[Any] = []
    offset: str | None = None
    while True:
        page, offset = await asyncio.to_thread(memory.store.scroll, where, limit=PAGE,
                                               offset=offset)
        found += page
        if offset is None:
            break
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for hit in found:
        groups.setdefault(tuple(sorted(payload_scope(hit.payload).items())), []).append(hit.id)
    deleted: list[str] = []
    kept: list[str] = []
    for key, ids in groups.items():
        async with memory.writer.lock(dict(key)):
            # read again under the lock, with vectors: a kept memory is written back whole
            hits = await asyncio.to_thread(memory.store.retrieve, ids, with_vectors=True)
            ops: list[WriteOp] = []
            vectors: dict[str, list[float]] = {}
            for hit in hits:
                if add_id not in (hit.payload.get(SOURCE_ADDS) or []):
                    continue
                rest = without_add(hit.payload, add_id)
                if rest.get(SOURCES):
                    text = hit.payload.get(DATA)
                    ops.append(MemoryUpsert(hit.id, Event.UPDATE, text, rest))
                    vectors[hit.id] = hit.vector or []
                    kept.append(hit.id)
                else:
                    ops.append(MemoryDelete(hit.id, hit.payload.get(DATA)))
                    deleted.append(hit.id)
            gone = {op.memory_id for op in ops if isinstance(op, MemoryDelete)}
            # a kept memory embedded after a deleted one is embedded alone
            unlinked = await alone(memory, [op for op in ops if isinstance(op, MemoryUpsert)
                                            and op.payload.get(CONTEXT_ID) in gone])
            mended = {op.memory_id: op for op in unlinked.ops}
            ops = [mended.get(op.memory_id, op) if isinstance(op, MemoryUpsert) else op
                   for op in ops]
            vectors |= unlinked.vectors
            rewritten = await released(memory, gone, rewriting=vectors)
            await memory.writer.commit(Writes([*ops, *rewritten.ops],
                                              vectors | rewritten.vectors), dict(key))
    past = sum(1 for hit in found if hit.id in deleted and hit.payload.get(VALID_TO))
    message = (f"deleted {_count(deleted)} that came only from add {add_id!r} ({past} of "
               f"them past versions); {_count(kept)} that other adds said too kept, this "
               "add removed from their sources; nothing was derived again")
    return SourceDeletion(message=message, add_id=add_id, deleted=deleted, kept=kept)
