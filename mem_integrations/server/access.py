"""Who a request is, and what its key lets it touch: shared by the REST and MCP servers.

`Authenticator.authenticate(token)` turns the key a request sent into a `Caller` (or
raises `Unauthenticated` / `RateLimited`); the caller then decides every call's scope:

* `scope_for(...)` for calls that name a scope (add, list, search, delete all, chat): a
  key bound to a user or an agent fills in its id and refuses another (`AccessDeniedError`,
  403); a tenant key needs a user id with its prefix; an admin key passes what was sent.
* `by_id_scope()` for calls by memory id: the ids the core must check the memory against
  (`get(id, user_id=...)`), so another scope's id is answered as an unknown one.
* `owns(...)` / `sees(...)` to filter listings (pending adds, users).

Keys come from the key store (`server.keys`, bound to scopes) and from the single legacy
key option (`api_key=` / `MEMINT_API_KEY` / `--api-key`), which keeps working as an admin
key. A server with neither is open, and every caller is admin.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mem_integrations.core.errors import MemoryLayerError
from mem_integrations.server.keys import KeyBinding, KeyStore
from mem_integrations.server.security import APIKeys

__all__ = ["AccessDeniedError", "Authenticator", "Caller", "RateLimited", "RateLimiter",
           "Unauthenticated"]

LEGACY_KEY_ID = "legacy"
_ADMIN = KeyBinding(admin=True)


class AccessDeniedError(MemoryLayerError):
    """The request's API key does not allow it: another scope than the key is bound to,
    or an admin-only operation (`reset`) with a scoped key. HTTP 403."""


class Unauthenticated(MemoryLayerError):
    """No API key, or one that is unknown or revoked. HTTP 401."""

    def __init__(self) -> None:
        super().__init__("missing or invalid API key: send it as the X-API-Key header or as "
                         "Authorization: Bearer <key>")


class RateLimited(MemoryLayerError):
    """The key sent more requests than its rate limit allows. HTTP 429."""

    def __init__(self, per_minute: float, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"rate limit of {per_minute:g} requests per minute exceeded for this "
                         f"API key: retry after {self.retry_after} s, or ask for a higher "
                         "limit (`mem-integrations keys create --rate-limit`)")


@dataclass(frozen=True)
class Caller:
    """The key behind a request: its id and binding (see the module's docstring)."""

    key_id: str
    binding: KeyBinding
    rate_limit: float | None = None

    @property
    def admin(self) -> bool:
        return self.binding.admin

    def scope_for(self, operation: str, *, user_id: str | None = None,
                  agent_id: str | None = None, run_id: str | None = None
                  ) -> dict[str, str | None]:
        """The scope ids a call that names a scope runs with (see the module)."""
        bound = self.binding
        if bound.user_id is not None:
            user_id = self._same("user_id", user_id, bound.user_id, operation)
        elif bound.agent_id is not None:
            agent_id = self._same("agent_id", agent_id, bound.agent_id, operation)
        elif bound.tenant is not None and not (isinstance(user_id, str)
                                               and user_id.startswith(bound.tenant)):
            raise AccessDeniedError(
                f"{operation}: this API key is bound to tenant {bound.tenant!r}: pass a "
                f"user_id that starts with {bound.tenant!r}")
        return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}

    @staticmethod
    def _same(key: str, given: str | None, bound: str, operation: str) -> str:
        if given is not None and given != bound:
            raise AccessDeniedError(f"{operation}: this API key is bound to {key}={bound!r}; "
                                    f"leave {key} out or pass that one")
        return bound

    def by_id_scope(self) -> dict[str, str] | None:
        """The scope ids to pass to the core's calls by memory id: the key's user or agent,
        {} for an admin key, None for a tenant key (whose prefix the core cannot check:
        the server looks up the memory's owner and checks `owns`)."""
        bound = self.binding
        if bound.user_id is not None:
            return {"user_id": bound.user_id}
        if bound.agent_id is not None:
            return {"agent_id": bound.agent_id}
        return {} if bound.admin else None

    def owns(self, owner: Mapping[str, Any] | object) -> bool:
        """Whether this key may touch what belongs to `owner` (scope ids by key, or an
        object with `user_id` / `agent_id` attributes)."""
        def id_of(key: str) -> Any:
            return owner.get(key) if isinstance(owner, Mapping) else getattr(owner, key, None)

        bound = self.binding
        if bound.admin:
            return True
        if bound.user_id is not None:
            return id_of("user_id") == bound.user_id
        if bound.agent_id is not None:
            return id_of("agent_id") == bound.agent_id
        user_id = id_of("user_id")
        return isinstance(user_id, str) and user_id.startswith(bound.tenant or "")

    def sees(self, kind: str, scope_id: str) -> bool:
        """Whether `users()` shows this key the scope `kind` ("user", "agent", "run")
        `scope_id`: an admin key sees all; a scoped key only its own user, agent or
        tenant's users (never runs or agents it cannot tell are its own)."""
        return self.admin or self.owns({f"{kind}_id": scope_id})

    def require_admin(self, operation: str) -> None:
        if not self.admin:
            raise AccessDeniedError(f"{operation} needs an admin API key; this key is bound "
                                    f"to {self.binding}")


class RateLimiter:
    """A token bucket per key: up to `per_minute` requests at once, refilled at
    `per_minute` a minute. `clock` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, when)
        self._lock = threading.Lock()  # the MCP and REST apps may run on other threads

    def take(self, key_id: str, per_minute: float) -> None:
        """Spend one request of `key_id`'s budget; `RateLimited` when there is none."""
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (per_minute, now))
            tokens = min(per_minute, tokens + (now - then) * per_minute / 60)
            if tokens < 1:
                self._buckets[key_id] = (tokens, now)
                raise RateLimited(per_minute, (1 - tokens) * 60 / per_minute)
            self._buckets[key_id] = (tokens - 1, now)


class Authenticator:
    """The keys a server accepts: the legacy admin key(s) and the key store, with a rate
    limit per key (the key's own, else `rate_limit` requests per minute; None: none)."""

    def __init__(self, legacy: APIKeys, store: KeyStore | None = None, *,
                 rate_limit: float | None = None,
                 limiter: RateLimiter | None = None) -> None:
        if rate_limit is not None and not rate_limit > 0:
            raise ValueError("rate_limit is requests per minute: a positive number, or None")
        self.legacy, self.store, self.rate_limit = legacy, store, rate_limit
        self.limiter = limiter or RateLimiter()

    @property
    def enabled(self) -> bool:
        """Whether a key is required: a legacy key is set or the key file exists."""
        return self.legacy.enabled or (self.store is not None and self.store.exists)

    def authenticate(self, token: str | None) -> Caller:
        """The caller `token` identifies, after its rate limit; raises `Unauthenticated`
        or `RateLimited`. An open server (no keys at all) makes everyone admin."""
        if not self.enabled:
            return Caller("anonymous", _ADMIN)
        caller = self._identify(token)
        limit = caller.rate_limit or self.rate_limit
        if limit is not None:
            self.limiter.take(caller.key_id, limit)
        return caller

    def _identify(self, token: str | None) -> Caller:
        stored = self.store.authenticate(token) if self.store is not None else None
        if stored is not None:
            return Caller(stored.id, stored.binding, stored.rate_limit)
        if self.legacy.enabled and self.legacy.check(token):
            return Caller(LEGACY_KEY_ID, _ADMIN)
        raise Unauthenticated()
