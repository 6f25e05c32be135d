"""Typed results that also read as mem0's dicts.

Each `.model_dump()` gives the dict shape mem0 returns, and the results themselves can be
read like those dicts — `r["results"]`, `item["memory"]`, `item.get("metadata", {})`,
`"score" in item`, `dict(item)` — so code written against mem0 keeps working unchanged.
Reading by key gives what mem0's dict holds: times as ISO 8601 strings, events as plain
strings, unset fields absent (`KeyError`, or `.get`'s default).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_serializer


class Event(StrEnum):
    """What an operation did to a memory."""

    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NONE = "NONE"


def _as_mem0(value: Any) -> Any:
    """A field's value as mem0's dicts hold it (nested results stay dict-readable)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list) and value and isinstance(value[0], Source):
        return [v.model_dump(mode="json") for v in value]  # JSON values, as mem0's are
    return value


class _Result(BaseModel):
    """Dumps like mem0's dicts: unset optional fields omitted, events as plain strings;
    and reads like them (the read-only part of the `Mapping` interface)."""

    @model_serializer(mode="wrap")
    def _mem0_shape(self, handler: Any) -> dict[str, Any]:
        return {k: v.value if isinstance(v, Enum) else v
                for k, v in handler(self).items() if v is not None}

    def keys(self) -> list[str]:
        """The keys mem0's dict of this result has (fields that are set)."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]

    def __getitem__(self, key: str) -> Any:
        value = getattr(self, key, None) if isinstance(key, str) else None
        if value is None or key not in type(self).model_fields:
            raise KeyError(key)
        return _as_mem0(value)

    def get(self, key: str, default: Any = None) -> Any:
        """`dict.get`: the value under `key`, or `default` when it is not set."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.keys()

    def values(self) -> list[Any]:
        return [self[key] for key in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self[key]) for key in self.keys()]


class Source(BaseModel):
    """Where a memory came from: one message of one add. (Read by key, a memory's sources
    are plain dicts, so the memory stays JSON-serialisable like mem0's.)"""

    add_id: str = Field(description="The add (`AddResult.add_id`); `delete_source` takes it.")
    message: int | None = Field(default=None, description="The message's index in that add.")
    role: str | None = None
    actor_id: str | None = None
    quote: str | None = Field(default=None, description="The words of the message the fact "
                              "was taken from.")
    at: datetime | None = Field(default=None, description="When the message was said.")

    @model_serializer(mode="wrap")
    def _compact(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class MemoryItem(_Result):
    """One stored memory."""

    id: str
    memory: str
    hash: str | None = None
    metadata: dict[str, Any] | None = None
    categories: list[str] | None = None
    score: float | None = Field(
        default=None, description="Cosine similarity to the query (search results only)."
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    actor_id: str | None = None
    role: str | None = None
    memory_type: str | None = None
    valid_from: datetime | None = Field(
        default=None, description="When the fact became true: when it was said (the add's "
        "`timestamp`, or its message's), else when it was stored.")
    valid_to: datetime | None = Field(
        default=None, description="When a later fact superseded or contradicted it; unset "
        "while it is valid.")
    superseded_by: str | None = Field(default=None, description="The memory that replaced it.")
    supersedes: str | None = Field(default=None, description="The memory it replaced.")
    sources: list[Source] | None = Field(
        default=None, description="The messages it came from (`get`, and `search` with "
        "`include_sources=True`).")


class MemoryEvent(_Result):
    """One change made by `add`."""

    id: str
    memory: str
    event: Event
    previous_memory: str | None = None


class Relation(_Result):
    """An edge of the graph memory (only with graph memory on)."""

    source: str
    relationship: str
    destination: str
    score: float | None = Field(default=None, description="Relevance to the query (search).")
    event: Event | None = Field(default=None, description="ADD or DELETE (add results).")


class AddResult(_Result):
    """What `add` changed."""

    results: list[MemoryEvent] = Field(default_factory=list)
    relations: list[Relation] | None = None
    skipped_images: int | None = Field(
        default=None, description="Images in the messages that were not read (the LLM has "
        "no vision, or infer=False): set only when some were skipped.")
    pending_id: str | None = Field(
        default=None, description="A non-blocking add (async_mode=True): the id of the queued "
        "add, for pending() / reprocess(); results are empty until the worker has run it.")
    status: str | None = Field(
        default=None, description='"queued" for a non-blocking add; unset for a blocking one.')
    add_id: str | None = Field(
        default=None, description="This add's id, which its memories' sources name: "
        "`delete_source(add_id)` removes what only it said.")


class SearchResult(_Result):
    """Ranked memories (and graph relations when the graph is on)."""

    results: list[MemoryItem] = Field(default_factory=list)
    relations: list[Relation] | None = None

    def __iter__(self) -> Iterator[MemoryItem]:  # type: ignore[override]
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


class HistoryEntry(_Result):
    """One change in a memory's history (oldest first)."""

    id: str
    memory_id: str
    event: Event
    old_memory: str | None = None
    new_memory: str | None = None
    created_at: datetime
    is_deleted: bool = False
    actor_id: str | None = None
    role: str | None = None
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None


class PutItem(BaseModel):
    """A memory written verbatim under an id the caller chooses (`put_many`)."""

    id: str = Field(description="A UUID; the same id replaces the memory.")
    text: str
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] | None = None
    memory_type: str | None = None


class MessageResult(_Result):
    """Acknowledgement of update / delete / delete_all / reset (mem0's shape)."""

    message: str
    id: str | None = None
    count: int | None = Field(default=None, description="How many memories were deleted.")


class ScopeSummary(_Result):
    """A scope that holds memories, as listed by `users()`."""

    type: str = Field(description='"user", "agent" or "run"')
    id: str
    total_memories: int


class UsersResult(_Result):
    results: list[ScopeSummary] = Field(default_factory=list)


class PendingAdd(_Result):
    """An `add` whose LLM reply could not be used; its messages are kept for `reprocess`."""

    id: str
    messages: list[dict[str, Any]]
    scope: dict[str, str]
    metadata: dict[str, Any] | None = None
    status: str = Field(description='"queued" (waiting for the worker: a non-blocking add, or '
                        'a kept add retried on open), "processing" (the worker runs it now), '
                        '"failed" (LLM reply unusable), "interrupted" (crash) '
                        'or "discarded" (given up on with discard(); kept as a record)')
    error: str
    created_at: datetime
