"""`Memory`: the blocking facade over `AsyncMemory`.

It runs the async engine on a private event-loop thread, so it works the same from plain
scripts, threads, and code that already runs an event loop (Jupyter, FastAPI handlers),
and it is thread-safe: every call is serialised onto that loop, where per-scope locks
order concurrent adds. There is one implementation of every method; this file only
forwards to it.

It is also the one bridge onto that loop for code that calls `AsyncMemory` coroutines
itself (the adapters, the server): `Memory.run` / `arun` / `submit`, and `bridge()` for
code that accepts either facade.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeAlias, TypeVar

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import BlockingCallError, MemoryClosedError
from mem_integrations.core.providers.base import ChatModel, Embedder
from mem_integrations.core.stores.base import VectorStore

P = ParamSpec("P")
R = TypeVar("R")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="mem-integrations-loop")
        self.thread.start()

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


def _blocking(method: Callable[Concatenate[AsyncMemory, P], Coroutine[Any, Any, R]]
              ) -> Callable[Concatenate[Memory, P], R]:
    """The blocking twin of an `AsyncMemory` method: same signature, same docstring."""

    @functools.wraps(method)
    def call(self: Memory, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            coro = method(self.async_memory, *args, **kwargs)
        except TypeError as exc:  # a wrong call: name the method the user called
            raise TypeError(str(exc).replace("AsyncMemory.", "Memory.", 1)) from None
        return self.run(coro)

    return call


_blocking_add = _blocking(AsyncMemory.add)


class Memory:
    """Long-term memory for agents (blocking API). See `AsyncMemory` for the details.

    >>> m = Memory()                        # local: embedded Qdrant, SQLite, local embedder
    >>> m.add("I live in Paris", user_id="alice")
    >>> m.search("where does she live?", user_id="alice")
    """

    def __init__(
        self,
        config: MemoryConfig | dict[str, Any] | str | Path | None = None,
        *,
        data_dir: str | Path | None = None,
        chat_model: ChatModel | None = None,
        embedder: Embedder | None = None,
        vector_store: VectorStore | None = None,
    ) -> None:
        self.async_memory = AsyncMemory(config, data_dir=data_dir, chat_model=chat_model,
                                        embedder=embedder, vector_store=vector_store)
        self._loop = _LoopThread()
        self._closed = False
        self._finalizer = weakref.finalize(self, self._loop.stop)

    @classmethod
    def from_config(cls, config: MemoryConfig | dict[str, Any] | str | Path, **parts: Any
                    ) -> Memory:
        """Build from a config dict, a `MemoryConfig`, or a JSON/TOML file path."""
        return cls(config, **parts)

    @property
    def config(self) -> MemoryConfig:
        return self.async_memory.config

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop `async_memory` runs on: its locks and HTTP clients belong to it.
        To run `async_memory` coroutines there, use `run`, `arun` or `submit`."""
        return self._loop.loop

    # --- the bridge onto the engine's loop ---------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Run a coroutine of `async_memory` on its loop and block until it is done.

        Works from any thread but the loop's own, where waiting would deadlock: there it
        raises `BlockingCallError` (await the coroutine, or use `arun`, instead).

        >>> memory.run(memory.async_memory.search("tea", user_id="alice"))
        """
        self._check_not_closed(coro)
        if threading.current_thread() is self._loop.thread:
            coro.close()
            raise BlockingCallError(
                "Memory cannot block on its own event loop (the call would wait for itself): "
                "await the coroutine there, or use `await memory.arun(...)`")
        return asyncio.run_coroutine_threadsafe(coro, self._loop.loop).result()

    async def arun(self, coro: Coroutine[Any, Any, R]) -> R:
        """Await a coroutine of `async_memory` from any event loop without blocking that
        loop: it runs on the engine's loop, and directly when already there."""
        if _running_loop() is self._loop.loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def submit(self, coro: Coroutine[Any, Any, R]) -> concurrent.futures.Future[R]:
        """Start a coroutine of `async_memory` on its loop without waiting for it (from
        any thread, the loop's own included)."""
        self._check_not_closed(coro)
        return asyncio.run_coroutine_threadsafe(coro, self._loop.loop)

    def _check_not_closed(self, coro: Coroutine[Any, Any, Any]) -> None:
        # after close() the loop is gone: asyncio would say "Event loop is closed"
        if self._loop.loop.is_closed():
            coro.close()
            raise MemoryClosedError(
                "this Memory was closed (close(), or the end of its with block): make a new "
                "Memory on the same data_dir to go on")

    def __repr__(self) -> str:
        return repr(self.async_memory).replace("AsyncMemory", "Memory", 1)

    @functools.wraps(AsyncMemory.add)
    def add(self, messages: Any, **arguments: Any) -> Any:
        # non-blocking: kept on this thread, queued on the loop without waiting for it
        if arguments.get("async_mode") is True and not self._loop.loop.is_closed() \
                and threading.current_thread() is not self._loop.thread:
            queued = self.async_memory.queue_from_thread(self._loop.loop, messages,
                                                         **arguments)
            if queued is not None:
                return queued
        return _blocking_add(self, messages, **arguments)

    search = _blocking(AsyncMemory.search)
    get = _blocking(AsyncMemory.get)
    get_all = _blocking(AsyncMemory.get_all)
    update = _blocking(AsyncMemory.update)
    delete = _blocking(AsyncMemory.delete)
    delete_all = _blocking(AsyncMemory.delete_all)
    history = _blocking(AsyncMemory.history)
    reset = _blocking(AsyncMemory.reset)
    repair = _blocking(AsyncMemory.repair)
    open = _blocking(AsyncMemory.open)
    warm_up = _blocking(AsyncMemory.warm_up)
    put_many = _blocking(AsyncMemory.put_many)
    delete_many = _blocking(AsyncMemory.delete_many)
    delete_source = _blocking(AsyncMemory.delete_source)
    users = _blocking(AsyncMemory.users)
    flush = _blocking(AsyncMemory.flush)

    async def aflush(self) -> None:
        """`flush()` awaited from any event loop (the engine's runs it, on its own thread)."""
        await self.arun(self.async_memory.flush())

    pending = _blocking(AsyncMemory.pending)
    reprocess = _blocking(AsyncMemory.reprocess)
    discard = _blocking(AsyncMemory.discard)
    discarded = _blocking(AsyncMemory.discarded)
    scan = _blocking(AsyncMemory.scan)
    vector_search = _blocking(AsyncMemory.vector_search)
    fetch = _blocking(AsyncMemory.fetch)
    export = _blocking(AsyncMemory.export)
    export_jsonl = _blocking(AsyncMemory.export_jsonl)
    import_jsonl = _blocking(AsyncMemory.import_jsonl)

    def close(self) -> None:
        """Flush and release the stores, and stop the loop thread."""
        if not self._closed:
            self._closed = True
            self.run(self.async_memory.close())
            self._finalizer()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- for code that accepts either facade ---------------------------------------------------

AnyMemory: TypeAlias = Memory | AsyncMemory
"""Either facade of the engine: the blocking `Memory` or the async `AsyncMemory`."""


class MemoryBridge(Protocol):
    """Where engine coroutines run, whichever facade an adapter was given (see `bridge`)."""

    @property
    def async_memory(self) -> AsyncMemory:
        """The engine, whose coroutines are passed to the methods below."""

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Block until `coro` is done (sync code)."""

    async def arun(self, coro: Coroutine[Any, Any, R]) -> R:
        """Await `coro` from async code, on any event loop."""

    def submit(self, coro: Coroutine[Any, Any, R]
               ) -> concurrent.futures.Future[R] | asyncio.Task[R]:
        """Start `coro` without waiting for it."""


class _CallersLoop:
    """An `AsyncMemory` behind the bridge: it lives on the caller's event loop, so its
    coroutines are awaited there, and nothing can block on them."""

    def __init__(self, async_memory: AsyncMemory) -> None:
        self.async_memory = async_memory

    def __repr__(self) -> str:
        return repr(self.async_memory)

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        coro.close()
        raise BlockingCallError(
            "this was given an AsyncMemory, which only works from async code: call the async "
            "methods (ainvoke, aexecute, aget...), or pass a Memory for blocking use")

    async def arun(self, coro: Coroutine[Any, Any, R]) -> R:
        return await coro

    def submit(self, coro: Coroutine[Any, Any, R]) -> asyncio.Task[R]:
        loop = _running_loop()
        if loop is None:
            coro.close()
            raise BlockingCallError(
                "background work with an AsyncMemory needs a running event loop: call the "
                "async methods, or pass a Memory")
        return loop.create_task(coro)


def bridge(memory: AnyMemory) -> MemoryBridge:
    """How an adapter that accepts either facade runs engine coroutines.

    A `Memory` is its own bridge (its loop thread owns the engine). An `AsyncMemory` is
    awaited directly on the caller's loop; its `run` raises `BlockingCallError`, since it
    cannot be used from blocking code. Anything else is a `TypeError`.

    >>> on = bridge(memory)
    >>> await on.arun(on.async_memory.search("tea", user_id="alice"))
    """
    if isinstance(memory, Memory):
        return memory
    if isinstance(memory, AsyncMemory):
        return _CallersLoop(memory)
    raise TypeError(f"expected a mem_integrations Memory or AsyncMemory, got "
                    f"{type(memory).__name__}")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
