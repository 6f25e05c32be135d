"""Event time: when a memory was true, apart from when it was stored.

A memory's `valid_from` is when its fact was said — the add's `timestamp`, or the
timestamp of the message it came from — and defaults to when it was stored. When the
reconcile step decides that a later fact changes it (UPDATE) or makes it false (DELETE),
the memory is not overwritten or removed: it is *closed* (`valid_to`, `superseded_by`)
and kept, so that what was true in the past can still be found. An UPDATE adds the new
text as a new memory (`supersedes` names the old one).

Reads see what is valid now unless they ask `as_of` a time. Memories written before
event time existed have no `valid_from`: they count as valid since `created_at`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.filters import Condition, FilterNode, Logical
from mem_integrations.core.records import (
    CREATED_AT,
    SUPERSEDED_BY,
    SUPERSEDES,
    VALID_FROM,
    VALID_TO,
)

__all__ = ["closed", "current", "event_time", "is_current", "iso", "successor", "valid_at"]

# Later than any event time: "valid_to before this" means "closed at all". The filter
# language has no "field is missing", and a range on a missing field matches nothing.
_END_OF_TIME = "9999-12-31T23:59:59+00:00"


def event_time(value: Any, what: str = "timestamp") -> datetime | None:
    """`value` as an aware UTC datetime: a datetime (naive ones are taken as UTC), a
    date (its midnight, UTC), an ISO 8601 string, or Unix seconds (mem0's platform
    spelling). None stays None; anything else is an `InvalidInputError`."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be a datetime, a date, an ISO 8601 string or "
                                f"Unix seconds, got {value!r}")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise InvalidInputError(f"{what} must be a finite number of Unix seconds")
        try:
            moment = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidInputError(f"{what} {value!r} is not a usable Unix time: {exc}") \
                from None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(f"{what} {value!r} is not an ISO 8601 date or time "
                                    "(e.g. '2023-05-08' or '2023-05-08T13:56:00+00:00')") \
                from None
    else:
        raise InvalidInputError(f"{what} must be a datetime, a date, an ISO 8601 string or "
                                f"Unix seconds, got {type(value).__name__}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def current() -> FilterNode:
    """The memories valid now: those never closed."""
    return Logical("not", (Condition(VALID_TO, "lte", _END_OF_TIME),))


def valid_at(moment: datetime) -> FilterNode:
    """The memories that were valid at `moment`: said by then (or, without `valid_from`,
    stored by then) and not closed by then."""
    when = iso(moment)
    began = Logical("or", (
        Condition(VALID_FROM, "lte", when),
        Logical("and", (Logical("not", (Condition(VALID_FROM, "gt", when),)),
                        Condition(CREATED_AT, "lte", when))),
    ))
    return Logical("and", (began, Logical("not", (Condition(VALID_TO, "lte", when),))))


def is_current(payload: dict[str, Any]) -> bool:
    return not payload.get(VALID_TO)


def closed(payload: dict[str, Any], *, at: datetime, by: str | None = None) -> dict[str, Any]:
    """`payload` closed at `at` (never before it began), superseded by the memory `by`
    when a new memory replaces it."""
    began = payload.get(VALID_FROM) or payload.get(CREATED_AT)
    end = iso(at)
    if began and event_time(began, VALID_FROM) > at:  # type: ignore[operator]
        end = began  # a fact said "earlier" than the one it replaces: zero-length validity
    out = {**payload, VALID_TO: end}
    if by is not None:
        out[SUPERSEDED_BY] = by
    return out


def successor(payload: dict[str, Any], predecessor: str) -> dict[str, Any]:
    """`payload` of a new memory that replaces `predecessor`."""
    return {**payload, SUPERSEDES: predecessor}
