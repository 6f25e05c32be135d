"""Turn context: a conversation turn stored verbatim is embedded after the turn before it.

Turns stored as they were said often make sense only next to the turn they answer:
"Yes, last week! The kids loved it." holds none of the words of "When did Melanie go to
the beach?", the turn before it does. Embedding "previous turn\\nthis turn" puts that
context into the reply's vector, so the question finds the reply. On the LOCOMO dev
split (benchmarks/RESULTS.md, section 9) it is the largest single gain of the ranking
work, and it lifts every question category.

Only the embedded text changes: the memory's text, hash, lexical index and what users
read stay the turn's own. The previous turn's text and id are kept in the payload
(`CONTEXT`, `CONTEXT_ID`), so a crash replay or a repair embeds the same text again, and
so that deleting the previous turn rewrites this one: a forgotten text must not live on
inside another memory's vector.

Which turn comes before: in an `add(..., infer=False)` of several messages, the message
before it in that call when the other side said it (another role or name: a user's
messages in a row are separate statements); in `put_many`, the item of the same batch
and scope one position earlier in the same thread (metadata `search.ranking.thread_key`
/ `position_key`, as the neighbour step reads them). Memories written one at a time,
and facts extracted by the LLM (which are written to stand alone), are embedded as they
are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mem_integrations.core.filters import Condition
from mem_integrations.core.journal import MemoryUpsert
from mem_integrations.core.models import Event
from mem_integrations.core.records import CONTEXT, CONTEXT_ID, DATA, embedded_text
from mem_integrations.core.writer import PAGE, Writes

if TYPE_CHECKING:
    from mem_integrations.core.async_memory import AsyncMemory

__all__ = ["alone", "predecessors", "released", "thread_place", "with_context",
           "without_context"]


def with_context(payload: dict[str, Any], previous_id: str, previous_text: str
                 ) -> dict[str, Any]:
    return {**payload, CONTEXT: previous_text, CONTEXT_ID: previous_id}


def without_context(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in (CONTEXT, CONTEXT_ID)}


def thread_place(metadata: Mapping[str, Any] | None, thread_key: str, position_key: str
                 ) -> tuple[str, int] | None:
    """A turn's (thread, position) from its metadata, or None when it has no such place."""
    thread = (metadata or {}).get(thread_key)
    position = (metadata or {}).get(position_key)
    if thread is None or not isinstance(position, int) or isinstance(position, bool):
        return None
    return str(thread), position


def predecessors(items: Sequence[tuple[str, tuple[Any, ...], Mapping[str, Any] | None]], *,
                 thread_key: str, position_key: str) -> dict[str, str]:
    """For items (id, scope key, metadata) written together: item id -> the id of the item
    one position earlier in the same thread and scope, where the batch has it."""
    placed = [(memory_id, scope, place) for memory_id, scope, metadata in items
              if (place := thread_place(metadata, thread_key, position_key)) is not None]
    at = {(scope, place): memory_id for memory_id, scope, place in placed}
    return {memory_id: before for memory_id, scope, (thread, position) in placed
            if (before := at.get((scope, (thread, position - 1))))}


async def alone(memory: AsyncMemory, upserts: Sequence[MemoryUpsert]) -> Writes:
    """`upserts` without their turn context, each embedded alone."""
    rewritten = [MemoryUpsert(op.memory_id, op.event, op.old_text, without_context(op.payload))
                 for op in upserts]
    if not rewritten:
        return Writes([])
    vectors = await memory.embedder.embed([embedded_text(op.payload) for op in rewritten],
                                          "document")
    return Writes(list(rewritten), {op.memory_id: v
                                   for op, v in zip(rewritten, vectors, strict=True)})


async def released(memory: AsyncMemory, deleted: Collection[str], *,
                   rewriting: Collection[str] = ()) -> Writes:
    """The memories (current or past versions) embedded after one of `deleted`, neither
    deleted nor in `rewriting` (written by the same commit, which drops their context
    itself), rewritten without that context and embedded alone: what goes in the same
    commit as the deletes, under their scope's lock (a turn's context is always a new
    turn of its own scope)."""
    where = Condition(CONTEXT_ID, "in", list(deleted))
    hits, offset = [], None
    while True:
        page, offset = await asyncio.to_thread(memory.store.scroll, where, limit=PAGE,
                                               offset=offset)
        hits.extend(h for h in page if h.id not in deleted and h.id not in rewriting)
        if offset is None:
            break
    return await alone(memory, [MemoryUpsert(h.id, Event.UPDATE, h.payload.get(DATA), h.payload)
                                for h in hits])
