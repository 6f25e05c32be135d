"""A sweep of the public API's failure modes: every one is a `MemoryLayerError` whose
message says how to fix it (issue 13: "every error is a MemoryLayerError").

Real stores throughout: qdrant-edge and qdrant-client's local mode, a Qdrant URL nothing
listens on, and a second process holding the data directory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import AsyncMemory, Memory
from mem_integrations.core.errors import (
    EmbeddingMismatchError,
    MemoryClosedError,
    MemoryLayerError,
    PendingNotFoundError,
    StoreLockedError,
    StoreUnavailableError,
)
from stress.common import HashEmbedder, memory_config

ENGINES = ["qdrant_edge", "qdrant_client"]


def fails_with(kind: type[MemoryLayerError], call: Callable[[], Any], *fix: str
               ) -> MemoryLayerError:
    """`call` raises `kind` (a MemoryLayerError) and its message holds every word of `fix`."""
    with pytest.raises(kind) as caught:
        call()
    assert isinstance(caught.value, MemoryLayerError)
    message = str(caught.value)
    for words in fix:
        assert words in message, f"{words!r} not in {message!r}"
    return caught.value


@pytest.fixture(params=ENGINES)
def config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    return memory_config(tmp_path / "data", engine=request.param)


@pytest.fixture
def memories() -> Iterator[list[Memory]]:
    made: list[Memory] = []
    yield made
    for memory in made:
        memory.close()


def open_memory(config: dict[str, Any], made: list[Memory], dimension: int = 64) -> Memory:
    memory = Memory(config, embedder=HashEmbedder(dimension))
    made.append(memory)
    return memory


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_store_unreachable(tmp_path: Path, memories: list[Memory]) -> None:
    url = f"http://admin:hunter2@127.0.0.1:{closed_port()}"
    memory = open_memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"},
                          "vector_store": {"url": url}}, memories)
    error = fails_with(StoreUnavailableError,
                       lambda: memory.add("I like tea", user_id="u", infer=False),
                       "cannot reach the Qdrant server at http://admin:***@127.0.0.1",
                       "start it, or fix vector_store.url", "reprocess(")
    assert "hunter2" not in str(error)
    fails_with(StoreUnavailableError, lambda: memory.search("tea", user_id="u"),
               "vector_store.url")
    fails_with(StoreUnavailableError, lambda: memory.get_all(user_id="u"), "vector_store.url")


def test_dimension_mismatch(config: dict[str, Any], memories: list[Memory]) -> None:
    first = open_memory(config, memories)
    first.add("I like tea", user_id="u", infer=False)
    first.close()
    other = open_memory(config, memories, dimension=32)
    fails_with(EmbeddingMismatchError, lambda: other.search("tea", user_id="u"),
               "'stress-hash-64' (64 dimensions)", "Use the original embedder")


def test_memory_used_after_close(config: dict[str, Any], memories: list[Memory]) -> None:
    memory = open_memory(config, memories)
    memory.add("I like tea", user_id="u", infer=False)
    memory.close()
    for call in (lambda: memory.search("tea", user_id="u"),
                 lambda: memory.add("I like coffee", user_id="u", infer=False),
                 memory.pending, lambda: memory.discard("abc")):
        fails_with(MemoryClosedError, call, "make a new Memory")


def test_async_memory_used_after_close(config: dict[str, Any]) -> None:
    async def scenario() -> None:
        memory = AsyncMemory(config, embedder=HashEmbedder())
        await memory.add("I like tea", user_id="u", infer=False)
        await memory.close()
        for call in (memory.search("tea", user_id="u"), memory.pending(),
                     memory.add("I like coffee", user_id="u", infer=False)):
            with pytest.raises(MemoryClosedError, match="make a new Memory / AsyncMemory"):
                await call

    asyncio.run(scenario())


def test_two_memories_on_one_directory_in_this_process(config: dict[str, Any],
                                                       memories: list[Memory]) -> None:
    first = open_memory(config, memories)
    first.add("I like tea", user_id="u", infer=False)
    # qdrant-client's local mode opens its files when built, qdrant-edge on first use
    fails_with(StoreLockedError, lambda: open_memory(config, memories).search("tea", user_id="u"),
               f"already open in this process (pid {os.getpid()})", "close() it")
    # nothing was taken from the first, and once it is closed another opens
    assert [m.memory for m in first.get_all(user_id="u").results] == ["I like tea"]
    first.close()
    again = open_memory(config, memories)
    assert [m.memory for m in again.get_all(user_id="u").results] == ["I like tea"]


def _hold(config: dict[str, Any], ready: Any, done: Any) -> None:
    memory = Memory(config, embedder=HashEmbedder())
    memory.open()
    ready.set()
    done.wait(60)
    memory.close()


def test_directory_locked_by_another_process(config: dict[str, Any],
                                             memories: list[Memory]) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(config, ready, done))
    holder.start()
    try:
        assert ready.wait(60), "the holding process did not open the memory"
        built: list[Memory] = []

        def add() -> None:
            built.append(open_memory(config, memories))
            built[0].add("I like tea", user_id="u", infer=False)

        fails_with(StoreLockedError, add, f"open in another process (pid {holder.pid})",
                   "stop that process")
        # the add was refused whole: nothing kept, nothing lost
        assert all(m.pending() == [] for m in built)
    finally:
        done.set()
        holder.join(60)
    assert holder.exitcode == 0
    memory = open_memory(config, memories)  # the lock went with the process
    memory.add("I like tea", user_id="u", infer=False)
    assert len(memory.get_all(user_id="u").results) == 1


def test_unknown_pending_id(config: dict[str, Any], memories: list[Memory]) -> None:
    memory = open_memory(config, memories)
    for call in (lambda: memory.reprocess("nope"), lambda: memory.discard("nope")):
        fails_with(PendingNotFoundError, call, "pending() (or `mem-integrations pending`) lists")
