"""Scopes: whose memories a call reads or writes (user, agent, run)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryOutOfScopeError,
    MissingScopeError,
)
from mem_integrations.core.validation import check_clean_text

SCOPE_KEYS: tuple[str, ...] = ("user_id", "agent_id", "run_id")
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class Scope:
    """The scope ids of a call. Every set id must match; unset ids match anything."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    @classmethod
    def of(
        cls,
        operation: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Scope:
        """Validate the ids of a call; at least one is required."""
        for key, value in (("user_id", user_id), ("agent_id", agent_id), ("run_id", run_id)):
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(f"{key} must be a non-empty string, got {value!r}")
            if len(value) > MAX_ID_CHARS:
                raise InvalidInputError(f"{key} is {len(value)} characters long; scope ids "
                                        f"are at most {MAX_ID_CHARS}")
            check_clean_text(value, key)
        scope = cls(user_id=user_id, agent_id=agent_id, run_id=run_id)
        if not scope.ids():
            raise MissingScopeError(operation)
        return scope

    @classmethod
    def of_call(cls, operation: str, *, user_id: str | None = None, agent_id: str | None = None,
                run_id: str | None = None, filters: dict[str, Any] | None = None
                ) -> tuple[Scope, dict[str, Any] | None]:
        """The scope of a read, and the filters left once the scope ids given inside
        `filters` (mem0 2.x's spelling: `filters={"user_id": "alice"}`) are taken out.
        An id given both ways must agree: filters can only narrow a scope, never widen
        or change it."""
        if not isinstance(filters, dict):
            return cls.of(operation, user_id=user_id, agent_id=agent_id, run_id=run_id), filters
        explicit = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        rest = dict(filters)
        for key in SCOPE_KEYS:
            inside = rest.get(key)
            if not isinstance(inside, str):
                continue  # an operator filter on the field ({"in": [...]}) narrows as a filter
            if explicit[key] is not None and explicit[key] != inside:
                raise InvalidInputError(
                    f"{key}={explicit[key]!r} and filters={{{key!r}: {inside!r}}} name "
                    f"different scopes; give the id once")
            explicit[key] = rest.pop(key)
        return cls.of(operation, **explicit), rest or None

    @classmethod
    def within(cls, operation: str, *, user_id: str | None = None,
               agent_id: str | None = None, run_id: str | None = None) -> Scope | None:
        """The scope a call by memory id (`get`, `update`, `delete`, `history`) is limited
        to, or None when it names no scope id (any memory, as mem0 does)."""
        if user_id is None and agent_id is None and run_id is None:
            return None
        return cls.of(operation, user_id=user_id, agent_id=agent_id, run_id=run_id)

    def check_owner(self, memory_id: str, owner: Mapping[str, Any] | object) -> None:
        """Raise `MemoryOutOfScopeError` unless the memory whose scope ids are `owner` (a
        payload, or a record with `user_id`... attributes) lies within this scope."""
        def id_of(key: str) -> Any:
            return owner.get(key) if isinstance(owner, Mapping) else getattr(owner, key, None)

        if any(id_of(key) != value for key, value in self.ids().items()):
            raise MemoryOutOfScopeError(memory_id, str(self))

    def ids(self) -> dict[str, str]:
        """The ids that are set, by key."""
        return {k: v for k, v in (("user_id", self.user_id), ("agent_id", self.agent_id),
                                  ("run_id", self.run_id)) if v is not None}

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.ids().items())
