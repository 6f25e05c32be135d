"""What every LangChain adapter shares: running engine calls from sync or async code,
background adds, reading a scope from wherever the framework keeps it, and rendering
memories for a prompt.

The adapters themselves only translate and call the engine's public API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, TypedDict, TypeVar, cast

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.errors import MissingScopeError
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.core.sync_memory import Memory

log = logging.getLogger(__name__)

T = TypeVar("T")
AnyMemory = Memory | AsyncMemory


class Engine:
    """Runs `AsyncMemory` coroutines on the event loop that owns the engine.

    A `Memory` owns a private loop thread: its coroutines must run there (its locks and
    HTTP clients belong to that loop), whether the caller is blocking code or another
    event loop. An `AsyncMemory` lives on the caller's loop, so it can only be used from
    async code.
    """

    def __init__(self, memory: AnyMemory) -> None:
        if isinstance(memory, Memory):
            self.memory: AnyMemory = memory
            self.core: AsyncMemory = memory.async_memory
            self._loop: asyncio.AbstractEventLoop | None = memory.loop
        elif isinstance(memory, AsyncMemory):
            self.memory = memory
            self.core = memory
            self._loop = None
        else:
            raise TypeError(
                f"expected a mem_integrations Memory or AsyncMemory, got {type(memory).__name__}"
            )

    def _on_own_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Block until `coro` is done (sync code paths)."""
        if self._loop is None:
            coro.close()
            raise TypeError(
                "this adapter was given an AsyncMemory, which only works from async code "
                "(ainvoke / astream / the a* methods); pass a Memory for blocking use"
            )
        if self._on_own_loop():
            coro.close()
            raise RuntimeError("cannot block on Memory from its own event loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` from any event loop without blocking it."""
        if self._loop is None or self._on_own_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T] | asyncio.Task[T]:
        """Start `coro` without waiting for it."""
        if self._loop is not None:
            return asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            raise TypeError(
                "background work with an AsyncMemory needs a running event loop; use the "
                "async methods, or pass a Memory"
            ) from None
        return loop.create_task(coro)

    async def ensure_open(self) -> None:
        """Open the stores (and replay the journal) before reading them directly."""
        await self.core.open()


class Background:
    """Adds started without waiting. Failures are logged (the engine keeps the messages of
    a failed add as a pending add); `wait()` / `await_all()` let callers and tests settle."""

    def __init__(self) -> None:
        self._pending: set[concurrent.futures.Future[Any] | asyncio.Task[Any]] = set()
        self._lock = threading.Lock()

    def track(self, future: concurrent.futures.Future[Any] | asyncio.Task[Any], what: str
              ) -> None:
        with self._lock:
            self._pending.add(future)

        def done(f: Any) -> None:
            with self._lock:
                self._pending.discard(f)
            if f.cancelled():
                return
            error = f.exception()
            if error is not None:
                log.warning("background %s failed: %s", what, error)

        future.add_done_callback(done)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def wait(self, timeout: float | None = None) -> None:
        """Block until every background add started so far has finished."""
        with self._lock:
            pending = list(self._pending)
        threads = [f for f in pending if isinstance(f, concurrent.futures.Future)]
        if len(threads) != len(pending):
            raise RuntimeError("background adds run on an event loop: use `await await_all()`")
        concurrent.futures.wait(threads, timeout=timeout)

    async def await_all(self) -> None:
        """Await every background add started so far (from any event loop)."""
        with self._lock:
            pending = list(self._pending)
        awaitables: list[Awaitable[Any]] = [
            asyncio.wrap_future(f) if isinstance(f, concurrent.futures.Future) else f
            for f in pending
        ]
        if awaitables:
            await asyncio.gather(*awaitables, return_exceptions=True)


# --- scopes ----------------------------------------------------------------------------------


class ScopeIds(TypedDict, total=False):
    """The scope keyword arguments of the engine's methods (`**scope` into add/search)."""

    user_id: str
    agent_id: str
    run_id: str



def scope_of(source: Any) -> ScopeIds:
    """The scope ids held by a mapping (a config's "configurable", a context dict) or an
    object with attributes (a dataclass or pydantic runtime context)."""
    if source is None:
        return {}
    found: dict[str, str] = {}
    for key in SCOPE_KEYS:
        value = source.get(key) if isinstance(source, Mapping) else getattr(source, key, None)
        if isinstance(value, str) and value.strip():
            found[key] = value
    return cast(ScopeIds, found)


def merge_scopes(*sources: ScopeIds | None) -> ScopeIds:
    """Per scope key, the first source (highest precedence first) that sets it."""
    merged: dict[str, object] = {}
    for source in sources:
        for key, value in (source or {}).items():
            merged.setdefault(key, value)
    return cast(ScopeIds, merged)


def require_scope(scope: ScopeIds, operation: str) -> ScopeIds:
    if not scope:
        raise MissingScopeError(operation)
    return scope


def fixed_scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> ScopeIds:
    return cast(ScopeIds, {k: v for k, v in (("user_id", user_id), ("agent_id", agent_id),
                                             ("run_id", run_id)) if v})


def configurable_of(config: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict((config or {}).get("configurable") or {})
