"""Extraction sees only what users and assistants said: a real `ReActAgent`'s observations
(kept in a plain assistant message, not a tool message) are never extracted or stored, nor
are its thoughts and actions, a `return_direct` tool's output, or CodeAct's code and code
results."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.agent.workflow import ReActAgent  # noqa: E402
from llama_index.core.base.llms.types import ChatMessage  # noqa: E402
from llama_index.core.tools import FunctionTool  # noqa: E402

from mem_integrations.llamaindex import LongTermMemory  # noqa: E402
from mem_integrations.llamaindex._shared import conversation  # noqa: E402
from tests.conftest import facts  # noqa: E402
from tests.llamaindex.scripted import ScriptedAgentLLM  # noqa: E402

SECRET = "lives at 12 Rue Oberkampf"


def order_status(order: str) -> str:
    """The status of an order."""
    return f"Order {order}: the customer {SECRET}, Paris; it ships tomorrow."


def react_script() -> ScriptedAgentLLM:
    return ScriptedAgentLLM(
        'Thought: I need the order status.\nAction: order_status\n'
        'Action Input: {"order": "A17"}',
        "Thought: I can answer now.\nAnswer: Your order A17 ships tomorrow.")


async def test_a_react_agents_observations_are_not_extracted(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("User is waiting for order A17"))
    script = react_script()
    agent = ReActAgent(tools=[FunctionTool.from_defaults(order_status)], llm=script.llm())
    chat = LongTermMemory.from_defaults(memory, user_id="alice")

    response = await agent.run("Where is my order A17? I'm waiting for it.", memory=chat)

    assert "ships tomorrow" in str(response) and script.done()
    trace = (await chat.aget_all())[-1].content
    assert SECRET in trace and "Observation:" in trace  # ReAct stored it in the history
    assert llm.chat_calls == 1
    transcript = llm.calls[0].user
    assert "Where is my order A17?" in transcript
    assert "Your order A17 ships tomorrow." in transcript
    for echo in (SECRET, "Observation", "Thought", "Action Input", "I need the order"):
        assert echo not in transcript
    assert [m.memory for m in memory.get_all(user_id="alice")] == \
        ["User is waiting for order A17"]


async def test_no_observation_is_stored_even_verbatim(offline_memory):
    agent = ReActAgent(tools=[FunctionTool.from_defaults(order_status)],
                       llm=react_script().llm())
    chat = LongTermMemory.from_defaults(offline_memory, user_id="bob", infer=False)
    await agent.run("Where is my order A17?", memory=chat)

    stored = sorted(m.memory for m in offline_memory.get_all(user_id="bob"))
    assert stored == ["Where is my order A17?", "Your order A17 ships tomorrow."]


def said(*messages: tuple[str, str]) -> list[str]:
    return [m["content"] for m in conversation([ChatMessage(role=r, content=t)
                                                for r, t in messages])]


def test_other_framework_echoes_are_left_out():
    # return_direct: ReAct makes the tool's output the answer; nobody said it.
    direct = ("Thought: I need the status.\nAction: order_status\nAction Input: {}\n"
              "Observation: Order A17 ships tomorrow.\nThought: Order A17 ships tomorrow.\n"
              "Answer: Order A17 ships tomorrow.")
    assert said(("user", "Status?"), ("assistant", direct)) == ["Status?"]
    # a trace cut short, whose only "Answer:" is inside a tool's output
    cut = "Thought: look it up\nAction: search\nAction Input: {}\nObservation: Answer: 42"
    assert said(("assistant", cut)) == []
    # CodeAct: code in <execute>, its result as a user message
    assert said(("assistant", "Let me compute.\n<execute>\nprint(6*7)\n</execute>"),
                ("user", "Result of executing the code given:\n\n42"),
                ("assistant", "It is 42.")) == ["Let me compute.", "It is 42."]
    # an ordinary reply that starts with the word is kept whole
    assert said(("assistant", "Thought: that is a good question.")) == \
        ["Thought: that is a good question."]
