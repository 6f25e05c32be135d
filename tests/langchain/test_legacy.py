"""The legacy `BaseMemory` for langchain-classic chains."""

from __future__ import annotations

import importlib
import sys

import pytest
from langchain_core.messages import SystemMessage

from mem_integrations import Memory
from tests.langchain.fakes import fake_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::langchain_core._api.LangChainDeprecationWarning")


def test_conversation_chain_remembers_across_chains(memory: Memory) -> None:
    pytest.importorskip("langchain_classic")
    from langchain_classic.chains import ConversationChain

    from mem_integrations.langchain import LongTermMemory

    model = fake_model("Nice, a teacher!", "You teach maths.")
    first = ConversationChain(llm=model, memory=LongTermMemory(memory=memory, user_id="ivy"))
    first.invoke({"input": "I teach maths at a high school."})
    assert [i.memory for i in memory.get_all(user_id="ivy").results] == \
        ["I teach maths at a high school"]

    # a new chain (another process, another day) still knows
    second = ConversationChain(llm=model, memory=LongTermMemory(memory=memory, user_id="ivy"))
    assert second.invoke({"input": "What is my job?"})["response"] == "You teach maths."
    prompt = model.seen[1][0].content
    assert "Relevant facts from earlier conversations:\n- I teach maths at a high school" in prompt


async def test_variables_messages_and_clear(memory: Memory) -> None:
    pytest.importorskip("langchain_classic")
    from mem_integrations.langchain import LongTermMemory

    memory.add("I am allergic to cats", user_id="jo", infer=False)
    memory.add("I am allergic to dust", user_id="kai", infer=False)
    texts = LongTermMemory(memory=memory, user_id="jo", memory_key="facts")
    assert texts.memory_variables == ["facts"]
    assert texts.load_memory_variables({"input": "pets?"}) == {
        "facts": "Relevant facts from earlier conversations:\n- I am allergic to cats"}

    messages = LongTermMemory(memory=memory, user_id="jo", return_messages=True)
    [system] = (await messages.aload_memory_variables({"question": "pets?"}))["history"]
    assert isinstance(system, SystemMessage) and "allergic to cats" in system.content
    await messages.asave_context({"question": "I also have a parrot named Kiwi."},
                                 {"answer": "Cute!"})
    assert len(memory.get_all(user_id="jo").results) == 2

    texts.clear()
    assert memory.get_all(user_id="jo").results == []
    assert len(memory.get_all(user_id="kai").results) == 1  # another scope is untouched


def test_needs_a_scope(memory: Memory) -> None:
    pytest.importorskip("langchain_classic")
    from mem_integrations.langchain import LongTermMemory

    with pytest.raises(ValueError, match="scope"):
        LongTermMemory(memory=memory)


def test_clear_import_error_without_langchain_classic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_classic", None)
    monkeypatch.setitem(sys.modules, "langchain_classic.base_memory", None)
    monkeypatch.delitem(sys.modules, "mem_integrations.langchain.legacy", raising=False)
    with pytest.raises(ImportError, match="pip install langchain-classic"):
        importlib.import_module("mem_integrations.langchain.legacy")
