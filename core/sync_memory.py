"""`Memory`: the blocking facade over `AsyncMemory`.

It runs the async engine on a private event-loop thread, so it works the same from plain
scripts, threads, and code that already runs an event loop (Jupyter, FastAPI handlers),
and it is thread-safe: every call is serialised onto that loop, where per-scope locks
order concurrent adds. There is one implementation of every method; this file only
forwards to it.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.config import MemoryConfig
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

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("Memory's blocking methods cannot be called from its own loop; "
                               "use AsyncMemory in async code")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

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
        return self._loop.run(method(self.async_memory, *args, **kwargs))

    return call


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
        """The event loop `async_memory` runs on. Integrations that call `async_memory`
        coroutines must run them there (`asyncio.run_coroutine_threadsafe`): its locks
        and HTTP clients belong to that loop."""
        return self._loop.loop

    def __repr__(self) -> str:
        return repr(self.async_memory).replace("AsyncMemory", "Memory", 1)

    add = _blocking(AsyncMemory.add)
    search = _blocking(AsyncMemory.search)
    get = _blocking(AsyncMemory.get)
    get_all = _blocking(AsyncMemory.get_all)
    update = _blocking(AsyncMemory.update)
    delete = _blocking(AsyncMemory.delete)
    delete_all = _blocking(AsyncMemory.delete_all)
    history = _blocking(AsyncMemory.history)
    reset = _blocking(AsyncMemory.reset)
    open = _blocking(AsyncMemory.open)
    put_many = _blocking(AsyncMemory.put_many)
    delete_many = _blocking(AsyncMemory.delete_many)
    users = _blocking(AsyncMemory.users)
    pending = _blocking(AsyncMemory.pending)
    reprocess = _blocking(AsyncMemory.reprocess)

    def close(self) -> None:
        """Flush and release the stores, and stop the loop thread."""
        if not self._closed:
            self._closed = True
            self._loop.run(self.async_memory.close())
            self._finalizer()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
