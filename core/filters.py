"""Metadata filters: parsed once from the caller's dict into a small tree, validated with
clear errors, then translated by each store engine.

Syntax (mem0-compatible)::

    {"category": "food"}                               # equality
    {"priority": {"gte": 3}}                           # eq ne in nin gt gte lt lte contains
    {"created_at": {"gte": "2026-01-01T00:00:00Z"}}    # ranges on dates (ISO 8601)
    {"AND": [{...}, {...}]}, {"OR": [...]}, {"NOT": [...]}

Several keys in one dict are ANDed. Keys name a memory's metadata, or one of the built-in
fields (user_id, agent_id, run_id, actor_id, role, categories, memory_type, created_at,
updated_at, and the event time valid_from / valid_to, superseded_by / supersedes,
source_adds: see `core.validity` and `core.sources`). `contains` matches a list element or
words inside a text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mem_integrations.core.errors import FilterError, InvalidInputError
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
    SUPERSEDED_BY,
    SUPERSEDES,
    UPDATED_AT,
    VALID_FROM,
    VALID_TO,
)
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.core.validation import check_json_value

BUILTIN_FIELDS = frozenset({
    *SCOPE_KEYS, ACTOR_ID, ROLE, CATEGORIES, MEMORY_TYPE, CREATED_AT, UPDATED_AT, HASH, DATA,
    VALID_FROM, VALID_TO, SUPERSEDED_BY, SUPERSEDES, SOURCE_ADDS,
})
OPERATORS = frozenset({"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains"})
RANGE_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
LOGICAL = {"AND": "and", "OR": "or", "NOT": "not", "$and": "and", "$or": "or", "$not": "not"}
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")



@dataclass(frozen=True)
class Condition:
    """`field op value`. `field` is the payload path (metadata keys under `metadata.`)."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or" | "not"
    children: tuple[FilterNode, ...]


FilterNode = Condition | Logical


def payload_field(key: str) -> str:
    """Where a filter key lives in the payload."""
    if not key or not set(key) <= _KEY_CHARS or key.startswith(".") or ".." in key:
        raise FilterError(f"invalid filter key {key!r}: use letters, digits, _ - and dots")
    if key in BUILTIN_FIELDS or key.startswith(f"{METADATA}."):
        return key
    return f"{METADATA}.{key}"


def _check_value(key: str, op: str, value: Any) -> Any:
    if op in ("in", "nin"):
        if not isinstance(value, (list, tuple)) or not value:
            raise FilterError(f"{key}: '{op}' needs a non-empty list, got {value!r}")
        kinds = {type(v) for v in value}
        if not (kinds <= {str} or kinds <= {int}):
            raise FilterError(f"{key}: '{op}' takes a list of strings or of integers")
        return list(value)
    if op in RANGE_OPERATORS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, datetime, date)):
            raise FilterError(f"{key}: '{op}' needs a number or an ISO date, got {value!r}")
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise FilterError(f"{key}: '{op}' needs a number or an ISO date, got {value!r}") from exc
        return value
    if op == "contains":
        if not isinstance(value, str) or not value.strip():
            raise FilterError(f"{key}: 'contains' needs a non-empty string")
        return value
    if not isinstance(value, (str, int, bool)):  # eq / ne: floats have no exact match in Qdrant
        raise FilterError(f"{key}: '{op}' needs a string, integer or boolean, got {value!r}")
    return value


def _parse_field(key: str, spec: Any) -> FilterNode:
    path = payload_field(key)
    if isinstance(spec, dict):
        if not spec:
            raise FilterError(f"{key}: empty operator dict")
        parts: list[FilterNode] = []
        for op, value in spec.items():
            op_name = op.lstrip("$") if isinstance(op, str) else op
            if op_name not in OPERATORS:
                raise FilterError(
                    f"{key}: unknown operator {op!r}; use one of {', '.join(sorted(OPERATORS))}"
                )
            parts.append(Condition(path, op_name, _check_value(key, op_name, value)))
        return parts[0] if len(parts) == 1 else Logical("and", tuple(parts))
    if isinstance(spec, (list, tuple)):
        return Condition(path, "in", _check_value(key, "in", spec))
    return Condition(path, "eq", _check_value(key, "eq", spec))


def parse_filters(filters: dict[str, Any] | None) -> FilterNode | None:
    """Validate and parse a filter dict; `FilterError` says exactly what is wrong."""
    if filters is None:
        return None
    if not isinstance(filters, dict):
        raise FilterError(f"filters must be a dict, got {type(filters).__name__}")
    # before the recursive walk below: a filter nested thousands deep would overflow the
    # stack, and an integer beyond 64 bits panics inside the store
    try:
        check_json_value(filters, "filters")
    except InvalidInputError as exc:
        raise FilterError(str(exc)) from None
    return _parse(filters)


def _parse(filters: dict[str, Any]) -> FilterNode | None:
    nodes: list[FilterNode] = []
    for key, spec in filters.items():
        if key in LOGICAL:
            items = spec if isinstance(spec, list) else [spec]
            if not items or not all(isinstance(i, dict) for i in items):
                raise FilterError(f"{key} takes a non-empty list of filter dicts")
            children = tuple(n for n in (_parse(i) for i in items) if n is not None)
            nodes.append(Logical(LOGICAL[key], children))
        elif not isinstance(key, str):
            raise FilterError(f"filter keys must be strings, got {key!r}")
        else:
            nodes.append(_parse_field(key, spec))
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else Logical("and", tuple(nodes))


def all_of(*nodes: FilterNode | None) -> FilterNode | None:
    """AND of the given filters, skipping None."""
    kept = tuple(n for n in nodes if n is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else Logical("and", kept)


def scope_filter(ids: dict[str, str]) -> FilterNode | None:
    return all_of(*(Condition(k, "eq", v) for k, v in ids.items()))
