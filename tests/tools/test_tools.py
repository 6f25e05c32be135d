"""Framework-free tools: a real `openai` client drives a tool-calling loop against the
scripted server, and the dispatcher turns every bad call into text the model can use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI, OpenAI

from mem_integrations import AsyncMemory, Memory
from mem_integrations.core.errors import BlockingCallError, MissingScopeError
from mem_integrations.testing import (
    Fault,
    ScriptedLLMServer,
    last_tool_results,
    tool_call,
    tool_calls,
)
from mem_integrations.tools import (
    MemoryTools,
    MemoryToolset,
    ToolArgumentError,
    parse_tool_call,
    tool_schemas,
)


@pytest.fixture
def memory(tmp_path: Path, embedder: Any) -> Iterator[Memory]:
    with Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                embedder=embedder) as memory:
        yield memory


def echo_tools(body: dict[str, Any]) -> str:
    """The scripted model's final answer: what the tools just told it."""
    return "From memory: " + " | ".join(last_tool_results(body))


@pytest.fixture
def agent_llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(echo_tools) as server:
        yield server


def run_turn(client: OpenAI, tools: MemoryTools, messages: list[dict[str, Any]]) -> str:
    """A plain tool-calling loop: call the model until it answers without tools."""
    for _ in range(5):
        reply = client.chat.completions.create(model="gpt-test", messages=messages,
                                               tools=tools.schemas)
        message = reply.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return message.content or ""
        messages.extend(tools.handle(message))
    raise AssertionError("the loop did not finish")


def test_schemas_are_openai_function_definitions_without_scope() -> None:
    chat = tool_schemas()
    assert [s["function"]["name"] for s in chat] == ["remember", "recall", "forget"]
    for schema in chat:
        assert schema["type"] == "function"
        parameters = schema["function"]["parameters"]
        assert parameters["type"] == "object" and parameters["additionalProperties"] is False
        assert not {"user_id", "agent_id", "run_id"} & set(parameters["properties"])
        assert schema["function"]["description"]
    assert chat[0]["function"]["parameters"]["required"] == ["fact"]
    strict = tool_schemas(strict=True)
    recall = strict[1]["function"]
    assert recall["strict"] is True and recall["parameters"]["required"] == ["query", "limit"]
    responses = tool_schemas(api="responses", names={"recall": "search_memory"})
    assert responses[1]["name"] == "search_memory" and responses[1]["type"] == "function"


def test_a_tool_calling_loop_remembers_then_recalls_in_a_new_conversation(
        memory: Memory, agent_llm: ScriptedLLMServer) -> None:
    client = OpenAI(base_url=agent_llm.base_url, api_key="sk-test")
    tools = MemoryTools(memory, user_id="alice")

    agent_llm.queue(tool_calls(("remember", {"fact": "I am vegetarian"}),
                               ("remember", {"fact": "I live in Lyon"})))
    answer = run_turn(client, tools, [
        {"role": "user", "content": "I'm vegetarian and I live in Lyon."}])
    assert "Remembered: I am vegetarian" in answer and "Remembered: I live in Lyon" in answer
    # the tool results went back to the model under the ids of its calls
    sent = agent_llm.calls[-1].body["messages"]
    calls = sent[1]["tool_calls"]
    assert [m["tool_call_id"] for m in sent[2:]] == [c["id"] for c in calls]

    assert sorted(m.memory for m in memory.get_all(user_id="alice")) == [
        "I am vegetarian", "I live in Lyon"]

    agent_llm.queue(tool_call("recall", query="what does the user eat?", limit=1))
    answer = run_turn(client, tools, [{"role": "user", "content": "What should I cook?"}])
    assert answer.startswith("From memory: Relevant memories:\n- [")
    assert answer.endswith("] I am vegetarian")  # the closest one, and only one (limit=1)
    assert agent_llm.calls[-2].body["tools"] == tools.schemas


def test_the_model_cannot_choose_the_scope(memory: Memory) -> None:
    alice = MemoryTools(memory, user_id="alice")
    bob = MemoryTools(memory, user_id="bob")
    assert alice.run("remember", {"fact": "My PIN is 1234", "user_id": "bob"}).startswith(
        "Remembered")
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["My PIN is 1234"]
    assert memory.get_all(user_id="bob").results == []
    assert bob.run("recall", {"query": "PIN", "user_id": "alice"}) == "No relevant memories found."
    secret = memory.get_all(user_id="alice").results[0].id
    assert bob.run("forget", {"memory_id": secret}).startswith("No memory with id")
    assert memory.get(secret).memory == "My PIN is 1234"  # still there
    assert alice.run("forget", {"memory_id": f"[{secret}]"}) == "Forgot: My PIN is 1234"
    assert memory.get_all(user_id="alice").results == []


@pytest.mark.parametrize(("name", "arguments", "expected"), [
    ("remember", '{"fact": ', "not valid JSON"),
    ("remember", "[1, 2]", "must be a JSON object"),
    ("remember", {}, "needs 'fact'"),
    ("remember", {"fact": "   "}, "needs 'fact'"),
    ("remember", {"fact": 42}, "needs 'fact'"),
    ("recall", {"query": ""}, "needs 'query'"),
    ("recall", {"query": "x", "limit": "many"}, "'limit' must be a whole number"),
    ("recall", {"query": "x", "limit": 0}, "'limit' must be a whole number"),
    ("forget", None, "needs 'memory_id'"),
    ("delete_everything", {}, "there is no tool named 'delete_everything'"),
])
def test_bad_calls_answer_with_an_error_the_model_can_act_on(
        memory: Memory, name: str, arguments: Any, expected: str) -> None:
    tools = MemoryTools(memory, user_id="alice")
    answer = tools.execute({"id": "call_1", "type": "function",
                            "function": {"name": name, "arguments": arguments}})
    assert answer.startswith("Error: ") and expected in answer
    assert memory.get_all(user_id="alice").results == []  # nothing was written


def test_the_loop_recovers_from_a_malformed_call(memory: Memory,
                                                 agent_llm: ScriptedLLMServer) -> None:
    client = OpenAI(base_url=agent_llm.base_url, api_key="sk-test")
    tools = MemoryTools(memory, user_id="alice")
    agent_llm.queue(tool_call("remember", '{"text": "likes jazz"'),  # broken JSON
                    tool_call("remember", fact="I like jazz"))
    answer = run_turn(client, tools, [{"role": "user", "content": "I like jazz"}])
    first_result = agent_llm.calls[1].body["messages"][-1]["content"]
    assert first_result.startswith("Error: the arguments of remember are not valid JSON")
    assert answer == "From memory: Remembered: I like jazz"
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["I like jazz"]


def test_a_failing_llm_behind_the_memory_is_reported_not_raised(
        tmp_path: Path, embedder: Any, llm: ScriptedLLMServer) -> None:
    with Memory({"data_dir": str(tmp_path), "llm": {
            "base_url": llm.base_url, "api_key": "sk-test", "max_retries": 0, "timeout": 5}},
            embedder=embedder) as memory:
        llm.queue(Fault(status=500))
        answer = MemoryTools(memory, user_id="alice").run("remember", {"fact": "Likes tea"})
        assert answer.startswith("Error: the memory service could not process this")
        assert "kept" in answer
        assert [p.messages[0]["content"] for p in memory.pending()] == ["Likes tea"]


def test_calls_in_every_shape(memory: Memory) -> None:
    tools = MemoryTools(memory, user_id="alice", infer=False, names={"recall": "search_memory"})
    out = tools.handle({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "remember", "arguments": {"fact": "Owns a cat named Tom"}}}]})
    assert out == [{"role": "tool", "tool_call_id": "c1",
                    "content": "Remembered: Owns a cat named Tom"}]
    responses = tools.handle([{"type": "function_call", "call_id": "r1",
                               "name": "search_memory", "arguments": '{"query": "pets"}'}])
    assert responses[0]["type"] == "function_call_output" and responses[0]["call_id"] == "r1"
    assert "Owns a cat named Tom" in responses[0]["output"]
    assert "there is no tool named 'recall'" in tools.run("recall", {"query": "pets"})
    assert tools.owns({"name": "search_memory", "arguments": "{}"})
    assert not tools.owns({"name": "get_weather", "arguments": "{}"})
    assert parse_tool_call({"name": "recall", "arguments": "{}"}).api == "chat"


def test_a_scope_is_required(memory: Memory) -> None:
    with pytest.raises(MissingScopeError):
        MemoryTools(memory)
    with pytest.raises(TypeError):
        MemoryTools({"not": "a memory"}, user_id="alice")  # type: ignore[arg-type]


async def test_async_loop_with_async_memory(tmp_path: Path, embedder: Any,
                                            agent_llm: ScriptedLLMServer) -> None:
    async with AsyncMemory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                           embedder=embedder) as memory:
        tools = MemoryTools(memory, agent_id="travel-bot", run_id="trip-1")
        client = AsyncOpenAI(base_url=agent_llm.base_url, api_key="sk-test")
        agent_llm.queue(tool_call("remember", fact="Prefers window seats"),
                        tool_call("recall", query="seat"))
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Window seat please"}]
        for _ in range(2):
            reply = await client.chat.completions.create(model="m", messages=messages,
                                                         tools=tools.schemas)
            message = reply.choices[0].message
            messages.append(message.model_dump(exclude_none=True))
            messages.extend(await tools.ahandle(message))
        assert "Prefers window seats" in messages[-1]["content"]
        found = await memory.get_all(agent_id="travel-bot", run_id="trip-1")
        assert [m.memory for m in found] == ["Prefers window seats"]
        with pytest.raises(BlockingCallError, match="aexecute"):
            tools.run("recall", {"query": "seat"})
        await client.close()


async def test_a_memory_facade_works_from_async_code(memory: Memory) -> None:
    tools = MemoryTools(memory, user_id="alice")
    assert (await tools.arun("remember", json.dumps({"fact": "I speak Italian"}))).startswith(
        "Remembered")
    assert "I speak Italian" in await tools.aexecute(
        {"name": "recall", "arguments": {"query": "languages"}})


async def test_the_toolset_takes_the_scope_with_each_call(memory: Memory) -> None:
    """The one implementation behind every framework's tools: the scope is the caller's."""
    toolset = MemoryToolset(memory, infer=False, names={"recall": "search_memory"})
    alice, bob = {"user_id": "alice"}, {"user_id": "bob", "agent_id": None}
    assert await toolset.remember(alice, "  Owns a bike  ") == "Remembered: Owns a bike"
    text, items = await toolset.recall(alice, "bike", "3")
    assert [i.memory for i in items] == ["Owns a bike"] and items[0].id in text
    assert await toolset.recall(bob, "bike") == ("No relevant memories found.", [])

    assert await toolset.forget(bob, items[0].id) == (
        f"No memory with id {items[0].id} was found. Use search_memory to see the ids.")
    with pytest.raises(MissingScopeError):  # no scope would mean any memory: refused
        await toolset.forget({}, items[0].id)
    with pytest.raises(ToolArgumentError, match="remember needs 'fact'"):
        await toolset.remember(alice, 42)
    assert toolset.bridge.run(toolset.forget(alice, items[0].id)) == "Forgot: Owns a bike"
    assert memory.get_all(user_id="alice").results == []
