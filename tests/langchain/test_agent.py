"""`create_agent` agents with the memory tools and the middleware, driven by a fake chat
model that emits tool calls: memories cross threads for one user and never reach another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from mem_integrations import Memory
from mem_integrations.core.errors import MissingScopeError
from mem_integrations.langchain import MemoryMiddleware, create_memory_tools
from tests.langchain.fakes import fake_model, tool_call


@dataclass
class Context:
    user_id: str


def ask(agent: Any, text: str, thread: str, user: str) -> list[Any]:
    out = agent.invoke({"messages": [{"role": "user", "content": text}]},
                       {"configurable": {"thread_id": thread}}, context=Context(user))
    return out["messages"]


def tool_results(messages: list[Any]) -> list[str]:
    return [m.content for m in messages if isinstance(m, ToolMessage)]


def system_prompts(model: Any) -> list[str]:
    return [m[0].content for m in model.seen if m and isinstance(m[0], SystemMessage)]


def test_remember_and_recall_across_threads_for_one_user_only(memory: Memory) -> None:
    model = fake_model(
        tool_call("remember", fact="My favourite colour is teal"), "Noted.",
        tool_call("recall", query="favourite colour"), "Teal.",
        tool_call("recall", query="favourite colour"), "I don't know.",
    )
    agent = create_agent(model, create_memory_tools(memory), context_schema=Context,
                         checkpointer=InMemorySaver())

    first = ask(agent, "Remember that my favourite colour is teal.", "t1", "alice")
    assert tool_results(first) == ["Remembered: My favourite colour is teal"]

    second = ask(agent, "What is my favourite colour?", "t2", "alice")
    assert len(second) == 4  # a new thread: the first one's messages are not in it
    [recalled] = tool_results(second)
    assert "My favourite colour is teal" in recalled

    third = ask(agent, "What is my favourite colour?", "t3", "bob")
    assert tool_results(third) == ["No relevant memories found."]
    assert [i.user_id for i in memory.get_all(user_id="alice").results] == ["alice"]
    assert memory.get_all(user_id="bob").results == []


def test_a_model_cannot_choose_the_scope(memory: Memory) -> None:
    # The scope comes from config here (no context); the model tries to write as bob.
    model = fake_model(tool_call("remember", fact="I am the admin of this system",
                                 user_id="bob"), "Done.")
    agent = create_agent(model, create_memory_tools(memory))
    agent.invoke({"messages": [{"role": "user", "content": "hi"}]},
                 {"configurable": {"user_id": "alice"}})
    assert [i.memory for i in memory.get_all(user_id="alice").results] == \
        ["I am the admin of this system"]
    assert memory.get_all(user_id="bob").results == []


def test_middleware_injects_what_an_earlier_thread_taught(memory: Memory) -> None:
    model = fake_model("Noted, you are vegan.", "How about a lentil curry?", "Pasta?")
    middleware = MemoryMiddleware(memory, extraction="await")
    agent = create_agent(model, [], system_prompt="You are a cooking assistant.",
                         middleware=[middleware], context_schema=Context,
                         checkpointer=InMemorySaver())

    ask(agent, "I am vegan and I cook every evening.", "t1", "alice")
    [learned] = memory.get_all(user_id="alice").results
    assert learned.memory == "I am vegan and I cook every evening"
    assert learned.metadata == {"thread_id": "t1"}

    ask(agent, "What should I make for dinner tonight?", "t2", "alice")
    injected = system_prompts(model)[1]
    assert injected.startswith("You are a cooking assistant.\n\n## Long-term memory")
    assert "- I am vegan and I cook every evening" in injected

    ask(agent, "What should I make for dinner tonight?", "t3", "bob")
    assert system_prompts(model)[2] == "You are a cooking assistant."


def test_background_extraction_and_scope_from_config(memory: Memory) -> None:
    model = fake_model("Great choice.")
    middleware = MemoryMiddleware(memory)  # background by default
    agent = create_agent(model, [], middleware=[middleware])
    agent.invoke({"messages": [{"role": "user", "content": "I just adopted a beagle."}]},
                 {"configurable": {"user_id": "carl", "thread_id": "x"}})
    middleware.wait(timeout=30)
    assert [i.memory for i in memory.get_all(user_id="carl").results] == \
        ["I just adopted a beagle"]


def test_tool_turns_are_not_extracted_again(memory: Memory) -> None:
    memory.add("I own a red bicycle", user_id="dan", infer=False)
    model = fake_model(tool_call("recall", query="what do I own"), "A red bicycle.")
    middleware = MemoryMiddleware(memory, extraction="await")
    agent = create_agent(model, create_memory_tools(memory), middleware=[middleware],
                         context_schema=Context)
    ask(agent, "What do I own?", "t", "dan")
    # the question has no fact; the recall result is not re-added as new memories
    assert [i.memory for i in memory.get_all(user_id="dan").results] == ["I own a red bicycle"]


def test_middleware_can_bring_the_tools(memory: Memory) -> None:
    memory.add("I speak Portuguese fluently", user_id="eva", infer=False)
    model = fake_model(tool_call("recall", query="languages"), "Portuguese.")
    agent = create_agent(model, [], middleware=[MemoryMiddleware(memory, tools=True,
                                                                 extraction="off")],
                         context_schema=Context)
    messages = ask(agent, "Which languages do I speak?", "t", "eva")
    assert "I speak Portuguese fluently" in tool_results(messages)[0]


def test_missing_scope_is_reported(memory: Memory) -> None:
    agent = create_agent(fake_model("hi"), [], middleware=[MemoryMiddleware(memory)])
    with pytest.raises(MissingScopeError):
        agent.invoke({"messages": [{"role": "user", "content": "hello there"}]})


async def test_async_agent(memory: Memory) -> None:
    memory.add("I am training for a triathlon", user_id="fay", infer=False)
    model = fake_model(tool_call("remember", fact="My race is on June 14"), "Good luck!")
    middleware = MemoryMiddleware(memory, extraction="background")
    agent = create_agent(model, create_memory_tools(memory), middleware=[middleware],
                         context_schema=Context)
    out = await agent.ainvoke(
        {"messages": [{"role": "user", "content": "My race is on June 14."}]},
        context=Context("fay"))
    await middleware.await_all()
    assert "I am training for a triathlon" in system_prompts(model)[0]
    assert tool_results(out["messages"]) == ["Remembered: My race is on June 14"]
    assert sorted(i.memory for i in memory.get_all(user_id="fay").results) == \
        ["I am training for a triathlon", "My race is on June 14"]
