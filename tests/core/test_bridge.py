"""The one bridge onto the engine's loop: `Memory.run` / `arun` / `submit`, and `bridge()`
for adapters that accept either facade."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import AsyncMemory, BlockingCallError, Memory, MemoryLayerError
from mem_integrations.core.sync_memory import bridge
from stress.common import HashEmbedder

OFFLINE: dict[str, Any] = {"llm": {"provider": "offline"}}


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    with Memory({**OFFLINE, "data_dir": str(tmp_path)}, embedder=HashEmbedder()) as memory:
        yield memory


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_run_blocks_from_any_thread_on_the_engines_loop(memory: Memory) -> None:
    memory.add("Lives in Paris", user_id="alice", infer=False)
    assert memory.run(running_loop()) is memory.loop
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(lambda _: memory.run(memory.async_memory.get_all(user_id="alice")),
                              range(4)))
    assert [[m.memory for m in page] for page in found] == [["Lives in Paris"]] * 4


def test_blocking_on_its_own_loop_is_a_clear_error(memory: Memory) -> None:
    async def on_the_loop() -> list[str]:
        coro = memory.async_memory.users()
        with pytest.raises(BlockingCallError, match="own event loop"):
            memory.run(coro)
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # never left dangling
        # arun there awaits directly instead of deadlocking on itself
        return (await memory.arun(memory.async_memory.users())).results

    assert memory.submit(on_the_loop()).result() == []
    assert issubclass(BlockingCallError, MemoryLayerError)
    assert issubclass(BlockingCallError, RuntimeError)


async def test_arun_from_another_event_loop(memory: Memory) -> None:
    assert asyncio.get_running_loop() is not memory.loop
    assert await memory.arun(running_loop()) is memory.loop
    await memory.arun(memory.async_memory.add("Likes green tea", user_id="bob", infer=False))
    found = await asyncio.gather(*[memory.arun(memory.async_memory.search("tea", user_id="bob"))
                                   for _ in range(3)])
    assert [[m.memory for m in result] for result in found] == [["Likes green tea"]] * 3


def test_submit_starts_without_waiting(memory: Memory) -> None:
    future = memory.submit(running_loop())
    assert isinstance(future, concurrent.futures.Future)
    assert future.result() is memory.loop


def test_a_memory_is_its_own_bridge(memory: Memory) -> None:
    assert bridge(memory) is memory


async def test_an_async_memory_is_awaited_on_the_callers_loop(tmp_path: Path) -> None:
    async with AsyncMemory({**OFFLINE, "data_dir": str(tmp_path)},
                           embedder=HashEmbedder()) as engine:
        on = bridge(engine)
        assert on.async_memory is engine
        here = asyncio.get_running_loop()
        assert await on.arun(running_loop()) is here
        task = on.submit(running_loop())
        assert isinstance(task, asyncio.Task) and await task is here

        coro = engine.users()
        with pytest.raises(BlockingCallError, match="pass a Memory"):
            on.run(coro)
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_background_work_on_an_async_memory_needs_a_running_loop(tmp_path: Path) -> None:
    on = bridge(AsyncMemory({**OFFLINE, "data_dir": str(tmp_path)}, embedder=HashEmbedder()))
    coro = running_loop()
    with pytest.raises(BlockingCallError, match="running event loop"):
        on.submit(coro)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError, match="Memory or AsyncMemory"):
        bridge({"not": "a memory"})  # type: ignore[arg-type]
