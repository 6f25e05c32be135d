"""`Memory` end to end on each history store (SQLite and PostgreSQL): history order,
pending adds after an unusable LLM reply, and recovery of an interrupted write or reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.errors import LLMResponseError
from mem_integrations.core.models import Event
from mem_integrations.testing import ScriptedLLMServer
from tests.conftest import facts


@pytest.fixture
def memory_on(history_config: dict[str, str], tmp_path: Path, embedder: Any,
              llm: ScriptedLLMServer) -> Iterator[Any]:
    made: list[Memory] = []

    def make(**llm_config: Any) -> Memory:
        memory = Memory({
            "data_dir": str(tmp_path / "data"),
            "history": history_config,
            "llm": llm_config or {"provider": "offline"},
        }, embedder=embedder)
        made.append(memory)
        return memory

    yield make
    for memory in made:
        memory.close()


def test_history_of_add_update_delete_is_kept_in_order(memory_on: Any,
                                                       history_backend: str) -> None:
    memory = memory_on()
    store = memory.async_memory.history_store
    assert type(store).__name__ == ("PostgresHistory" if history_backend == "postgres"
                                    else "SQLiteHistory")
    added = memory.add("I live in Paris.", user_id="alice")
    memory_id = added.results[0].id
    memory.update(memory_id, text="Lives in Berlin")
    memory.delete(memory_id)
    entries = memory.history(memory_id)
    assert [e.event for e in entries] == [Event.ADD, Event.UPDATE, Event.DELETE]
    assert entries[1].old_memory == entries[0].new_memory
    assert entries[1].new_memory == "Lives in Berlin"
    assert all(e.user_id == "alice" for e in entries)


def test_an_unusable_llm_reply_keeps_the_messages_for_reprocess(
        memory_on: Any, llm: ScriptedLLMServer) -> None:
    memory = memory_on(base_url=llm.base_url, api_key="sk-test", max_retries=0, timeout=10)
    llm.queue("this is not JSON", "still not JSON")
    with pytest.raises(LLMResponseError) as caught:
        memory.add("I am allergic to peanuts", user_id="alice")
    pending_id = caught.value.pending_id
    assert pending_id
    kept = memory.pending()
    assert [(p.id, p.status, p.messages[0]["content"]) for p in kept] == [
        (pending_id, "failed", "I am allergic to peanuts")]
    assert memory.get_all(user_id="alice").results == []  # nothing was written

    llm.queue(facts("Is allergic to peanuts"))
    result = memory.reprocess(pending_id)
    assert [e.memory for e in result.results] == ["Is allergic to peanuts"]
    assert memory.pending() == []
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["Is allergic to peanuts"]


def test_a_write_interrupted_after_the_journal_is_replayed(memory_on: Any) -> None:
    memory = memory_on()
    store = memory.async_memory.store
    original = store.upsert

    def crash(points: Any) -> None:
        raise RuntimeError("the process died while writing vectors")

    store.upsert = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        memory.add("I play the cello.", user_id="alice")
    store.upsert = original  # type: ignore[method-assign]

    recovered = memory.get_all(user_id="alice").results  # the journal is replayed first
    assert [m.memory for m in recovered] == ["I play the cello"]
    assert [e.event for e in memory.history(recovered[0].id)] == [Event.ADD]
    assert memory.async_memory.history_store.unapplied() == []


def test_a_reset_interrupted_before_it_cleared_history_is_finished_on_open(
        memory_on: Any) -> None:
    memory = memory_on()
    kept = memory.add("I play the cello.", user_id="alice").results[0].id
    # What a process killed right after reset() marked its start leaves behind:
    memory.async_memory.history_store.begin_reset()
    memory.close()

    reopened = memory_on()
    assert reopened.get_all(user_id="alice").results == []
    assert reopened.history(kept) == []
    assert reopened.async_memory.history_store.reset_started() is False
    added = reopened.add("I play the violin.", user_id="alice").results  # and it works on
    assert [m.id for m in reopened.get_all(user_id="alice")] == [added[0].id]


def test_replicas_sharing_postgres_do_not_duplicate_a_scope(
        postgres_url: str, table_prefix: str, tmp_path: Path, embedder: Any) -> None:
    """Two engines standing in for two server replicas: one vector store, one PostgreSQL
    history, separate in-process locks. Concurrent adds of the same facts for one user
    still store each fact once (the scope lock is a PostgreSQL advisory lock)."""
    import asyncio

    from mem_integrations import AsyncMemory
    from mem_integrations.core.stores.qdrant_edge import QdrantEdgeStore

    shared_vectors = QdrantEdgeStore(tmp_path / "qdrant", "memories")
    config = {"data_dir": str(tmp_path / "replica"), "llm": {"provider": "offline"},
              "history": {"url": postgres_url, "table_prefix": table_prefix}}
    facts_said = [f"I keep a note about topic number {i}" for i in range(6)]

    async def main() -> list[str]:
        replicas = [AsyncMemory(config, embedder=embedder, vector_store=shared_vectors)
                    for _ in range(2)]
        try:
            await asyncio.gather(*[replica.add(text, user_id="alice", infer=False)
                                   for text in facts_said for replica in replicas])
            return [m.memory for m in await replicas[0].get_all(user_id="alice")]
        finally:
            for replica in replicas:
                await replica.close()

    assert sorted(asyncio.run(main())) == sorted(facts_said)
