"""`MemoryMiddleware(extraction="background")` hands each turn to the engine's durable
queue (`add(..., async_mode=True)`): the run ends while the extraction waits on the LLM,
the turn is in `pending()` as queued, and `wait()` returns once the queue has stored it."""

from __future__ import annotations

import threading
import time
from typing import Any

from langchain.agents import create_agent

from mem_integrations.langchain import MemoryMiddleware
from tests.langchain.fakes import fake_model
from tests.reliability.support import sensible_llm


def test_a_background_turn_is_queued_durably_and_wait_drains_it(make_lc_memory, llm) -> None:
    memory = make_lc_memory(llm={"base_url": llm.base_url, "api_key": "sk-test"})
    gate = threading.Event()

    def held(body: dict[str, Any]) -> Any:
        gate.wait(30)
        return sensible_llm(body)

    llm.responder = held
    middleware = MemoryMiddleware(memory)
    agent = create_agent(fake_model("Great choice."), [], middleware=[middleware])
    agent.invoke({"messages": [{"role": "user", "content": "I just adopted a beagle."}]},
                 {"configurable": {"user_id": "carl", "thread_id": "x"}})
    deadline = time.monotonic() + 30
    while not memory.pending():  # the hand-over to the queue (milliseconds), not the LLM
        assert time.monotonic() < deadline, "the turn never reached the queue"
        time.sleep(0.01)
    [queued] = memory.pending()
    assert queued.status in ("queued", "processing") and queued.scope == {"user_id": "carl"}
    assert middleware.unfinished >= 1
    gate.set()
    middleware.wait(timeout=60)
    assert middleware.unfinished == 0 and memory.pending() == []
    assert [i.memory for i in memory.get_all(user_id="carl").results] == [
        "I just adopted a beagle"]
