"""Non-blocking adds (`add(..., async_mode=True)`): the call returns with the pending id
once the messages are kept; the queue runs in the engine's loop, in order within a scope
and concurrently across scopes; `pending()` shows it, `flush()` waits for it; a SIGKILL
while it is full loses nothing and the next open runs every queued add exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import AsyncMemory, InvalidInputError, Memory
from mem_integrations.testing import ScriptedLLMServer
from tests.reliability.support import schema_name, sensible_llm


def extractions(llm: ScriptedLLMServer) -> list[str]:
    """The transcripts of the extraction calls, in the order the server got them (without
    the KNOWN memories a single-call extraction also shows)."""
    return [c.user.split("\n\nKNOWN:\n")[0] for c in llm.calls
            if schema_name(c.body) == "extraction"]


def test_an_async_add_returns_the_pending_id_and_flush_runs_it(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    memory.open()
    llm.responder = sensible_llm
    gate = threading.Event()
    released = llm.responder

    def held(body: dict[str, Any]) -> Any:
        gate.wait(30)  # the worker waits on the LLM while the caller looks at the queue
        return released(body)

    llm.responder = held
    result = memory.add("I live in Oslo.", user_id="alice", async_mode=True)
    assert result.status == "queued" and result.pending_id and result.results == []
    assert result["status"] == "queued"  # mem0's dict reading
    [kept] = memory.pending()
    assert kept.id == result.pending_id and kept.status in ("queued", "processing")
    assert kept.messages == [{"role": "user", "content": "I live in Oslo."}]
    gate.set()
    memory.flush()
    assert memory.pending() == []
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["I live in Oslo"]


def test_one_scope_runs_in_order_and_scopes_run_concurrently(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    memory.open()
    in_flight: list[int] = [0]
    most: list[int] = [0]
    lock = threading.Lock()
    both_in = threading.Barrier(2, timeout=30)

    def counting(body: dict[str, Any]) -> Any:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            if schema_name(body) == "extraction" and "first" in str(body):
                both_in.wait()  # alice's and bob's first adds are at the LLM together
            return sensible_llm(body)
        finally:
            with lock:
                in_flight[0] -= 1

    llm.responder = counting
    for user in ("alice", "bob"):
        memory.add(f"{user} said first.", user_id=user, async_mode=True)
        memory.add(f"{user} lives in Oslo.", user_id=user, async_mode=True)
        memory.add(f"{user} lives in Rome.", user_id=user, async_mode=True)
    memory.flush()
    assert most[0] >= 2
    for user in ("alice", "bob"):
        mine = [t for t in extractions(llm) if f"{user} " in t]
        assert [t.split(": ", 1)[1] for t in mine] == [
            f"{user} said first.", f"{user} lives in Oslo.", f"{user} lives in Rome."]
        # in order: the move to Rome updated Oslo, it was not overwritten by it
        assert sorted(m.memory for m in memory.get_all(user_id=user)) == [
            f"{user} lives in Rome", f"{user} said first"]
    assert memory.pending() == []


# an open memory keeps and queues a non-blocking add on the caller's thread (the first
# call opens it on the engine's loop)
@pytest.mark.parametrize("opened", [False, True], ids=["first call", "open"])
def test_a_blocking_add_comes_after_the_scope_s_queued_adds(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer, opened: bool) -> None:
    memory = make_memory()
    if opened:
        memory.open()
    llm.responder = sensible_llm
    memory.add("Alice lives in Oslo.", user_id="alice", async_mode=True)
    memory.add("Alice lives in Rome.", user_id="alice")
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["Alice lives in Rome"]


@pytest.mark.parametrize("opened", [False, True], ids=["first call", "open"])
def test_bad_input_is_refused_before_anything_is_queued(
        make_memory: Callable[..., Memory], opened: bool) -> None:
    memory = make_memory()
    if opened:
        memory.open()
    with pytest.raises(InvalidInputError, match="async_mode must be True"):
        memory.add("I live in Oslo.", user_id="alice", async_mode="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        memory.add("", user_id="alice", async_mode=True)
    assert memory.pending() == []


def test_an_async_memory_awaits_aflush(tmp_path: Path, embedder: Any,
                                      llm: ScriptedLLMServer) -> None:
    llm.responder = sensible_llm

    async def main() -> list[str]:
        config = {"data_dir": str(tmp_path / "data"),
                  "llm": {"base_url": llm.base_url, "api_key": "sk-test"}}
        async with AsyncMemory(config, embedder=embedder) as memory:
            queued = await memory.add("I like tea.", user_id="alice", async_mode=True)
            assert queued.pending_id is not None
            await memory.aflush()
            return [m.memory for m in (await memory.get_all(user_id="alice")).results]

    assert asyncio.run(main()) == ["I like tea"]


def test_the_sync_facade_can_be_flushed_from_async_code(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    llm.responder = sensible_llm
    memory.add("I like tea.", user_id="alice", async_mode=True)
    asyncio.run(memory.aflush())
    assert memory.pending() == []


QUEUE_THEN_DIE = """
import sys
from mem_integrations import Memory
memory = Memory({"data_dir": sys.argv[1], "llm": {"base_url": sys.argv[2], "api_key": "sk",
                                                  "max_retries": 0},
                 "reconcile": {"mode": sys.argv[4]}})
memory.open()
for n in range(int(sys.argv[3])):
    memory.add(f"Item{n} belongs to user{n % 3}.", user_id=f"user{n % 3}", async_mode=True)
print("queued", flush=True)
sys.stdin.readline()  # the parent kills us here, the queue still full
"""


@pytest.mark.parametrize("reconcile", ["single_call", "two_calls"])
def test_a_sigkill_with_a_full_queue_loses_nothing_and_runs_each_add_once(
        tmp_path: Path, embedder: Any, reconcile: str) -> None:
    data, count = tmp_path / "data", 12
    with ScriptedLLMServer(delay=30.0) as hanging:  # the worker never gets an answer
        child = subprocess.Popen(
            [sys.executable, "-c", QUEUE_THEN_DIE, str(data), hanging.base_url, str(count),
             reconcile],
            env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "queued"
        deadline = time.monotonic() + 60
        while len(hanging.calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # one add per scope waits on the LLM: the queue is running
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert len(hanging.calls) == 3, "the worker runs one add per scope at a time"
    with ScriptedLLMServer(sensible_llm) as llm:
        config = {"data_dir": str(data), "llm": {"base_url": llm.base_url, "api_key": "sk"},
                  "reconcile": {"mode": reconcile}}
        with Memory(config, embedder=embedder) as memory:
            memory.flush()
            assert memory.pending() == []
            stored = sorted(m.memory for u in range(3)
                            for m in memory.get_all(user_id=f"user{u}"))
            assert stored == sorted(f"Item{n} belongs to user{n % 3}" for n in range(count))
            assert len(extractions(llm)) == count  # each once, none redone
        llm.reset_counts()
        with Memory(config, embedder=embedder) as again:  # a second open finds nothing
            again.flush()
            assert len(again.get_all(user_id="user0").results) == 4
        assert llm.calls == []
