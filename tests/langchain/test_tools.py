"""remember / recall / forget as LangChain tools: the scope comes from the runtime, never
from the model. (LangChain's standard tool suites run in test_standard.py.)"""

from __future__ import annotations

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from mem_integrations import Memory
from mem_integrations.core.errors import MissingScopeError
from mem_integrations.langchain import RememberTool, create_memory_tools


def by_name(tools: list[BaseTool]) -> dict[str, BaseTool]:
    return {t.name: t for t in tools}


def test_model_sees_only_its_own_arguments(memory: Memory) -> None:
    schemas = {t.name: t.tool_call_schema.model_json_schema()["properties"]
               for t in create_memory_tools(memory)}
    assert set(schemas["remember"]) == {"fact"}
    assert set(schemas["recall"]) == {"query", "limit"}
    assert set(schemas["forget"]) == {"memory_id"}


def test_scope_from_injected_arguments_keeps_users_apart(memory: Memory) -> None:
    tools = by_name(create_memory_tools(memory))
    reply = tools["remember"].invoke({"fact": "I am allergic to peanuts", "user_id": "alice"})
    assert "allergic to peanuts" in reply
    [stored] = memory.get_all(user_id="alice").results
    assert stored.memory == "I am allergic to peanuts"

    alice = tools["recall"].invoke({"query": "food allergies", "user_id": "alice"})
    bob = tools["recall"].invoke({"query": "food allergies", "user_id": "bob"})
    assert "peanuts" in alice and stored.id in alice
    assert bob == "No relevant memories found."


def test_scope_from_config_and_artifact(memory: Memory) -> None:
    tools = by_name(create_memory_tools(memory))
    config = {"configurable": {"user_id": "carol"}}
    tools["remember"].invoke({"fact": "My sister Ana lives in Lisbon"}, config=config)
    message = tools["recall"].invoke(
        {"name": "recall", "args": {"query": "sister"}, "id": "c1", "type": "tool_call"},
        config=config)
    assert isinstance(message, ToolMessage)
    assert "Ana lives in Lisbon" in message.content
    assert [a["memory"] for a in message.artifact] == ["My sister Ana lives in Lisbon"]
    assert message.artifact[0]["user_id"] == "carol"


def test_build_time_scope_is_merged_with_the_runtime_scope(memory: Memory) -> None:
    remember = by_name(create_memory_tools(memory, agent_id="travel-bot"))["remember"]
    remember.invoke({"fact": "I prefer aisle seats on flights"},
                    config={"configurable": {"user_id": "dave"}})
    [item] = memory.get_all(user_id="dave").results
    assert (item.user_id, item.agent_id) == ("dave", "travel-bot")


def test_inside_an_agent_injected_arguments_are_never_trusted(memory: Memory) -> None:
    # Even if a ToolNode passed a model-written user_id through, the runtime decides.
    from langgraph.prebuilt import ToolRuntime

    runtime = ToolRuntime(state={}, context=None, config={"configurable": {"user_id": "amy"}},
                          stream_writer=lambda _: None, tool_call_id="c1", store=None)
    remember = by_name(create_memory_tools(memory))["remember"]
    remember.invoke({"fact": "I manage the payroll team", "user_id": "mallory",
                     "runtime": runtime})
    assert [i.user_id for i in memory.get_all(user_id="amy").results] == ["amy"]
    assert memory.get_all(user_id="mallory").results == []


def test_no_scope_is_a_clear_error(memory: Memory) -> None:
    remember = by_name(create_memory_tools(memory))["remember"]
    with pytest.raises(MissingScopeError):
        remember.invoke({"fact": "I like jazz music a lot"})
    assert memory.users().results == []


def test_forget_only_deletes_within_the_callers_scope(memory: Memory) -> None:
    memory.add("I work as a nurse in Oslo", user_id="erin", infer=False)
    [item] = memory.get_all(user_id="erin").results
    forget = by_name(create_memory_tools(memory))["forget"]

    refused = forget.invoke({"memory_id": item.id, "user_id": "mallory"})
    assert refused == f"No memory with id {item.id} was found. Use recall to see the ids."
    assert memory.get(item.id).memory == "I work as a nurse in Oslo"
    assert "No memory" in forget.invoke({"memory_id": "not-a-uuid", "user_id": "erin"})

    assert forget.invoke({"memory_id": item.id, "user_id": "erin"}) == \
        "Forgot: I work as a nurse in Oslo"
    assert memory.get_all(user_id="erin").results == []


async def test_async_tools(memory: Memory) -> None:
    tools = by_name(create_memory_tools(memory, names={"remember": "save_memory",
                                                        "recall": "search_memory"}))
    assert set(tools) == {"save_memory", "search_memory", "forget"}
    await tools["save_memory"].ainvoke({"fact": "I run marathons every spring",
                                        "user_id": "fay"})
    found = await tools["search_memory"].ainvoke({"query": "sports", "user_id": "fay"})
    assert "marathons" in found
    unknown = await tools["forget"].ainvoke({"memory_id": "nope", "user_id": "fay"})
    assert unknown.endswith("Use search_memory to see the ids.")  # the recall tool's new name


def test_infer_false_stores_the_text_verbatim(memory: Memory) -> None:
    remember = RememberTool(memory=memory, user_id="gus", infer=False)
    remember.invoke({"fact": "Hi"})  # too short for the offline extractor, kept verbatim
    assert [i.memory for i in memory.get_all(user_id="gus").results] == ["Hi"]


def test_unknown_tool_name_to_rename(memory: Memory) -> None:
    with pytest.raises(ValueError, match="rename"):
        create_memory_tools(memory, names={"remmber": "x"})
