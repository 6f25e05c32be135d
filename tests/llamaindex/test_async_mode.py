"""`LongTermMemory(async_mode=True)`: the turn's extraction is queued, so the agent's run
ends without waiting for the LLM; the engine's queue stores it, `flush()` waits."""

from __future__ import annotations

import threading
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.agent.workflow import FunctionAgent  # noqa: E402

from mem_integrations.llamaindex import LongTermMemory  # noqa: E402
from tests.llamaindex.scripted import ScriptedAgentLLM  # noqa: E402
from tests.reliability.support import sensible_llm  # noqa: E402


async def test_a_turn_is_queued_and_stored_by_the_engine_s_queue(make_memory, llm) -> None:
    memory = make_memory()
    gate = threading.Event()

    def held(body: dict[str, Any]) -> Any:
        gate.wait(30)  # the extraction waits while the agent's run has already ended
        return sensible_llm(body)

    llm.responder = held
    agent = FunctionAgent(tools=[], llm=ScriptedAgentLLM("Noted.").llm())
    chat = LongTermMemory.from_defaults(memory, user_id="alice", async_mode=True)
    await agent.run("I am allergic to peanuts.", memory=chat)
    [queued] = memory.pending()
    assert queued.status in ("queued", "processing")
    assert queued.messages[0]["content"] == "I am allergic to peanuts."
    assert LongTermMemory.from_dict(chat.to_dict(), memory=memory).async_mode is True
    gate.set()
    await memory.aflush()
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["I am allergic to peanuts"]
    assert memory.pending() == []
