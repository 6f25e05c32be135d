"""`MemoryRetriever`: scored nodes from real searches, inside a real query engine."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.llms.mock import MockLLM  # noqa: E402
from llama_index.core.query_engine import RetrieverQueryEngine  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeWithScore  # noqa: E402

from mem_integrations import BlockingCallError, MissingScopeError  # noqa: E402
from mem_integrations.llamaindex import MemoryRetriever  # noqa: E402
from tests.llamaindex.scripted import store  # noqa: E402

ALICE = ["Alice lives in Lisbon", "Alice works as a pastry chef",
         "Alice has a dog called Pepper", "Alice is learning to surf"]


async def test_retrieve_returns_scored_nodes_best_first(offline_memory):
    ids = store(offline_memory, ALICE, user_id="alice")
    retriever = MemoryRetriever(offline_memory, user_id="alice", limit=2)

    nodes = retriever.retrieve("What is the name of her dog?")
    assert all(isinstance(n, NodeWithScore) for n in nodes)
    assert len(nodes) == 2
    assert nodes[0].node.get_content() == "Alice has a dog called Pepper"
    assert nodes[0].node.node_id == ids[2]
    assert nodes[0].node.metadata["memory_id"] == ids[2]
    assert nodes[0].score >= nodes[1].score and 0 < nodes[0].score <= 1
    # The async path gives the same answer.
    assert [n.node.node_id for n in await retriever.aretrieve("her dog's name?")][0] == ids[2]


async def test_retriever_in_a_query_engine(offline_memory):
    store(offline_memory, ALICE, user_id="alice")
    retriever = MemoryRetriever(offline_memory, user_id="alice", limit=1)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())

    response = engine.query("Where does Alice live?")
    # MockLLM answers with its prompt, so the answer shows what the LLM was given.
    assert "Alice lives in Lisbon" in str(response)
    assert "memory_id" not in str(response)  # ids stay out of the LLM's context
    assert [n.node.get_content() for n in response.source_nodes] == ["Alice lives in Lisbon"]

    async_response = await engine.aquery("Which kind of chef is Alice?")
    assert "pastry chef" in str(async_response)


def test_node_metadata_for_the_llm(offline_memory):
    store(offline_memory, ["Alice's sister is called Rita"], user_id="alice")
    node = MemoryRetriever(offline_memory, user_id="alice").retrieve("sister")[0].node
    for_llm = node.get_content(metadata_mode=MetadataMode.LLM)
    assert "created_at:" in for_llm and "Alice's sister is called Rita" in for_llm
    assert node.metadata["user_id"] == "alice" and "user_id" not in for_llm


def test_users_are_isolated_and_filters_apply(offline_memory):
    store(offline_memory, ALICE, user_id="alice")
    offline_memory.add("Bob lives in Oslo and builds boats", infer=False, user_id="bob",
                       metadata={"topic": "home"})
    offline_memory.add("Bob collects old maps of Norway", infer=False, user_id="bob",
                       metadata={"topic": "hobby"})

    bob = MemoryRetriever(offline_memory, user_id="bob", limit=10)
    assert {n.node.get_content() for n in bob.retrieve("Where does Alice live?")} == \
        {"Bob lives in Oslo and builds boats", "Bob collects old maps of Norway"}
    hobbies = MemoryRetriever(offline_memory, user_id="bob", filters={"topic": "hobby"})
    assert [n.node.get_content() for n in hobbies.retrieve("boats")] == \
        ["Bob collects old maps of Norway"]
    assert MemoryRetriever(offline_memory, user_id="carol").retrieve("anything") == []


def test_threshold_drops_weak_matches(offline_memory):
    store(offline_memory, ALICE, user_id="alice")
    strict = MemoryRetriever(offline_memory, user_id="alice", threshold=0.5)
    assert strict.retrieve("quantum chromodynamics lecture notes") == []
    assert strict.retrieve("Alice has a dog called Pepper")[0].score > 0.9


async def test_works_with_async_memory(offline_memory):
    store(offline_memory, ALICE, user_id="alice")
    retriever = MemoryRetriever(offline_memory.async_memory, user_id="alice", limit=1)
    assert (await retriever.aretrieve("surfing"))[0].node.get_content() == \
        "Alice is learning to surf"


def test_retriever_needs_a_scope(offline_memory):
    with pytest.raises(MissingScopeError):
        MemoryRetriever(offline_memory)


def test_sync_retrieve_with_async_memory_is_a_clear_error(offline_memory):
    # An AsyncMemory lives on its caller's event loop: blocking code needs a Memory.
    retriever = MemoryRetriever(offline_memory.async_memory, user_id="alice", limit=1)
    with pytest.raises(BlockingCallError, match="pass a Memory"):
        retriever.retrieve("Where does she live?")
