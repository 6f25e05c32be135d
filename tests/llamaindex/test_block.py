"""`LongTermMemoryBlock` inside LlamaIndex's `Memory`: memories in the system message,
flushed messages extracted, per-turn extraction, and an agent that sees the block."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.agent.workflow import FunctionAgent  # noqa: E402
from llama_index.core.base.llms.types import ChatMessage  # noqa: E402
from llama_index.core.memory import Memory as ChatMemory  # noqa: E402
from llama_index.core.storage.chat_store.sql import MessageStatus  # noqa: E402

from mem_integrations import InvalidInputError, MissingScopeError  # noqa: E402
from mem_integrations.llamaindex import LongTermMemoryBlock  # noqa: E402
from tests.conftest import facts  # noqa: E402
from tests.llamaindex.scripted import ScriptedAgentLLM, store, text_of  # noqa: E402


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def assistant(text: str) -> ChatMessage:
    return ChatMessage(role="assistant", content=text)


async def test_block_appears_in_the_system_message_of_memory_aget(offline_memory):
    store(offline_memory, ["Alice is training for the Berlin marathon",
                           "Alice's favourite food is ramen"], user_id="alice")
    block = LongTermMemoryBlock(memory=offline_memory, user_id="alice", limit=1)
    chat = ChatMemory.from_defaults(session_id="s1", memory_blocks=[block])

    await chat.aput(user("Which race am I training for?"))
    messages = await chat.aget()

    assert [m.role.value for m in messages] == ["system", "user"]
    system = text_of(messages[0])
    assert "<long_term_memory>" in system and "</long_term_memory>" in system
    assert "- Alice is training for the Berlin marathon" in system
    assert "ramen" not in system  # limit=1: only the most relevant memory


async def test_block_adds_nothing_when_there_are_no_memories(offline_memory):
    block = LongTermMemoryBlock(memory=offline_memory, user_id="nobody")
    chat = ChatMemory.from_defaults(session_id="s1", memory_blocks=[block])
    assert await block.aget([user("Hello there, who am I?")]) == ""
    assert await block.aget([]) == ""

    await chat.aput(user("Hello there, who am I?"))
    messages = await chat.aget()
    assert [m.role.value for m in messages] == ["user"]


async def test_memory_aget_input_is_part_of_the_query(offline_memory):
    store(offline_memory, ["Bob keeps his passport in the blue drawer",
                           "Bob's sister lives in Montreal"], user_id="bob")
    block = LongTermMemoryBlock(memory=offline_memory, user_id="bob", limit=1)
    chat = ChatMemory.from_defaults(session_id="s1", memory_blocks=[block])
    messages = await chat.aget(input="Where is my passport?")
    assert "blue drawer" in text_of(messages[0])


async def test_flushed_messages_are_extracted_with_their_session(offline_memory):
    block = LongTermMemoryBlock(memory=offline_memory, user_id="alice",
                                metadata={"source": "chat"})
    # A tiny token budget makes LlamaIndex flush old messages out of the queue.
    chat = ChatMemory.from_defaults(session_id="session-7", memory_blocks=[block],
                                    token_limit=60, chat_history_token_ratio=0.5,
                                    token_flush_size=20)
    await chat.aput_messages([user("I have two kids named Lea and Tom."),
                              assistant("That is lovely, tell me more about them.")])
    assert offline_memory.get_all(user_id="alice").results == []  # nothing flushed yet
    await chat.aput_messages([user("Lea is seven and loves drawing horses every day."),
                              assistant("Seven is a great age for drawing horses.")])

    stored = offline_memory.get_all(user_id="alice").results
    assert [m.memory for m in stored] == ["I have two kids named Lea and Tom"]
    assert stored[0].metadata == {"source": "chat", "session_id": "session-7"}


async def test_extract_every_turn_with_aput_turn(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Drives a red Fiat Panda"), facts("Dentist appointment on Friday at noon"))
    block = LongTermMemoryBlock(memory=memory, user_id="alice", accept_short_term_memory=False)
    chat = ChatMemory.from_defaults(session_id="s2", memory_blocks=[block],
                                    token_limit=40, chat_history_token_ratio=0.5,
                                    token_flush_size=15)
    await chat.aput_messages([user("I drive a red Fiat Panda."), assistant("Nice car.")])
    await block.aput_turn(chat)
    assert llm.chat_calls == 1 and "red Fiat Panda" in llm.calls[0].user
    await chat.aput_messages([user("My dentist appointment is on Friday at noon."),
                              assistant("I will remind you on Thursday.")])
    assert len(await chat.aget_all(status=MessageStatus.ARCHIVED)) > 0  # a flush happened
    await block.aput_turn(chat)

    # Each turn was extracted once, right after it, and only that turn; the flushed
    # messages were not extracted a second time.
    assert llm.chat_calls == 2
    assert "Fiat" not in llm.calls[1].user and "dentist" in llm.calls[1].user
    assert sorted(m.memory for m in memory.get_all(user_id="alice")) == \
        ["Dentist appointment on Friday at noon", "Drives a red Fiat Panda"]


async def test_one_add_call_for_all_flushed_messages(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("User drinks oat milk"))
    block = LongTermMemoryBlock(memory=memory, user_id="alice")
    await block.aput([user("I only drink oat milk."), assistant("Noted."),
                      ChatMessage(role="tool", content="lookup result"),
                      user("Thanks!")])
    assert llm.chat_calls == 1
    assert "lookup result" not in llm.calls[0].user
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["User drinks oat milk"]


async def test_agent_sees_the_block_in_its_system_message(offline_memory):
    store(offline_memory, ["Carol is vegetarian"], user_id="carol")
    store(offline_memory, ["Dave loves steak"], user_id="dave")
    script = ScriptedAgentLLM("Here is a vegetarian menu.")
    agent = FunctionAgent(tools=[], llm=script.llm(), system_prompt="You plan menus.")
    block = LongTermMemoryBlock(memory=offline_memory, user_id="carol")
    chat = ChatMemory.from_defaults(session_id="carol-1", memory_blocks=[block])

    await agent.run("Plan my dinner", memory=chat)

    system = script.system_text(0)
    assert "You plan menus." in system
    assert "<long_term_memory>" in system and "Carol is vegetarian" in system
    assert "steak" not in system  # another user's memory never leaks in


async def test_truncation_drops_the_least_relevant_memories(offline_memory):
    block = LongTermMemoryBlock(memory=offline_memory, user_id="a", priority=1)
    content = "- first memory here\n- second memory here\n- third memory here"
    assert await block.atruncate(content, 5) == "- first memory here\n- second memory here"
    assert await block.atruncate(content, 1000) is None


def test_block_needs_a_scope(offline_memory):
    with pytest.raises(MissingScopeError):
        LongTermMemoryBlock(memory=offline_memory)
    with pytest.raises(ValueError):
        LongTermMemoryBlock(memory="not a memory", user_id="a")


def test_options_it_does_not_have_or_cannot_use_are_refused(offline_memory):
    with pytest.raises(InvalidInputError, match="no option 'similarity_top_k'"):
        LongTermMemoryBlock(memory=offline_memory, user_id="a", similarity_top_k=2)
    with pytest.raises(InvalidInputError, match="format_template must be a template"):
        LongTermMemoryBlock(memory=offline_memory, user_id="a", format_template="no slot")


def test_graph_relations_follow_the_memories():
    from mem_integrations.core.models import MemoryItem, Relation, SearchResult
    from mem_integrations.rendering import format_memories

    result = SearchResult(results=[MemoryItem(id="1", memory="Alice lives in Lyon")],
                          relations=[Relation(source="alice", relationship="sister_of",
                                              destination="chloe")])
    assert format_memories(result) == \
        "- Alice lives in Lyon\nRelations:\n- alice sister of chloe"
    assert format_memories(SearchResult()) == ""
