"""Memory search as a LangChain retriever: documents, scopes, LCEL. (LangChain's standard
retriever suite runs in test_standard.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from mem_integrations import Memory
from mem_integrations.core.errors import BlockingCallError, MissingScopeError
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder
from mem_integrations.langchain import MemoryRetriever
from tests.langchain.fakes import fake_model


@pytest.fixture
def stocked(memory: Memory) -> Memory:
    memory.add([{"role": "user", "content": "I am vegetarian"},
                {"role": "user", "content": "I live in Lyon"}],
               user_id="alice", infer=False, metadata={"source": "onboarding"})
    memory.add("I eat steak every Sunday", user_id="bob", infer=False)
    return memory


def test_documents_carry_the_memory_and_its_metadata(stocked: Memory) -> None:
    docs = MemoryRetriever(memory=stocked, user_id="alice", k=2).invoke("what food do I eat?")
    assert [d.page_content for d in docs] == ["I am vegetarian", "I live in Lyon"]
    top = docs[0]
    item = stocked.get(top.id)
    assert top.metadata["id"] == item.id
    assert top.metadata["user_id"] == "alice"
    assert top.metadata["metadata"] == {"source": "onboarding"}
    assert top.metadata["created_at"] == item.created_at.isoformat()
    assert top.metadata["categories"] == []
    assert 0 < top.metadata["score"] <= 1 and top.metadata["score"] > docs[1].metadata["score"]


def test_scope_is_fixed_or_given_per_call(stocked: Memory) -> None:
    unscoped = MemoryRetriever(memory=stocked)
    with pytest.raises(MissingScopeError):
        unscoped.invoke("food")
    assert [d.page_content for d in unscoped.invoke("food", user_id="bob")] == \
        ["I eat steak every Sunday"]
    via_config = unscoped.invoke("food", config={"configurable": {"user_id": "alice"}}, k=1)
    assert [d.page_content for d in via_config] == ["I am vegetarian"]
    # per-call scope wins over the fixed one
    fixed = MemoryRetriever(memory=stocked, user_id="alice")
    assert {d.metadata["user_id"] for d in fixed.invoke("food", user_id="bob")} == {"bob"}


def test_threshold_and_filters_per_call(stocked: Memory) -> None:
    retriever = MemoryRetriever(memory=stocked, user_id="alice")
    assert len(retriever.invoke("vegetarian food", threshold=0.99)) == 0
    only = retriever.invoke("anything", filters={"source": "onboarding"})
    assert len(only) == 2
    assert retriever.invoke("anything", filters={"source": "import"}) == []


def test_retriever_in_an_lcel_chain(stocked: Memory) -> None:
    model = fake_model("You are vegetarian.")
    prompt = ChatPromptTemplate.from_messages([
        ("system", "What you know about the user:\n{context}"),
        ("human", "{question}"),
    ])
    retriever = MemoryRetriever(memory=stocked, k=1)

    def lines(docs: list[Document]) -> str:
        return "\n".join(f"- {d.page_content}" for d in docs)

    chain = ({"context": retriever | lines, "question": RunnablePassthrough()}
             | prompt | model | StrOutputParser())
    answer = chain.invoke("What should I cook for dinner?",
                          config={"configurable": {"user_id": "alice"}})
    assert answer == "You are vegetarian."
    system = model.seen[0][0]
    assert system.type == "system" and "- I am vegetarian" in system.content
    assert "steak" not in system.content  # bob's memory stays bob's


async def test_async_retrieval(stocked: Memory) -> None:
    retriever = MemoryRetriever(memory=stocked, user_id="bob", k=3)
    docs = await retriever.ainvoke("weekend meals")
    assert [d.page_content for d in docs] == ["I eat steak every Sunday"]
    docs = await retriever.ainvoke("where", config={"configurable": {"user_id": "alice"}})
    assert docs[0].page_content == "I live in Lyon"


async def test_works_on_an_async_memory(tmp_path: Any,
                                        embedder: OnnxEmbedder) -> None:
    from mem_integrations import AsyncMemory

    async with AsyncMemory({"llm": {"provider": "offline"}}, data_dir=tmp_path / "am",
                           embedder=embedder) as memory:
        await memory.add("I collect vinyl records", user_id="zoe", infer=False)
        retriever = MemoryRetriever(memory=memory, user_id="zoe")
        assert [d.page_content for d in await retriever.ainvoke("hobbies")] == \
            ["I collect vinyl records"]
        with pytest.raises(BlockingCallError, match="async"):
            retriever.invoke("hobbies")
