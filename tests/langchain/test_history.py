"""The chat history: the raw thread is durable, and each new turn (only the new turn) is
fed to long-term memory, in the foreground or the background, without losing messages."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from mem_integrations import Memory
from mem_integrations.core.errors import ProviderError
from mem_integrations.langchain import MemoryChatMessageHistory
from mem_integrations.testing import Fault, ScriptedLLMServer
from tests.conftest import facts, ops
from tests.langchain.fakes import FakeToolModel, fake_model

# RunnableWithMessageHistory is deprecated in favour of LangGraph persistence, yet still
# what LangChain chains use; this history is for them.
pytestmark = pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated")


def chat_chain(model: FakeToolModel, factory: Callable[..., MemoryChatMessageHistory],
               **kwargs: Any) -> RunnableWithMessageHistory:
    prompt = ChatPromptTemplate.from_messages([
        ("system", "You are a helpful assistant."),
        MessagesPlaceholder("history"),
        ("human", "{question}"),
    ])
    return RunnableWithMessageHistory(prompt | model, factory, input_messages_key="question",
                                      history_messages_key="history", **kwargs)


def test_chain_keeps_the_thread_and_feeds_long_term_memory(memory: Memory) -> None:
    model = fake_model("Nice to meet you, Sam.", "You told me you are Sam.")
    chain = chat_chain(model, lambda session_id: MemoryChatMessageHistory(
        memory, session_id, user_id="sam"))
    config = {"configurable": {"session_id": "s1"}}

    chain.invoke({"question": "My name is Sam and I teach physics."}, config=config)
    chain.invoke({"question": "What is my name?"}, config=config)

    # the second model call saw the first exchange
    second = [m.content for m in model.seen[1]]
    assert second[1:4] == ["My name is Sam and I teach physics.", "Nice to meet you, Sam.",
                           "What is my name?"]
    # the raw thread is kept, in order
    history = MemoryChatMessageHistory(memory, "s1", user_id="sam")
    assert [m.content for m in history.messages] == [
        "My name is Sam and I teach physics.", "Nice to meet you, Sam.",
        "What is my name?", "You told me you are Sam."]
    assert history.path == memory.config.data_dir / "chat_history.db"
    # the turns reached long-term memory, tagged with their session
    [item] = memory.get_all(user_id="sam").results
    assert item.memory == "My name is Sam and I teach physics"
    assert item.metadata == {"session_id": "s1"}


def test_thread_survives_a_restart_and_sessions_stay_apart(make_lc_memory: Any,
                                                           tmp_path: Path) -> None:
    first = make_lc_memory(data_dir=tmp_path / "d")
    MemoryChatMessageHistory(first, "a", user_id="u").add_messages(
        [HumanMessage("I live near the harbour."), AIMessage("Noted.")])
    MemoryChatMessageHistory(first, "b", user_id="u").add_messages([HumanMessage("Hi!")])
    first.close()

    again = make_lc_memory(data_dir=tmp_path / "d")
    assert [m.content for m in MemoryChatMessageHistory(again, "a", user_id="u").messages] == \
        ["I live near the harbour.", "Noted."]
    assert [m.content for m in MemoryChatMessageHistory(again, "b", user_id="u").messages] == \
        ["Hi!"]
    assert [i.memory for i in again.search("where do I live", user_id="u").results] == \
        ["I live near the harbour"]


def test_only_new_turns_are_sent(make_lc_memory: Any, llm: ScriptedLLMServer) -> None:
    memory = make_lc_memory(llm={"base_url": llm.base_url, "api_key": "sk-test",
                                 "max_retries": 0, "timeout": 10})
    history = MemoryChatMessageHistory(memory, "s", user_id="kim")
    llm.queue(facts("Kim owns a sailboat"), facts("Kim sails on Lake Geneva"),
              ops({"event": "ADD", "text": "Kim sails on Lake Geneva"}))  # if reconciled
    history.add_messages([HumanMessage("I own a sailboat."), AIMessage("Lovely!")])
    history.add_messages([HumanMessage("I sail on Lake Geneva."), AIMessage("Beautiful.")])

    extraction_prompts = [c.user for c in llm.calls if "extract" in c.system]
    assert len(extraction_prompts) == 2
    assert "sailboat" in extraction_prompts[0]
    assert "Lake Geneva" in extraction_prompts[1] and "sailboat" not in extraction_prompts[1]
    assert sorted(i.memory for i in memory.get_all(user_id="kim").results) == \
        ["Kim owns a sailboat", "Kim sails on Lake Geneva"]


def test_a_crashed_add_is_retried_with_the_next_turn(memory: Memory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    core = memory.async_memory
    real_add = core.add
    sent: list[list[str]] = []

    async def flaky_add(messages: Any, **kwargs: Any) -> Any:
        sent.append([m.content for m in messages])
        if len(sent) == 1:
            raise RuntimeError("process interrupted")
        return await real_add(messages, **kwargs)

    monkeypatch.setattr(core, "add", flaky_add)
    history = MemoryChatMessageHistory(memory, "s", user_id="lee")
    with pytest.raises(RuntimeError):
        history.add_messages([HumanMessage("I moved to Quito last year.")])
    history.add_messages([HumanMessage("I work at a bakery there.")])

    assert sent == [["I moved to Quito last year."],
                    ["I moved to Quito last year.", "I work at a bakery there."]]
    assert sorted(i.memory for i in memory.get_all(user_id="lee").results) == \
        ["I moved to Quito last year", "I work at a bakery there"]


def test_llm_failure_keeps_messages_and_is_not_resent(make_lc_memory: Any,
                                                      llm: ScriptedLLMServer) -> None:
    memory = make_lc_memory(llm={"base_url": llm.base_url, "api_key": "sk-test",
                                 "max_retries": 0, "timeout": 10})
    history = MemoryChatMessageHistory(memory, "s", user_id="max")
    llm.queue(Fault(status=500))
    with pytest.raises(ProviderError):
        history.add_messages([HumanMessage("My passport expires in May.")])
    assert [m.content for m in history.messages] == ["My passport expires in May."]
    [pending] = memory.pending()
    assert pending.messages[0]["content"] == "My passport expires in May."

    llm.queue(facts("Max has a dog"), ops({"event": "ADD", "text": "Max has a dog"}))
    history.add_messages([HumanMessage("I have a dog.")])
    assert "I have a dog." in llm.calls[1].user
    assert "passport" not in llm.calls[1].user  # kept as a pending add, not sent twice


def test_background_add_does_not_hold_the_chain(make_lc_memory: Any) -> None:
    with ScriptedLLMServer(delay=1.5) as slow:
        memory = make_lc_memory(llm={"base_url": slow.base_url, "api_key": "sk-test",
                                     "max_retries": 0, "timeout": 10})
        history = MemoryChatMessageHistory(memory, "s", user_id="ned", background=True)
        slow.queue(facts("Ned plays the cello"))
        started = time.monotonic()
        history.add_messages([HumanMessage("I play the cello.")])
        assert time.monotonic() - started < 1.0
        assert [m.content for m in history.messages] == ["I play the cello."]
        history.wait_for_memory(timeout=30)
        assert [i.memory for i in memory.get_all(user_id="ned").results] == \
            ["Ned plays the cello"]


async def test_async_chain(memory: Memory) -> None:
    model = fake_model("Got it.", "Sure.")
    chain = chat_chain(model, lambda session_id: MemoryChatMessageHistory(
        memory, session_id, user_id="ola"))
    config = {"configurable": {"session_id": "s"}}
    await chain.ainvoke({"question": "I am learning Japanese."}, config=config)
    await chain.ainvoke({"question": "Any tips?"}, config=config)
    history = MemoryChatMessageHistory(memory, "s", user_id="ola")
    assert len(await history.aget_messages()) == 4
    assert [i.memory for i in memory.get_all(user_id="ola").results] == \
        ["I am learning Japanese"]
    await history.aclear()
    assert await history.aget_messages() == []
    assert len(memory.get_all(user_id="ola").results) == 1  # long-term memory is kept


def test_history_factory_with_user_and_conversation(memory: Memory) -> None:
    from langchain_core.runnables import ConfigurableFieldSpec

    model = fake_model("Hello Uma.", "Hello Vic.")
    chain = chat_chain(
        model,
        lambda user_id, conversation_id: MemoryChatMessageHistory(
            memory, conversation_id, user_id=user_id),
        history_factory_config=[
            ConfigurableFieldSpec(id="user_id", annotation=str),
            ConfigurableFieldSpec(id="conversation_id", annotation=str)])
    chain.invoke({"question": "I am Uma, a pilot."},
                 config={"configurable": {"user_id": "uma", "conversation_id": "c1"}})
    chain.invoke({"question": "I am Vic, a chef."},
                 config={"configurable": {"user_id": "vic", "conversation_id": "c2"}})
    assert [i.memory for i in memory.get_all(user_id="uma").results] == ["I am Uma, a pilot"]
    assert [i.memory for i in memory.get_all(user_id="vic").results] == ["I am Vic, a chef"]


def test_thread_only_mode_needs_no_scope(memory: Memory) -> None:
    history = MemoryChatMessageHistory(memory, "plain", remember=False)
    history.add_messages([HumanMessage("I have three cats at home.")])
    assert len(history.messages) == 1
    assert memory.users().results == []
    with pytest.raises(ValueError, match="scope"):
        MemoryChatMessageHistory(memory, "plain")
