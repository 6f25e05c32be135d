"""What the adapters share (the LangChain ones, the OpenAI-compatible chat wrapper and the
REST chat endpoint), with no framework import: background adds, and reading a scope from
wherever a framework or a request keeps it. (Running engine calls from sync or async code is
`mem_integrations.core.sync_memory.bridge`; rendering is `mem_integrations.rendering`.)

The adapters themselves only translate and call the engine's public API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, cast

from mem_integrations.core.errors import BlockingCallError, InvalidInputError, MissingScopeError
from mem_integrations.core.scope import SCOPE_KEYS

if TYPE_CHECKING:
    from mem_integrations.core.sync_memory import MemoryBridge

log = logging.getLogger(__name__)


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

    @staticmethod
    def wait_for(memory: MemoryBridge, coro: Coroutine[Any, Any, Any],
                 timeout: float | None) -> None:
        """Block until `coro` (an engine coroutine such as `flush()`) has run on the
        engine's loop, at most `timeout` seconds; past it, the coroutine goes on there."""
        try:
            future = memory.submit(coro)
        except BlockingCallError:  # an AsyncMemory outside its loop
            raise RuntimeError("background adds run on an event loop: use "
                               "`await await_all()`") from None
        if not isinstance(future, concurrent.futures.Future):  # a task on this thread's loop
            future.cancel()
            raise RuntimeError("background adds run on an event loop: use `await await_all()`")
        concurrent.futures.wait([future], timeout=timeout)

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


# --- memory around a model call -------------------------------------------------------------

Extraction = Literal["background", "await", "off"]
"""When a turn is remembered: in the background (the reply is not delayed), awaited
before returning (errors propagate), or not at all."""


def check_injection(extraction: str, template: str) -> None:
    """The options every memory-around-a-model-call adapter takes (the LangChain
    middleware, the OpenAI-compatible chat wrapper), checked the same way."""
    if extraction not in ("background", "await", "off"):
        raise InvalidInputError("extraction must be 'background', 'await' or 'off'")
    if "{memories}" not in template:
        raise InvalidInputError("template must contain '{memories}', where the memories go")


# --- at interpreter exit --------------------------------------------------------------------


class Settles(Protocol):
    """What holds turns or adds not yet written (a chat client, an agent memory)."""

    exit_timeout: float

    @property
    def unfinished(self) -> int:
        """How many adds (or buffered turns) are not written yet."""

    def wait(self, timeout: float | None = None) -> None:
        """Write them, waiting up to `timeout` seconds."""


_settling: weakref.WeakSet[Any] = weakref.WeakSet()
_hook_lock = threading.Lock()
_hook_registered = False


def settle_at_exit(owner: Settles) -> None:
    """Let `owner` finish what it has not written yet at interpreter exit.

    Not an `atexit` hook: those run after `concurrent.futures` has stopped every thread
    pool (its own exit hook, registered with `threading._register_atexit`, runs first and
    flags the pools shut down), so an add still in flight would fail at its next
    `asyncio.to_thread` before an `atexit` hook could wait for it. Hooks registered the
    same way run last-in first-out, before that one (imported with asyncio, so always
    registered earlier), while the thread pools and the Memory's loop thread still work."""
    global _hook_registered
    with _hook_lock:
        _settling.add(owner)
        if not _hook_registered:
            threading._register_atexit(_settle_all)
            _hook_registered = True


def _settle_all() -> None:
    deadline = time.monotonic() + max((o.exit_timeout for o in _settling), default=0.0)
    for owner in list(_settling):
        if not owner.unfinished:
            continue
        log.info("waiting for %d background memory add(s) before exit", owner.unfinished)
        # adds that are tasks on a finished event loop cannot be waited for here
        with contextlib.suppress(RuntimeError):
            owner.wait(max(0.0, deadline - time.monotonic()))
        if owner.unfinished:
            log.warning(
                "%d background memory add(s) did not finish before exit; an add the engine "
                "had started is kept as a pending add (memory.pending(), reprocess(id)). Call "
                "wait() / await_all() on %s before exiting.", owner.unfinished,
                type(owner).__name__)
