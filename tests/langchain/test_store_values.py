"""The LangGraph store keeps values exactly and refuses what it cannot keep, typed and
before anything is written; sync calls on a store over an AsyncMemory are handed to its
loop from other threads, as in LangGraph's async stores."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mem_integrations import AsyncMemory, Memory
from mem_integrations.core.errors import (
    BlockingCallError,
    ConfigurationError,
    InvalidInputError,
    LoopThreadError,
    MemoryLayerError,
)
from mem_integrations.langchain import MemoryStore
from tests.langgraph_upstream.embed_test_utils import CharacterEmbeddings

NS = ("memories", "alice")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
# LangMem's shape ({"content": ...}) and other text keys the store indexes by default,
# with the whitespace and odd characters that used to be normalised away
item_values = st.dictionaries(st.text(), json_values, max_size=5) | st.fixed_dictionaries(
    {"content": st.text()}, optional={"text": st.text(), "memory": json_values})


@pytest.fixture(params=["qdrant_edge", "qdrant_client"])
def store(request: pytest.FixtureRequest, make_lc_memory: Any) -> MemoryStore:
    return MemoryStore(make_lc_memory(backend=request.param))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=item_values)
def test_any_json_value_round_trips_exactly(store: MemoryStore, value: dict[str, Any]) -> None:
    store.put(NS, "k", value)
    assert store.get(NS, "k").value == value
    [found] = store.search(NS, limit=1)
    assert found.value == value


def test_the_searched_text_is_normalised_not_the_value(store: MemoryStore) -> None:
    store.put(NS, "a", {"content": "line\n"})
    store.put(NS, "b", {"text": "  padded tea notes  ", "n": 1})
    store.put(NS, "c", {"content": "nul \x00 and emoji \U0001f375"})
    assert store.get(NS, "a").value == {"content": "line\n"}
    assert store.get(NS, "b").value == {"text": "  padded tea notes  ", "n": 1}
    assert store.get(NS, "c").value == {"content": "nul \x00 and emoji \U0001f375"}
    assert store.search(NS, query="tea notes")[0].key == "b"
    memory = store.engine.async_memory
    texts = {m.memory for m in store.engine.run(memory.get_all(user_id="alice")).results}
    assert texts == {"line", "padded tea notes", "nul \ufffd and emoji \U0001f375"}


def test_large_values_are_kept_whole_up_to_the_cap(make_lc_memory: Any) -> None:
    memory = make_lc_memory()
    store = MemoryStore(memory)
    big = {"content": "a long document " + "x" * 1_000_000, "parts": list(range(5000))}
    store.put(NS, "big", big)
    assert store.get(NS, "big").value == big
    assert store.search(NS, query="a long document")[0].key == "big"

    small = MemoryStore(memory, max_value_bytes=1000)
    with pytest.raises(InvalidInputError, match="max_value_bytes"):
        small.put(NS, "too-big", {"content": "y" * 2000})
    assert small.get(NS, "too-big") is None
    with pytest.raises(ConfigurationError):
        MemoryStore(memory, max_value_bytes=0)


@pytest.mark.parametrize("bad", [{"v": object()}, {"v": float("nan")}, {1: "int key"}, {"v": {None: 1}},
                                 {"v": {"deep": float("inf")}}])
def test_values_without_a_json_form_are_refused(store: MemoryStore, bad: dict[Any, Any]) -> None:
    with pytest.raises(InvalidInputError, match="JSON"):
        store.put(NS, "k", bad)
    assert store.get(NS, "k") is None


def test_index_config_and_embeddings(make_lc_memory: Any, embedder: Any) -> None:
    store = MemoryStore(make_lc_memory(), index={"fields": ["text"]})
    assert store.index_config["fields"] == ["text"]
    assert store.index_config["dims"] == embedder.dimension
    vector = store.embeddings.embed_query("hello")
    assert len(vector) == embedder.dimension
    assert store.index_config["embed"] is store.embeddings
    with pytest.raises(ConfigurationError, match="embedder"):
        MemoryStore(make_lc_memory(), index={"embed": CharacterEmbeddings(dims=8)})
    with pytest.raises(ConfigurationError, match="dims"):
        MemoryStore(make_lc_memory(), index={"dims": 7})
    with pytest.raises(ConfigurationError, match="once"):
        MemoryStore(make_lc_memory(), fields=["a"], index={"fields": ["b"]})


@pytest.mark.parametrize("backend", ["qdrant_edge", "qdrant_client"])
async def test_sync_calls_over_an_async_memory(backend: str, tmp_path: Path,
                                               embedder: Any) -> None:
    vector_store: dict[str, Any] = {"engine": backend}
    if backend == "qdrant_client":
        vector_store["path"] = str(tmp_path / "qdrant_local")
    async with AsyncMemory({"llm": {"provider": "offline"}, "vector_store": vector_store},
                           data_dir=tmp_path / "data", embedder=embedder) as memory:
        store = MemoryStore(memory)  # created on this loop: its sync calls go to it
        await asyncio.to_thread(store.put, NS, "k", {"content": "Alice drinks green tea"})
        found = await asyncio.to_thread(store.search, NS, query="tea")
        assert [i.key for i in found] == ["k"]
        assert (await store.aget(NS, "k")).value == {"content": "Alice drinks green tea"}
        with pytest.raises(asyncio.InvalidStateError) as raised:
            store.get(NS, "k")  # on the loop's own thread it would wait for itself
        assert isinstance(raised.value, LoopThreadError)
        assert isinstance(raised.value, MemoryLayerError)


def test_a_store_over_an_async_memory_without_a_loop(tmp_path: Path, embedder: Any) -> None:
    memory = AsyncMemory({"llm": {"provider": "offline"}}, data_dir=tmp_path / "d",
                         embedder=embedder)
    with pytest.raises(BlockingCallError, match="no event loop"):
        MemoryStore(memory).get(NS, "k")
    asyncio.run(memory.close())


def test_items_kept_by_an_older_layout_still_read(memory: Memory) -> None:
    # items written before values were kept as JSON text held the value as a dict
    from mem_integrations.core.models import PutItem
    from mem_integrations.langchain.store import item_id
    lg = {"namespace": list(NS), "key": "old", "value": {"content": "Old item"},
          "indexed": 1, "depth": 2, "ns_0": NS[0], "ns_1": NS[1], "text_field": "content"}
    memory.put_many([PutItem(id=item_id(NS, "old"), text="Old item", user_id="alice",
                             metadata={"langgraph": lg}, memory_type="langgraph_item")])
    assert MemoryStore(memory).get(NS, "old").value == {"content": "Old item"}
