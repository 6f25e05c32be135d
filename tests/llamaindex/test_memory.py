"""`LongTermMemory` as a real `FunctionAgent`'s `memory=`: recall across runs with a fresh
chat history, one extraction per turn, isolation between users."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.agent.workflow import FunctionAgent  # noqa: E402
from llama_index.core.base.llms.types import ChatMessage  # noqa: E402
from llama_index.core.memory import Memory as ChatMemory  # noqa: E402
from llama_index.core.tools import FunctionTool  # noqa: E402

from mem_integrations import InvalidInputError, LLMResponseError, MissingScopeError  # noqa: E402
from mem_integrations.llamaindex import LongTermMemory  # noqa: E402
from tests.conftest import facts  # noqa: E402
from tests.llamaindex.scripted import ScriptedAgentLLM, ToolCall, store  # noqa: E402


def answer_from_system(messages: list[ChatMessage]) -> str:
    """The model's answer: what it was told in its system messages."""
    return " | ".join(m.content or "" for m in messages if m.role == "system") or "no memory"


async def test_agent_remembers_in_one_run_and_recalls_in_a_later_run(offline_memory):
    script = ScriptedAgentLLM("Noted, no peanuts.", answer_from_system)
    agent = FunctionAgent(tools=[], llm=script.llm(), system_prompt="You are a chef.")

    first = LongTermMemory.from_defaults(offline_memory, user_id="alice")
    await agent.run("I am allergic to peanuts.", memory=first)
    stored = [m.memory for m in offline_memory.get_all(user_id="alice")]
    assert stored == ["I am allergic to peanuts"]

    # A later session: a new short-term history that has never seen the first run.
    later = LongTermMemory.from_defaults(offline_memory, user_id="alice")
    response = await agent.run("What should I cook tonight?", memory=later)

    assert "I am allergic to peanuts" in str(response)
    sent = script.seen[1]
    assert ("user", "I am allergic to peanuts.") not in sent  # not the old chat history
    assert sent[0] == ("system", "You are a chef.")  # the agent's prompt stays first
    assert [r for r, _ in sent] == ["system", "system", "user"]
    assert script.done()


async def test_extraction_is_one_llm_call_per_turn_not_per_message(make_memory, llm):
    memory = make_memory()  # the core's LLM is the scripted HTTP server
    llm.queue(facts("User is planning a trip to Kyoto in April"))

    def weather(city: str) -> str:
        """Weather forecast for a city."""
        return f"Sunny in {city}, 21 degrees."

    script = ScriptedAgentLLM(ToolCall("weather", {"city": "Kyoto"}),
                              "It will be sunny in Kyoto for your April trip.")
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(weather)], llm=script.llm())
    chat = LongTermMemory.from_defaults(memory, user_id="alice")

    await agent.run("I'm planning a trip to Kyoto in April. How is the weather?",
                    memory=chat)

    # user, assistant (tool call), tool, assistant: four messages, one extraction call.
    assert len(await chat.aget_all()) == 4
    assert llm.chat_calls == 1
    transcript = llm.calls[0].user
    assert "planning a trip to Kyoto" in transcript
    assert "sunny in Kyoto for your April trip" in transcript
    assert "21 degrees" not in transcript  # tool results are not extracted
    assert [m.memory for m in memory.get_all(user_id="alice")] == \
        ["User is planning a trip to Kyoto in April"]


async def test_two_users_never_see_each_others_memories(offline_memory):
    store(offline_memory, ["Alice's door code is 4512"], user_id="alice")
    store(offline_memory, ["Bob's door code is 9087"], user_id="bob")
    script = ScriptedAgentLLM(answer_from_system, answer_from_system)
    agent = FunctionAgent(tools=[], llm=script.llm())

    bob = await agent.run("What is my door code?",
                          memory=LongTermMemory.from_defaults(offline_memory, user_id="bob"))
    alice = await agent.run("What is my door code?",
                            memory=LongTermMemory.from_defaults(offline_memory,
                                                                user_id="alice"))
    assert "9087" in str(bob) and "4512" not in str(bob)
    assert "4512" in str(alice) and "9087" not in str(alice)


async def test_aget_builds_the_query_from_history_and_injects_memories(offline_memory):
    store(offline_memory, ["Alice has a cat named Miso", "Alice works night shifts at the "
                           "hospital", "Alice plays tennis on Sundays"], user_id="alice")
    chat = LongTermMemory.from_defaults(offline_memory, user_id="alice", limit=1)

    assert await chat.aget() == []  # nothing said yet: no query, nothing injected
    await chat.aput(ChatMessage(role="user", content="What is my cat called?"))
    messages = await chat.aget()  # as agents call it: no input

    assert [m.role.value for m in messages] == ["system", "user"]
    assert "Alice has a cat named Miso" in messages[0].content
    assert "tennis" not in messages[0].content
    # An explicit input is the query instead, and the stored history is unchanged.
    by_input = await chat.aget(input="When does she play tennis?")
    assert "Alice plays tennis on Sundays" in by_input[0].content
    assert [m.content for m in await chat.aget_all()] == ["What is my cat called?"]


async def test_memories_merge_into_an_existing_system_message(offline_memory):
    store(offline_memory, ["Alice prefers answers in French"], user_id="alice")
    chat = LongTermMemory.from_defaults(
        offline_memory, user_id="alice", memory_prompt="Known {about you}:\n{memories}",
        chat_history=[ChatMessage(role="system", content="Be brief.")])
    await chat.aput(ChatMessage(role="user", content="Which language should you use?"))
    messages = chat.get()  # the blocking API gives the same result

    assert [m.role.value for m in messages] == ["system", "user"]
    assert messages[0].content == \
        "Be brief.\n\nKnown {about you}:\n- Alice prefers answers in French"
    assert offline_memory.get_all(user_id="alice").results[0].memory == \
        "Alice prefers answers in French"  # seeding chat_history extracted nothing new


async def test_works_over_llamaindex_memory_and_async_engine(offline_memory):
    """Any BaseMemory as short-term store, and AsyncMemory as the engine."""
    engine = offline_memory.async_memory
    short_term = ChatMemory.from_defaults(session_id="s1", token_limit=4000)
    chat = LongTermMemory(memory=engine, user_id="carol", short_term=short_term)
    await chat.aput(ChatMessage(role="user", content="My daughter is called Ines."))
    await chat.aput(ChatMessage(role="assistant", content="Lovely name!"))

    assert [m.memory for m in await engine.get_all(user_id="carol")] == \
        ["My daughter is called Ines"]
    later = LongTermMemory(memory=engine, user_id="carol")
    await later.aput(ChatMessage(role="user", content="What is my daughter's name?"))
    assert "My daughter is called Ines" in (await later.aget())[0].content


async def test_failed_extraction_keeps_the_turn_and_the_conversation_going(make_memory, llm):
    memory = make_memory()
    llm.queue("not json", "still not json")  # the reply and its one re-ask
    chat = LongTermMemory.from_defaults(memory, user_id="alice")

    await chat.aput(ChatMessage(role="user", content="I moved to Porto last month."))
    await chat.aput(ChatMessage(role="assistant", content="Welcome to Porto!"))

    assert len(await chat.aget_all()) == 2
    pending = memory.pending()
    assert [m["content"] for m in pending[0].messages] == \
        ["I moved to Porto last month.", "Welcome to Porto!"]
    strict = LongTermMemory.from_defaults(memory, user_id="alice", raise_errors=True)
    llm.queue("not json", "still not json")
    await strict.aput(ChatMessage(role="user", content="I work as an architect."))
    with pytest.raises(LLMResponseError, match="could not be parsed"):
        await strict.aput(ChatMessage(role="assistant", content="Nice."))


async def test_reset_clears_the_conversation_but_not_long_term_memory(offline_memory):
    chat = LongTermMemory.from_defaults(offline_memory, user_id="alice")
    await chat.aput_messages([ChatMessage(role="user", content="I play the cello."),
                              ChatMessage(role="assistant", content="Wonderful.")])
    await chat.areset()
    assert await chat.aget_all() == []
    assert [m.memory for m in offline_memory.get_all(user_id="alice")] == ["I play the cello"]


def test_a_scope_is_required(offline_memory):
    with pytest.raises(MissingScopeError):
        LongTermMemory.from_defaults(offline_memory)
    with pytest.raises(ValueError, match="memories"):
        LongTermMemory.from_defaults(offline_memory, user_id="a", memory_prompt="no slot")


async def test_status_needs_a_short_term_memory_that_keeps_statuses(offline_memory):
    from llama_index.core.storage.chat_store.sql import MessageStatus

    chat = LongTermMemory.from_defaults(offline_memory, user_id="alice")  # ChatMemoryBuffer
    await chat.aput(ChatMessage(role="user", content="Hello there."))
    with pytest.raises(InvalidInputError, match="short_term=Memory.from_defaults"):
        await chat.aget_all(status=MessageStatus.ACTIVE)
    with pytest.raises(InvalidInputError, match="keeps message statuses"):
        await chat.areset(status=MessageStatus.ACTIVE)
    assert [m.content for m in await chat.aget_all()] == ["Hello there."]  # nothing changed

    over = LongTermMemory(memory=offline_memory, user_id="alice",
                          short_term=ChatMemory.from_defaults(session_id="s"))
    await over.aput(ChatMessage(role="user", content="Hello again."))
    assert len(await over.aget_all(status=MessageStatus.ARCHIVED)) == 0
    await over.areset(status=MessageStatus.ARCHIVED)  # only archived messages go
    assert [m.content for m in await over.aget_all(status=MessageStatus.ACTIVE)] == \
        ["Hello again."]


def test_options_it_does_not_have_are_refused(offline_memory):
    with pytest.raises(InvalidInputError, match="no option 'format_template'"):
        LongTermMemory.from_defaults(offline_memory, user_id="a", format_template="{text}")
    with pytest.raises(InvalidInputError, match="context holds scope ids only"):
        LongTermMemory.from_client(context={"user": "a"}, memory=offline_memory)


def test_an_unfinished_turn_on_an_async_engine_stays_counted(offline_memory):
    """At exit there is no event loop for an AsyncMemory: the turn cannot be written, and
    stays buffered and counted so the exit hook reports it instead of dropping it."""
    import asyncio

    from mem_integrations import BlockingCallError

    chat = LongTermMemory(memory=offline_memory.async_memory, user_id="alice")
    asyncio.run(chat.aput(ChatMessage(role="user", content="My train leaves at nine.")))
    assert chat.unfinished == 1
    with pytest.raises(BlockingCallError):
        chat.wait(1.0)
    assert chat.unfinished == 1
