"""Pending adds are finished without anyone calling `reprocess`: the first open of a
memory retries, oldest first with backoff, what an outage or a killed process left
behind; `flush()` waits for it; an outage that outlasts the tries leaves them pending for
the next open; `pending.retry_on_open=False` leaves them to the caller."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory, ProviderError
from mem_integrations.testing import Fault, ScriptedLLMServer
from tests.conftest import facts

FAST = {"retry_on_open": True, "max_attempts": 3, "backoff_seconds": 0.05}


def extraction_calls(llm: ScriptedLLMServer) -> int:
    return sum("Conversation:" in str(c.body["messages"][-1]["content"]) for c in llm.calls)


def keep_two_pending(make_memory: Callable[..., Memory], llm: ScriptedLLMServer) -> None:
    memory = make_memory(llm={"max_retries": 0}, pending={"retry_on_open": False})
    llm.queue(Fault(status=503), Fault(status=503))
    for text in ("I live in Oslo.", "I love skiing."):
        with pytest.raises(ProviderError):
            memory.add(text, user_id="alice")
    assert len(memory.pending()) == 2
    memory.close()


def test_the_next_open_finishes_what_an_outage_kept(make_memory: Callable[..., Memory],
                                                    llm: ScriptedLLMServer) -> None:
    keep_two_pending(make_memory, llm)
    # the LLM is back, but its first answer is one more failure: backoff, then success
    llm.queue(Fault(status=503), facts("Lives in Oslo"), facts("Loves skiing"))
    reopened = make_memory(llm={"max_retries": 0}, pending=FAST)
    reopened.flush()
    assert reopened.pending() == []
    assert sorted(m.memory for m in reopened.get_all(user_id="alice")) == [
        "Lives in Oslo", "Loves skiing"]


def test_an_outage_that_outlasts_the_tries_leaves_them_for_the_next_open(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer,
        caplog: pytest.LogCaptureFixture) -> None:
    keep_two_pending(make_memory, llm)
    before = extraction_calls(llm)
    llm.queue(*[Fault(status=503)] * 3)
    reopened = make_memory(llm={"max_retries": 0}, pending=FAST)
    with caplog.at_level(logging.INFO, logger="mem_integrations.core.add_queue"):
        reopened.flush()
    # three tries of the oldest, then the pass stops: the second is not tried in vain
    assert extraction_calls(llm) - before == 3
    assert [p.messages[0]["content"] for p in reopened.pending()] == [
        "I live in Oslo.", "I love skiing."]
    assert any("failed 3 time(s)" in r.getMessage() for r in caplog.records)
    assert reopened.get_all(user_id="alice").results == []


def test_retry_on_open_off_leaves_them_to_the_caller(make_memory: Callable[..., Memory],
                                                     llm: ScriptedLLMServer) -> None:
    keep_two_pending(make_memory, llm)
    before = extraction_calls(llm)
    reopened = make_memory(llm={"max_retries": 0}, pending={"retry_on_open": False})
    reopened.flush()
    assert len(reopened.pending()) == 2 and extraction_calls(llm) == before


KILLED = """
import sys
from mem_integrations import Memory
memory = Memory({"data_dir": sys.argv[1], "llm": {"base_url": sys.argv[2], "api_key": "sk"}})
memory.add("I am vegetarian.", user_id="alice")
"""


def test_an_add_killed_mid_flight_is_finished_exactly_once_on_the_next_open(
        tmp_path: Path, embedder: Any) -> None:
    data = tmp_path / "data"
    with ScriptedLLMServer(delay=30.0) as hanging:
        child = subprocess.Popen([sys.executable, "-c", KILLED, str(data), hanging.base_url],
                                 env={**os.environ, "HF_HUB_OFFLINE": "1"})
        deadline = time.monotonic() + 120
        while not hanging.calls and time.monotonic() < deadline:  # the add waits on the LLM
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert hanging.calls, "the child never reached its extraction call"
    with ScriptedLLMServer() as llm:
        llm.queue(facts("Is vegetarian"))
        with Memory({"data_dir": str(data), "llm": {"base_url": llm.base_url, "api_key": "sk"},
                     "pending": FAST}, embedder=embedder) as memory:
            memory.flush()
            assert [m.memory for m in memory.get_all(user_id="alice")] == ["Is vegetarian"]
            assert memory.pending() == []
        with Memory({"data_dir": str(data), "llm": {"provider": "offline"}},
                    embedder=embedder) as again:  # a second open finds nothing to redo
            again.flush()
            assert [m.memory for m in again.get_all(user_id="alice")] == ["Is vegetarian"]
