"""Crash repair through the journal, concurrent adds, embedder mismatch."""

from __future__ import annotations

import asyncio

import pytest

from mem_integrations import AsyncMemory, EmbeddingMismatchError, Memory, StoreError
from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.history.sqlite import JournalOp
from mem_integrations.core.models import Event
from mem_integrations.core.providers.embedders import OpenAIEmbedder
from tests.conftest import facts, vector_store_config


def test_failed_store_write_is_replayed_on_the_next_call(make_memory, llm, monkeypatch):
    memory = make_memory()
    store = memory.async_memory.store
    real_upsert = store.upsert

    def crash(points):
        raise StoreError("disk on fire")

    monkeypatch.setattr(store, "upsert", crash)
    llm.queue(facts("Lives in Paris"))
    with pytest.raises(StoreError):
        memory.add("I live in Paris", user_id="alice")
    monkeypatch.setattr(store, "upsert", real_upsert)

    [item] = memory.get_all(user_id="alice").results  # the journal was replayed first
    assert item.memory == "Lives in Paris"
    assert [h.event for h in memory.history(item.id)] == [Event.ADD]
    assert memory.pending() == []  # the messages were handed over to the journal


def test_journal_left_unapplied_by_a_dead_process_is_repaired_on_open(
        make_memory, tmp_path, embedder):
    data = tmp_path / "crashed"
    first = make_memory(data_dir=data, offline=True)
    first.add("I have a dog named Rex", user_id="alice", infer=False)
    gone = first.get_all(user_id="alice").results[0]
    # What a process killed between journaling and writing leaves behind:
    history = first.async_memory.history_store
    new_id = "6f1f5a38-5d2e-4cf0-9a8e-7b8c2f3a1d11"
    payload = {"data": "I have a cat named Tom", "hash": "h", "user_id": "alice",
               "created_at": "2026-01-01T00:00:00+00:00"}
    history.journal([JournalOp(new_id, Event.ADD, None, payload["data"], payload),
                     JournalOp(gone.id, Event.DELETE, gone.memory, None, None)],
                    {"user_id": "alice"})
    first.close()

    second = make_memory(data_dir=data, offline=True)
    assert [m.memory for m in second.get_all(user_id="alice")] == ["I have a cat named Tom"]
    assert [h.event for h in second.history(gone.id)] == [Event.ADD, Event.DELETE]
    assert second.async_memory.history_store.unapplied() == []


def test_concurrent_adds_of_the_same_facts_store_each_once(make_memory, backend, tmp_path,
                                                           embedder, llm):
    def responder(body):
        text = body["messages"][-1]["content"]
        if "EXISTING" in text:
            return {"operations": [{"event": "NONE", "id": 0, "text": None}]}
        return facts(*[line.split(": ", 1)[1] for line in text.splitlines() if ": " in line])

    llm.responder = responder
    config = {"data_dir": str(tmp_path / "c"), "vector_store": vector_store_config(backend, tmp_path),
              "llm": {"base_url": llm.base_url, "api_key": "k"}}
    sentences = ["Lives in Paris", "Has a dog named Rex", "Works as a nurse", "Likes tea"]

    async def main():
        memory = AsyncMemory(config, embedder=embedder)
        try:
            await asyncio.gather(*[memory.add(s, user_id="alice")
                                   for _ in range(6) for s in sentences])
            await asyncio.gather(*[memory.add(s, user_id="bob") for s in sentences])
            return ([m.memory for m in await memory.get_all(user_id="alice")],
                    [m.memory for m in await memory.get_all(user_id="bob")])
        finally:
            await memory.close()

    alice, bob = asyncio.run(main())
    assert sorted(alice) == sorted(sentences) and sorted(bob) == sorted(sentences)


def test_threads_on_the_sync_facade_do_not_duplicate(make_memory):
    from concurrent.futures import ThreadPoolExecutor

    memory = make_memory(offline=True)
    texts = [f"I keep note number {i} in my diary" for i in range(10)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda t: memory.add(t, user_id="alice", infer=False), texts * 4))
    assert sorted(m.memory for m in memory.get_all(user_id="alice")) == sorted(texts)


def test_reopening_with_another_embedder_is_a_clear_error(make_memory, tmp_path, llm, backend):
    data = tmp_path / "mismatch"
    first = make_memory(data_dir=data, offline=True)
    first.add("I live in Paris", user_id="a", infer=False)
    first.close()
    other = OpenAIEmbedder(EmbedderConfig(provider="openai", base_url=llm.base_url,
                                          api_key="k", model="tiny", dimensions=64))
    config = {"data_dir": str(data), "vector_store": vector_store_config(backend, tmp_path),
              "llm": {"provider": "offline"}}
    memory = Memory(config, embedder=other)
    try:
        with pytest.raises(EmbeddingMismatchError, match="all-MiniLM-L6-v2"):
            memory.search("Paris", user_id="a")
    finally:
        memory.close()


def test_second_process_on_an_open_data_dir_gets_a_clear_error(tmp_path, embedder):
    import subprocess
    import sys

    data = tmp_path / "shared"
    memory = Memory({"data_dir": str(data), "llm": {"provider": "offline"}}, embedder=embedder)
    try:
        memory.add("I live in Paris", user_id="a", infer=False)
        script = (
            "import warnings; warnings.simplefilter('ignore')\n"
            "from mem_integrations import Memory, StoreLockedError\n"
            f"m = Memory({{'data_dir': {str(data)!r}, 'llm': {{'provider': 'offline'}}}})\n"
            "try:\n    m.get_all(user_id='a')\nexcept StoreLockedError as e:\n    print('LOCKED', e)\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=120)
        assert "LOCKED" in out.stdout, out.stderr[-2000:]
        assert [m.memory for m in memory.get_all(user_id="a")] == ["I live in Paris"]
    finally:
        memory.close()
