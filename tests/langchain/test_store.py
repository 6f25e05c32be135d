"""The LangGraph store kept in the engine: BaseStore semantics (checked against LangGraph's
own InMemoryStore where they must agree), semantic search with the engine's embedder,
items visible as memories, `create_agent(store=...)` and LangMem's tools."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.tools import ToolRuntime, tool
from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp
from langgraph.store.memory import InMemoryStore

from mem_integrations import Memory
from mem_integrations.langchain import MemoryStore
from mem_integrations.langchain.store import item_id
from tests.langchain.fakes import fake_model, tool_call


@pytest.fixture(params=["qdrant_edge", "qdrant_client"])
def store(request: pytest.FixtureRequest, make_lc_memory: Any) -> MemoryStore:
    return MemoryStore(make_lc_memory(backend=request.param))


def test_put_get_update_delete(store: MemoryStore) -> None:
    ns = ("users", "alice")
    assert store.get(ns, "prefs") is None
    store.put(ns, "prefs", {"theme": "dark", "size": 3})
    first = store.get(ns, "prefs")
    assert first is not None
    assert (first.namespace, first.key, first.value) == (ns, "prefs", {"theme": "dark", "size": 3})
    assert first.created_at == first.updated_at

    time.sleep(0.01)
    store.put(ns, "prefs", {"theme": "light"})
    second = store.get(ns, "prefs")
    assert second.value == {"theme": "light"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    assert store.get(("users", "bob"), "prefs") is None
    assert len(store.search(ns)) == 1  # replaced, not duplicated

    store.delete(ns, "prefs")
    assert store.get(ns, "prefs") is None
    store.delete(ns, "prefs")  # deleting twice is fine


def test_search_prefix_filters_and_paging_match_inmemorystore(store: MemoryStore) -> None:
    reference = InMemoryStore()
    items = [
        (("docs", "a"), "1", {"kind": "report", "score": 4.5, "tags": ["x"]}),
        (("docs", "a"), "2", {"kind": "memo", "score": 2, "meta": {"lang": "en"}}),
        (("docs", "b"), "3", {"kind": "report", "score": 1}),
        (("mail", "a"), "4", {"kind": "report", "score": 5}),
    ]
    for ns, key, value in items:
        for s in (store, reference):
            s.put(ns, key, value)

    def keys(s: Any, prefix: tuple[str, ...], **kw: Any) -> list[str]:
        return sorted(i.key for i in s.search(prefix, **kw))

    cases: list[tuple[tuple[str, ...], dict[str, Any]]] = [
        ((), {}), (("docs",), {}), (("docs", "a"), {}), (("nope",), {}),
        (("docs",), {"filter": {"kind": "report"}}),
        ((), {"filter": {"score": {"$gt": 2}}}),
        ((), {"filter": {"score": {"$gte": 2, "$lt": 5}}}),
        ((), {"filter": {"kind": {"$ne": "report"}}}),
        ((), {"filter": {"meta": {"lang": "en"}}}),
        ((), {"filter": {"tags": ["x"]}}),
        ((), {"filter": {"missing": 1}}),
    ]
    for prefix, kwargs in cases:
        assert keys(store, prefix, **kwargs) == keys(reference, prefix, **kwargs), (prefix, kwargs)

    # no query: newest first, paged
    assert [i.key for i in store.search((), limit=2)] == ["4", "3"]
    assert [i.key for i in store.search((), limit=2, offset=2)] == ["2", "1"]
    assert all(i.score is None for i in store.search(()))


def test_list_namespaces_matches_inmemorystore(store: MemoryStore) -> None:
    reference = InMemoryStore()
    for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("f", "b"), ("f", "g", "c")]:
        for s in (store, reference):
            s.put(ns, "k", {"v": 1})
    cases: list[dict[str, Any]] = [
        {}, {"prefix": ("a",)}, {"prefix": ("a", "b")}, {"suffix": ("c",)},
        {"prefix": ("*", "b")}, {"suffix": ("b", "*")}, {"max_depth": 1},
        {"prefix": ("a",), "max_depth": 2}, {"limit": 2}, {"limit": 2, "offset": 2},
        {"prefix": ("zzz",)},
    ]
    for kwargs in cases:
        assert store.list_namespaces(**kwargs) == reference.list_namespaces(**kwargs), kwargs


def test_semantic_search_uses_the_engines_embedder(store: MemoryStore) -> None:
    ns = ("memories", "alice")
    store.put(ns, "diet", {"content": "Alice is vegetarian and avoids fish"})
    store.put(ns, "job", {"content": "Alice works as a civil engineer"})
    store.put(ns, "pet", {"content": "Alice has a grey cat called Miso"})
    store.put(ns, "secret", {"content": "Alice's locker code is 4411"}, index=False)
    store.put(("memories", "bob"), "diet", {"content": "Bob is vegetarian too"})

    results = store.search(ns, query="what food does she eat?")
    assert results[0].key == "diet" and results[0].score is not None
    assert all(r.namespace == ns for r in results)
    assert [r.key for r in results if r.score is None] == ["secret"]  # listed, never ranked
    assert results[-1].key == "secret"

    # a filtered semantic search ranks exactly the items that pass the filter
    store.put(ns, "diet2", {"content": "Alice loves spicy vegetarian food", "year": 2024})
    filtered = store.search(ns, query="vegetarian food", filter={"year": 2024})
    assert [(r.key, r.score is not None) for r in filtered] == [("diet2", True)]
    paged = store.search(ns, query="vegetarian food", limit=1, offset=1)
    assert len(paged) == 1 and paged[0].key in {"diet", "diet2"}


def test_items_are_memories_of_the_mapped_scope(memory: Memory) -> None:
    store = MemoryStore(memory)  # default: the last label is the user id
    store.put(("memories", "alice"), "k1", {"content": "Alice plays the violin"})
    [found] = memory.search("music", user_id="alice").results
    assert found.memory == "Alice plays the violin"
    assert found.memory_type == "langgraph_item"
    assert found.id == item_id(("memories", "alice"), "k1")
    assert memory.search("music", user_id="bob").results == []
    assert [h.event for h in memory.history(found.id)] == ["ADD"]

    # the engine's changes show through the store
    memory.update(found.id, text="Alice plays the cello")
    assert store.get(("memories", "alice"), "k1").value == {"content": "Alice plays the cello"}
    memory.delete(found.id)
    assert store.get(("memories", "alice"), "k1") is None


def test_scope_mappings(memory: Memory) -> None:
    by_position = MemoryStore(memory, scope={"user_id": 0, "agent_id": 2})
    by_position.put(("carol", "memories", "planner"), "k", {"text": "Carol visits Rome in May"})
    [item] = memory.get_all(user_id="carol").results
    assert (item.user_id, item.agent_id) == ("carol", "planner")

    custom = MemoryStore(memory, scope=lambda ns: {"run_id": "-".join(ns)})
    custom.put(("session", "42"), "k", {"text": "Temporary note for this run"})
    assert [i.memory for i in memory.get_all(run_id="session-42").results] == \
        ["Temporary note for this run"]

    with pytest.raises(InvalidNamespaceError, match="scope"):
        MemoryStore(memory, scope={"user_id": 3}).put(("a", "b"), "k", {"text": "x y z"})


def test_index_fields_choose_the_memory_text(memory: Memory) -> None:
    store = MemoryStore(memory, fields=["title", "body"])
    store.put(("docs", "u1"), "d", {"title": "Trip plan", "body": "Hike in the Alps", "n": 1})
    # one vector per indexed text: the item's memory, and a field memory pointing at it
    found = {i.memory: i for i in memory.get_all(user_id="u1").results}
    assert set(found) == {"Trip plan", "Hike in the Alps"}
    assert found["Trip plan"].memory_type == "langgraph_item"
    assert found["Hike in the Alps"].memory_type == "langgraph_field"
    [hit] = store.search(("docs",), query="mountain hiking")
    assert hit.key == "d" and hit.value["body"] == "Hike in the Alps"
    store.put(("docs", "u1"), "d", {"title": "Trip plan"})  # fewer texts: the extra goes
    assert [i.memory for i in memory.get_all(user_id="u1").results] == ["Trip plan"]
    store.put(("docs", "u1"), "e", {"title": "Budget"}, index=["title"])
    assert store.get(("docs", "u1"), "e").value == {"title": "Budget"}
    json_text = MemoryStore(memory)
    json_text.put(("docs", "u2"), "f", {"count": 3})
    assert [i.memory for i in memory.get_all(user_id="u2").results] == ['{"count": 3}']


def test_invalid_namespaces_and_values(store: MemoryStore) -> None:
    for bad in [("a.b",), ("",), ("langgraph", "x")]:
        with pytest.raises(InvalidNamespaceError):
            store.put(bad, "k", {"v": 1})
    with pytest.raises(ValueError, match="JSON"):
        store.put(("a",), "k", {"v": object()})
    with pytest.raises(InvalidNamespaceError):  # ops given straight to batch are checked too
        store.batch([GetOp(("a.b",), "k")])


def test_items_survive_a_restart(make_lc_memory: Any, tmp_path: Any) -> None:
    first = make_lc_memory(data_dir=tmp_path / "d")
    MemoryStore(first).put(("memories", "u"), "k", {"content": "Uses a standing desk"})
    first.close()
    again = MemoryStore(make_lc_memory(data_dir=tmp_path / "d"))
    assert again.get(("memories", "u"), "k").value == {"content": "Uses a standing desk"}
    assert again.search(("memories",), query="desk")[0].key == "k"


async def test_async_api(store: MemoryStore) -> None:
    ns = ("notes", "zed")
    await store.aput(ns, "a", {"content": "Zed bakes sourdough bread"})
    await store.aput(ns, "b", {"content": "Zed drives an old van"})
    assert (await store.aget(ns, "a")).value["content"] == "Zed bakes sourdough bread"
    hits = await store.asearch(("notes",), query="baking")
    assert hits[0].key == "a"
    assert await store.alist_namespaces() == [ns]
    await store.adelete(ns, "a")
    assert await store.aget(ns, "a") is None


def test_batch_reads_before_writes(store: MemoryStore) -> None:
    ns = ("b", "u")
    results = store.batch([PutOp(ns, "k", {"v": 1}), GetOp(ns, "k"), PutOp(ns, "k", {"v": 2})])
    assert results == [None, None, None]  # as in LangGraph's stores
    assert store.get(ns, "k").value == {"v": 2}


# --- in agents -------------------------------------------------------------------------------


@dataclass
class Context:
    user_id: str


def test_create_agent_with_the_store(memory: Memory) -> None:
    store = MemoryStore(memory, scope={"user_id": 1})
    store.put(("users", "alice"), "profile", {"content": "Alice, data engineer in Oslo"})

    @tool
    def get_profile(runtime: ToolRuntime[Context]) -> str:
        """Look up the current user's profile."""
        item = runtime.store.get(("users", runtime.context.user_id), "profile")
        return item.value["content"] if item else "unknown user"

    model = fake_model(tool_call("get_profile"), "You are Alice.")
    agent = create_agent(model, [get_profile], store=store, context_schema=Context)
    out = agent.invoke({"messages": [{"role": "user", "content": "Who am I?"}]},
                       context=Context("alice"))
    assert out["messages"][2].content == "Alice, data engineer in Oslo"


def test_langmem_tools_on_the_store(memory: Memory) -> None:
    langmem = pytest.importorskip("langmem")
    store = MemoryStore(memory)
    namespace = ("memories", "{user_id}")
    manage = langmem.create_manage_memory_tool(namespace=namespace, store=store)
    search = langmem.create_search_memory_tool(namespace=namespace, store=store)
    alice = {"configurable": {"user_id": "alice"}}

    created = manage.invoke({"content": "Alice prefers tea over coffee"}, config=alice)
    memory_id = created.rsplit(" ", 1)[-1]
    manage.invoke({"content": "Bob prefers coffee"}, config={"configurable": {"user_id": "bob"}})
    found = search.invoke({"query": "hot drinks"}, config=alice)
    assert "Alice prefers tea over coffee" in found and "Bob" not in found

    manage.invoke({"action": "update", "id": memory_id,
                   "content": "Alice now prefers coffee"}, config=alice)
    assert store.get(("memories", "alice"), memory_id).value == \
        {"content": "Alice now prefers coffee"}
    # LangMem's memories are the engine's: the retriever and middleware see them
    assert [i.memory for i in memory.search("drinks", user_id="alice").results] == \
        ["Alice now prefers coffee"]

    manage.invoke({"action": "delete", "id": memory_id}, config=alice)
    assert memory.get_all(user_id="alice").results == []


def test_langmem_tools_in_an_agent(memory: Memory) -> None:
    langmem = pytest.importorskip("langmem")
    store = MemoryStore(memory)
    tools = [langmem.create_manage_memory_tool(namespace=("memories", "{user_id}")),
             langmem.create_search_memory_tool(namespace=("memories", "{user_id}"))]
    model = fake_model(tool_call("manage_memory", content="User is allergic to penicillin"),
                       "Saved.",
                       tool_call("search_memory", query="allergies"), "Penicillin.")
    agent = create_agent(model, tools, store=store)
    config = {"configurable": {"user_id": "pat"}}
    agent.invoke({"messages": [{"role": "user", "content": "I'm allergic to penicillin"}]},
                 config)
    out = agent.invoke({"messages": [{"role": "user", "content": "Any allergies?"}]}, config)
    assert "User is allergic to penicillin" in out["messages"][2].content
    assert [i.memory for i in memory.get_all(user_id="pat").results] == \
        ["User is allergic to penicillin"]
