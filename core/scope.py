"""Scopes: whose memories a call reads or writes (user, agent, run)."""

from __future__ import annotations

from dataclasses import dataclass

from mem_integrations.core.errors import InvalidInputError, MissingScopeError

SCOPE_KEYS: tuple[str, ...] = ("user_id", "agent_id", "run_id")


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
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidInputError(f"{key} must be a non-empty string, got {value!r}")
        scope = cls(user_id=user_id, agent_id=agent_id, run_id=run_id)
        if not scope.ids():
            raise MissingScopeError(operation)
        return scope

    def ids(self) -> dict[str, str]:
        """The ids that are set, by key."""
        return {k: v for k, v in (("user_id", self.user_id), ("agent_id", self.agent_id),
                                  ("run_id", self.run_id)) if v is not None}

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.ids().items())
