"""`memory_tools`: remember / recall / forget with a scope the model cannot see or change,
driven by a real `FunctionAgent` and called directly."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.agent.workflow import FunctionAgent  # noqa: E402

from mem_integrations import MissingScopeError  # noqa: E402
from mem_integrations.llamaindex import memory_tools  # noqa: E402
from mem_integrations.tools import ToolArgumentError  # noqa: E402
from tests.llamaindex.scripted import (  # noqa: E402
    ScriptedAgentLLM,
    ToolCall,
    last_tool_result,
    store,
)


def by_name(tools):
    return {t.metadata.name: t for t in tools}


async def test_agent_remembers_with_a_tool_and_recalls_in_a_later_run(offline_memory):
    tools = memory_tools(offline_memory, user_id="alice")
    script = ScriptedAgentLLM(
        ToolCall("remember", {"fact": "My favourite colour is teal."}),
        lambda messages: f"Done. ({last_tool_result(messages)})",
        ToolCall("recall", {"query": "favourite colour"}),
        lambda messages: f"You told me: {last_tool_result(messages)}",
    )
    agent = FunctionAgent(tools=tools, llm=script.llm())

    first = await agent.run("Remember that my favourite colour is teal.")
    assert "Remembered: My favourite colour is teal" in str(first)
    # A later run: a new context, so a fresh short-term memory.
    later = await agent.run("What is my favourite colour?")

    assert "My favourite colour is teal" in str(later)
    assert ("user", "Remember that my favourite colour is teal.") not in script.seen[2]
    # No scope parameter in the schemas an LLM integration sends (OpenAI's format here),
    # nor in those the model was handed (recent LlamaIndex passes them to the mock).
    for tool in tools:
        parameters = tool.metadata.to_openai_tool()["function"]["parameters"]
        assert not {"user_id", "agent_id", "run_id"} & set(parameters["properties"])
        assert set(parameters["required"]) == set(parameters["properties"]) - {"limit"}
    for schemas in script.tool_schemas:
        for schema in schemas.values():
            assert not {"user_id", "agent_id", "run_id"} & set(schema["properties"])
    assert [m.memory for m in offline_memory.get_all(user_id="alice")] == \
        ["My favourite colour is teal"]


async def test_a_model_cannot_choose_another_users_scope(offline_memory):
    store(offline_memory, ["Bob's bank PIN is 7731"], user_id="bob")
    [bob_id] = [m.id for m in offline_memory.get_all(user_id="bob")]
    tools = by_name(memory_tools(offline_memory, user_id="alice"))

    # A confused or injected model sends a user_id: the bound scope wins.
    recalled = await tools["recall"].acall(query="bank PIN", user_id="bob")
    assert "7731" not in recalled.content and recalled.content == "No relevant memories found."
    assert "7731" not in tools["recall"](query="bank PIN", user_id="bob").content
    await tools["remember"].acall(fact="The sky is green today.", user_id="bob")
    assert [m.memory for m in offline_memory.get_all(user_id="bob")] == ["Bob's bank PIN is 7731"]
    assert [m.memory for m in offline_memory.get_all(user_id="alice")] == \
        ["The sky is green today"]

    # forget only deletes memories of the bound scope, whatever id it is given.
    refused = await tools["forget"].acall(memory_id=bob_id)
    assert refused.content == f"No memory with id {bob_id} was found. Use recall to see the ids."
    assert offline_memory.get(bob_id).memory == "Bob's bank PIN is 7731"


async def test_recall_and_forget(offline_memory):
    ids = store(offline_memory, ["Alice is allergic to cats", "Alice lives in Rome"],
                user_id="alice")
    tools = by_name(memory_tools(offline_memory, user_id="alice", limit=1))

    recalled = await tools["recall"].acall(query="Is she allergic to anything?")
    assert recalled.content == f"Relevant memories:\n- [{ids[0]}] Alice is allergic to cats"
    forgotten = await tools["forget"].acall(memory_id=ids[0])
    assert forgotten.content == "Forgot: Alice is allergic to cats"
    assert [m.memory for m in offline_memory.get_all(user_id="alice")] == ["Alice lives in Rome"]
    assert "No memory" in (await tools["forget"].acall(memory_id=ids[0])).content
    assert "No memory" in (await tools["forget"].acall(memory_id="not-a-uuid")).content
    with pytest.raises(ToolArgumentError, match="remember needs 'fact'"):
        await tools["remember"].acall(fact="  ")
    with pytest.raises(ToolArgumentError, match="recall needs 'query'"):
        await tools["recall"].acall(query="")


async def test_remember_reports_updates(offline_memory):
    tools = by_name(memory_tools(offline_memory, user_id="alice"))
    assert (await tools["remember"].acall(fact="I live in Rome.")).content == \
        "Remembered: I live in Rome"
    # The offline reconcile treats "moved"/"now" as a change of a close memory.
    update = await tools["remember"].acall(fact="I now live in Milan.")
    assert update.content == "Updated: I live in Rome -> I now live in Milan"
    assert [m.memory for m in offline_memory.get_all(user_id="alice")] == ["I now live in Milan"]
    assert (await tools["remember"].acall(fact="I now live in Milan.")).content == \
        "Nothing new to remember: this is already known."


async def test_agent_and_run_scopes_and_prefixes(offline_memory):
    tools = by_name(memory_tools(offline_memory, agent_id="planner", run_id="r1",
                                 name_prefix="team_"))
    assert set(tools) == {"team_remember", "team_recall", "team_forget"}
    await tools["team_remember"].acall(fact="The release is scheduled for May.")
    [item] = offline_memory.get_all(agent_id="planner").results
    assert (item.agent_id, item.run_id, item.user_id) == ("planner", "r1", None)
    other_run = by_name(memory_tools(offline_memory, agent_id="planner", run_id="r2"))
    assert (await other_run["recall"].acall(query="release")).content == \
        "No relevant memories found."


def test_tools_need_a_scope(offline_memory):
    with pytest.raises(MissingScopeError):
        memory_tools(offline_memory)
