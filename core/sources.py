"""Provenance: which message of which add a memory came from, and when it was said.

Every add has an id (`AddResult.add_id`, the id its messages were kept under). Each memory
it writes records, in its payload's `sources`, that add, the index and role of the message
the fact came from, the quoted words, and the message's time; `source_adds` lists the add
ids flat so that a filter can select by one (`delete_source`).

The extraction reply may name the quote of each fact; when it does not, or the quote is
not in the messages, the message that shares the most words with the fact is taken — a
choice made without an LLM, so it can be wrong for a fact drawn from several messages.

Timestamps: a message may carry its own (`"timestamp"` in a dict, or in a LangChain /
LlamaIndex message's metadata); `add(timestamp=...)` dates the messages that carry none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from mem_integrations.core.models import Source
from mem_integrations.core.records import SOURCE_ADDS, SOURCES, VALID_FROM
from mem_integrations.core.validity import event_time, iso

__all__ = ["TIMESTAMP", "add_sources", "dated", "locate", "message_time", "read_sources",
           "reference_day", "said_at", "traced", "without_add"]

TIMESTAMP = "timestamp"  # the key of a normalised message's time (ISO 8601, UTC)
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUOTE_CHARS = 500


def dated(messages: list[dict[str, Any]], timestamp: datetime | None) -> list[dict[str, Any]]:
    """The messages, those without a time of their own dated `timestamp`."""
    if timestamp is None:
        return messages
    return [m if m.get(TIMESTAMP) else {**m, TIMESTAMP: iso(timestamp)} for m in messages]


def message_time(message: dict[str, Any]) -> datetime | None:
    return event_time(message.get(TIMESTAMP), "a message's timestamp")


def reference_day(messages: Sequence[dict[str, Any]]) -> date:
    """The day relative dates ("yesterday") count from: the latest message's, else today."""
    times = [t for t in (message_time(m) for m in messages) if t is not None]
    return max(times).date() if times else datetime.now(UTC).date()


def said_at(messages: Sequence[dict[str, Any]], index: int | None) -> datetime | None:
    """When message `index` was said (the latest message's time when unknown)."""
    if index is not None and 0 <= index < len(messages):
        own = message_time(messages[index])
        if own is not None:
            return own
    times = [t for t in (message_time(m) for m in messages) if t is not None]
    return max(times) if times else None


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def locate(text: str, quote: str | None, messages: Sequence[dict[str, Any]]
           ) -> tuple[int | None, str | None]:
    """The message a fact came from and the words quoted: the message holding the
    reply's `quote` verbatim, else the one sharing most words with the fact (its
    whole text, cut at MAX_QUOTE_CHARS); (None, None) when no message shares a word."""
    if quote and quote.strip():
        needle = " ".join(quote.split()).lower()
        for index, message in enumerate(messages):
            if needle in " ".join(str(message.get("content", "")).split()).lower():
                return index, quote.strip()
    wanted = _words(text)
    best, best_overlap = None, 0
    for index, message in enumerate(messages):
        overlap = len(wanted & _words(str(message.get("content", ""))))
        if overlap > best_overlap:  # the first of equals: the earliest message
            best, best_overlap = index, overlap
    if best is None:
        return None, None
    return best, str(messages[best].get("content", "")).strip()[:MAX_QUOTE_CHARS]


def add_sources(payload: dict[str, Any], add_id: str, index: int | None, quote: str | None,
                messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`payload` with one more source: message `index` of add `add_id`."""
    message = messages[index] if index is not None and 0 <= index < len(messages) else {}
    at = said_at(messages, index)
    entry = {"add_id": add_id, "message": index, "role": message.get("role"),
             "actor_id": message.get("name"), "quote": quote,
             "at": iso(at) if at is not None else None}
    entry = {k: v for k, v in entry.items() if v is not None}
    sources = [*payload.get(SOURCES, []), entry]
    return {**payload, SOURCES: sources,
            SOURCE_ADDS: sorted({s["add_id"] for s in sources})}


def without_add(payload: dict[str, Any], add_id: str) -> dict[str, Any]:
    """`payload` with the sources of add `add_id` removed."""
    kept = [s for s in payload.get(SOURCES, []) if s.get("add_id") != add_id]
    out = {k: v for k, v in payload.items() if k not in (SOURCES, SOURCE_ADDS)}
    if kept:
        out[SOURCES] = kept
        out[SOURCE_ADDS] = sorted({s["add_id"] for s in kept})
    return out


def read_sources(payload: dict[str, Any]) -> list[Source]:
    return [Source.model_validate(s) for s in payload.get(SOURCES, [])]


def traced(payload: dict[str, Any], *, add_id: str | None, text: str, quote: str | None,
           messages: Sequence[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """A new memory's payload dated by the message its `text` came from (or `now`, when
    no message is dated) and, for an add with an id, with that message as its source."""
    index, said = locate(text, quote, messages)
    at = said_at(messages, index) or now
    payload = {**payload, VALID_FROM: iso(at)}
    if add_id is None:
        return payload
    return add_sources(payload, add_id, index, said, messages)
