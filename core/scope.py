"""Scopes: whose memories a call reads or writes (user, agent, run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mem_integrations.core.errors import InvalidInputError, MissingScopeError
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

    def ids(self) -> dict[str, str]:
        """The ids that are set, by key."""
        return {k: v for k, v in (("user_id", self.user_id), ("agent_id", self.agent_id),
                                  ("run_id", self.run_id)) if v is not None}

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.ids().items())
