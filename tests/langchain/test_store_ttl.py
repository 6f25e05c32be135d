"""TTL on the LangGraph store as LangGraph defines it, with a clock the tests move: the
sweeper really deletes expired items from the engine, refreshes keep `updated_at`, and
LangMem's tools and a `create_agent(store=...)` agent driven by a scripted LLM over HTTP
(the real `openai` client through ChatOpenAI) run on a store with TTL on."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.tools import ToolRuntime, tool

from mem_integrations import Memory
from mem_integrations.langchain import MemoryStore
from mem_integrations.testing import ScriptedLLMServer
from mem_integrations.testing.llm_server import last_tool_results, tool_call
from tests.langgraph_upstream.harness import FakeClock

NS = ("memories", "alice")


@dataclass
class Context:
    user_id: str


def wait_until(done: Any, what: str) -> None:
    """Wait (up to 30 s, polling) for the background sweeper; not a timing assertion."""
    stop = threading.Event()
    for _ in range(300):
        if done():
            return
        stop.wait(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.mark.parametrize("backend", ["qdrant_edge", "qdrant_client"])
def test_the_sweeper_deletes_expired_items_from_the_engine(make_lc_memory: Any,
                                                           backend: str) -> None:
    memory = make_lc_memory(backend=backend)
    clock = FakeClock()
    store = MemoryStore(memory, fields=["title", "tags[*]"], clock=clock,
                        ttl={"default_ttl": 1, "sweep_interval_minutes": 1 / 120})
    store.put(NS, "short", {"title": "Picnic on Sunday", "tags": ["food", "park"]})
    store.put(NS, "long", {"title": "Passport number"}, ttl=60)
    store.put(NS, "forever", {"title": "Name is Alice"}, ttl=None)
    assert len(memory.get_all(user_id="alice").results) == 5  # 3 items, 2 field memories

    store.start_ttl_sweeper()
    clock.sleep(61)  # "short" has expired; the sweeper has not necessarily run yet
    assert store.get(NS, "short") is None  # expired items are never returned
    assert sorted(i.key for i in store.search(NS, query="picnic in the park")) == \
        ["forever", "long"]
    wait_until(lambda: len(memory.get_all(user_id="alice").results) == 2, "the sweep")
    assert sorted(i.memory for i in memory.get_all(user_id="alice").results) == \
        ["Name is Alice", "Passport number"]
    assert store.stop_ttl_sweeper(timeout=10)
    assert store.sweep_ttl() == 0


def test_a_refresh_moves_the_expiry_but_not_updated_at(memory: Memory) -> None:
    clock = FakeClock()
    store = MemoryStore(memory, clock=clock, ttl={"default_ttl": 10})
    store.put(NS, "k", {"content": "Alice's flight is on Friday"})
    first = store.get(NS, "k", refresh_ttl=False)
    clock.sleep(9 * 60)
    assert store.search(NS, query="flight")[0].key == "k"  # refreshes: expires at 19 min
    clock.sleep(9 * 60)
    again = store.get(NS, "k")
    assert again is not None and again.value == first.value
    assert again.updated_at == first.updated_at
    clock.sleep(11 * 60)
    assert store.get(NS, "k") is None
    assert store.sweep_ttl() == 1
    assert memory.get_all(user_id="alice").results == []

    no_refresh = MemoryStore(memory, clock=clock, ttl={"default_ttl": 10,
                                                       "refresh_on_read": False})
    no_refresh.put(NS, "k2", {"content": "Short-lived note"})
    clock.sleep(9 * 60)
    assert no_refresh.get(NS, "k2") is not None
    clock.sleep(2 * 60)
    assert no_refresh.get(NS, "k2") is None


def test_ttl_without_support_for_it_elsewhere_is_refused(memory: Memory) -> None:
    store = MemoryStore(memory)
    assert store.supports_ttl
    store.put(NS, "k", {"content": "kept"}, ttl=5)  # per-put ttl works without a config
    assert store.start_ttl_sweeper().done()  # nothing configured, nothing to sweep


# --- in agents, over real HTTP --------------------------------------------------------


def chat_model(llm: ScriptedLLMServer) -> Any:
    langchain_openai = pytest.importorskip("langchain_openai")
    return langchain_openai.ChatOpenAI(model="gpt-test", base_url=llm.base_url,
                                       api_key="sk-test", max_retries=0)


def test_langmem_tools_in_an_agent_with_ttl(memory: Memory, llm: ScriptedLLMServer) -> None:
    langmem = pytest.importorskip("langmem")
    clock = FakeClock()
    store = MemoryStore(memory, clock=clock, ttl={"default_ttl": 60})
    tools = [langmem.create_manage_memory_tool(namespace=("memories", "{user_id}")),
             langmem.create_search_memory_tool(namespace=("memories", "{user_id}"))]
    agent = create_agent(chat_model(llm), tools, store=store)
    config = {"configurable": {"user_id": "alice"}}

    llm.queue(tool_call("manage_memory", content="User is allergic to penicillin"), "Saved.")
    agent.invoke({"messages": [{"role": "user", "content": "I'm allergic to penicillin"}]},
                 config)
    [saved] = store.search(NS)
    assert saved.value == {"content": "User is allergic to penicillin"}

    seen: list[list[str]] = []

    def answer(body: dict[str, Any]) -> Any:
        seen.append(last_tool_results(body))
        return "Done."

    llm.responder = answer
    llm.queue(tool_call("search_memory", query="allergies"))
    agent.invoke({"messages": [{"role": "user", "content": "Any allergies?"}]}, config)
    assert "User is allergic to penicillin" in seen[-1][0]

    clock.sleep(61 * 60)  # the memory's TTL has run out: the tools no longer see it
    llm.queue(tool_call("search_memory", query="allergies"))
    agent.invoke({"messages": [{"role": "user", "content": "Any allergies?"}]}, config)
    assert "penicillin" not in seen[-1][0]
    assert store.sweep_ttl() == 1
    assert memory.get_all(user_id="alice").results == []


def test_create_agent_tool_reads_the_store_with_ttl(memory: Memory,
                                                    llm: ScriptedLLMServer) -> None:
    clock = FakeClock()
    store = MemoryStore(memory, scope={"user_id": 1}, clock=clock, ttl={"default_ttl": 5})
    store.put(("users", "alice"), "profile", {"content": "Alice, data engineer in Oslo"})

    @tool
    def get_profile(runtime: ToolRuntime[Context]) -> str:
        """Look up the current user's profile."""
        item = runtime.store.get(("users", runtime.context.user_id), "profile")
        return item.value["content"] if item else "unknown user"

    agent = create_agent(chat_model(llm), [get_profile], store=store, context_schema=Context)
    results: list[list[str]] = []

    def answer(body: dict[str, Any]) -> Any:
        results.append(last_tool_results(body))
        return "Here you are."

    llm.responder = answer
    for _ in range(3):  # each read refreshes the 5-minute TTL, so 4 minutes apart it lives
        clock.sleep(4 * 60)
        llm.queue(tool_call("get_profile"))
        agent.invoke({"messages": [{"role": "user", "content": "Who am I?"}]},
                     context=Context("alice"))
        assert results[-1] == ["Alice, data engineer in Oslo"]
    clock.sleep(6 * 60)
    llm.queue(tool_call("get_profile"))
    agent.invoke({"messages": [{"role": "user", "content": "Who am I?"}]},
                 context=Context("alice"))
    assert results[-1] == ["unknown user"]
