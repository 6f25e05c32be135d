"""Concurrency: many tasks on `AsyncMemory` and many threads on the `Memory` facade,
adding overlapping facts for the same users, deleting and searching at the same time:
no duplicate memory, no acknowledged delete undone, history consistent with the stores."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mem_integrations import AsyncMemory, MemoryNotFoundError
from mem_integrations.core.records import content_hash
from stress.common import check_snapshot, snapshot
from tests.conftest import vector_store_config
from tests.reliability.support import consistency, sensible_llm

POOL = ["Lives in Paris", "Has a dog named Rex", "Works as a nurse", "Likes green tea",
        "Plays chess on Sundays", "Speaks three languages"]


def no_duplicates(texts: list[str]) -> None:
    hashes = [content_hash(t) for t in texts]
    assert len(hashes) == len(set(hashes)), sorted(texts)


async def test_many_tasks_adding_overlapping_facts_store_each_once(backend, tmp_path, embedder,
                                                                   llm) -> None:
    llm.responder = sensible_llm
    llm.delay = 0.005  # replies interleave
    config = {"data_dir": str(tmp_path / "c"), "vector_store": vector_store_config(backend, tmp_path),
              "llm": {"base_url": llm.base_url, "api_key": "k"}}
    rng = random.Random(7)
    said = [". ".join(rng.sample(POOL, rng.randint(1, 3))) + "." for _ in range(24)]
    async with AsyncMemory(config, embedder=embedder) as memory:
        await asyncio.gather(
            *[memory.add(s, user_id="alice") for s in said],
            *[memory.add(s, user_id="bob") for s in said[:8]],
            *[memory.add([{"role": "user", "content": t}], user_id="alice", infer=False)
              for t in POOL[:3] * 3])
        alice = [m.memory for m in (await memory.get_all(user_id="alice")).results]
        bob = [m.memory for m in (await memory.get_all(user_id="bob")).results]
        no_duplicates(alice)
        no_duplicates(bob)
        assert set(alice) == {f for s in said for f in POOL if f in s} | set(POOL[:3])
        assert set(bob) == {f for s in said[:8] for f in POOL if f in s}

        # Round two: updates (via the LLM), deletes, searches and repeats, all at once.
        ids = [m.id for m in (await memory.get_all(user_id="alice")).results]
        doomed = ids[::2]

        async def delete(memory_id: str) -> str | None:
            try:
                await memory.delete(memory_id)
                return memory_id
            except MemoryNotFoundError:  # already replaced by a concurrent UPDATE? no: ids stay
                return None

        results = await asyncio.gather(
            *[memory.add(f"{t}.", user_id="alice") for t in
              ["Lives in Rome", "Works as a doctor", "Likes black coffee"] * 4],
            *[delete(i) for i in doomed],
            *[memory.search("where does she live", user_id="alice") for _ in range(6)],
            *[memory.add(s, user_id="alice") for s in said[:6]])
        deleted = {r for r in results if isinstance(r, str)}
        state = await snapshot(memory)
        findings = check_snapshot(state)
        assert not +findings.counts, findings.as_dict()
        alive = {m["id"] for m in state["memories"]}
        assert not deleted & alive, "an acknowledged delete was undone"
        no_duplicates([m.memory for m in (await memory.get_all(user_id="alice")).results])
        assert await memory.pending() == []


def test_many_threads_on_the_blocking_facade(make_memory, llm) -> None:
    llm.responder = sensible_llm
    memory = make_memory()
    rng = random.Random(3)

    def worker(n: int) -> list[str]:
        user = f"user{n % 3}"  # four threads per user
        deleted = []
        for _ in range(4):
            roll = rng.random()
            if roll < 0.45:
                memory.add(". ".join(rng.sample(POOL, 2)) + ".", user_id=user)
            elif roll < 0.7:
                memory.add(rng.choice(POOL), user_id=user, infer=False)
            elif roll < 0.85:
                items = memory.get_all(user_id=user).results
                if items:
                    try:
                        memory.delete(items[0].id)
                        deleted.append(items[0].id)
                    except MemoryNotFoundError:
                        pass  # another thread deleted it first
            else:
                memory.search("what does the user like", user_id=user, limit=3)
        return deleted

    with ThreadPoolExecutor(max_workers=12) as pool:
        deleted = [d for batch in pool.map(worker, range(12)) for d in batch]
    state = memory.run(snapshot(memory.async_memory))
    findings = check_snapshot(state)
    assert not +findings.counts, findings.as_dict()
    assert not set(deleted) & {m["id"] for m in state["memories"]}
    for n in range(3):
        no_duplicates([m.memory for m in memory.get_all(user_id=f"user{n}").results])
    assert memory.pending() == []


async def test_concurrent_scopes_on_qdrant_client_local_mode(tmp_path) -> None:
    """Was: qdrant-client's local mode (not thread-safe) was called from several threads:
    sqlite3 'transaction within a transaction', numpy shape errors, confirmed writes
    missing after a reopen."""
    from stress.common import HashEmbedder, memory_config

    config = memory_config(tmp_path / "local", engine="qdrant_client")
    errors: list[str] = []
    async with AsyncMemory(config, embedder=HashEmbedder()) as memory:
        async def worker(user: int) -> None:
            for i in range(30):
                try:
                    await memory.add(f"note {user} {i} amber cedar", user_id=f"u{user}",
                                     infer=False)
                    await memory.search("amber", user_id=f"u{user}")
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*[worker(u) for u in range(6)])
    async with AsyncMemory(config, embedder=HashEmbedder()) as reopened:
        await reopened.open()
        findings = check_snapshot(await snapshot(reopened))
    assert errors == [] and not +findings.counts, (errors[:3], findings.as_dict())


# --- regressions: races these checks found in core (fixed since) -------------------------------


def _slow_reads(memory: Any, monkeypatch: pytest.MonkeyPatch, seconds: float = 0.3) -> None:
    """Make `update`'s read of the current memory take a while, as under load: the
    read happens before the scope lock is taken, which is what these tests expose."""
    engine = memory.async_memory
    read = engine._current

    async def slow(memory_id: str) -> Any:
        hit = await read(memory_id)
        await asyncio.sleep(seconds)
        return hit

    monkeypatch.setattr(engine, "_current", slow)


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_an_update_racing_a_delete_does_not_bring_the_memory_back(make_memory,
                                                                  monkeypatch) -> None:
    """Was: update() read the memory before taking the scope lock and undid the delete."""
    memory = make_memory(offline=True)
    [added] = memory.add("I keep my passport in the desk", user_id="alice", infer=False).results
    _slow_reads(memory, monkeypatch)
    engine = memory.async_memory

    async def race() -> list[Any]:
        update = asyncio.ensure_future(engine.update(added.id, text="Passport is in the safe"))
        await asyncio.sleep(0.05)
        return await asyncio.gather(update, engine.delete(added.id), return_exceptions=True)

    updated, deleted = memory.run(race())
    assert not isinstance(deleted, BaseException)  # the delete was acknowledged...
    # ...so the memory is gone, or the update failed because it was gone first
    if not isinstance(updated, BaseException):
        assert [m.memory for m in memory.get_all(user_id="alice")] == []
    assert not +consistency(memory).counts


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_two_deletes_racing_record_one_delete(make_memory) -> None:
    """Was: both deletes succeeded and history recorded DELETE twice."""
    memory = make_memory(offline=True)
    [added] = memory.add("I keep my passport in the desk", user_id="alice", infer=False).results
    engine = memory.async_memory

    async def race() -> list[Any]:
        return await asyncio.gather(engine.delete(added.id), engine.delete(added.id),
                                    return_exceptions=True)

    outcomes = memory.run(race())
    assert sum(isinstance(o, MemoryNotFoundError) for o in outcomes) == 1, outcomes
    assert [h.event.value for h in memory.history(added.id)] == ["ADD", "DELETE"]


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_two_updates_racing_lose_nothing(make_memory, monkeypatch) -> None:
    """Was: the metadata-only update rewrote the stale text: the text update was lost."""
    memory = make_memory(offline=True)
    [added] = memory.add("I keep my passport in the desk", user_id="alice", infer=False).results
    _slow_reads(memory, monkeypatch)
    engine = memory.async_memory

    async def race() -> None:
        text = asyncio.ensure_future(engine.update(added.id, text="Passport is in the safe"))
        await asyncio.sleep(0.05)
        await engine.update(added.id, metadata={"topic": "documents"})
        await text

    memory.run(race())
    item = memory.get(added.id)
    assert item.memory == "Passport is in the safe"
    assert item.metadata == {"topic": "documents"}, "an acknowledged update was lost"
    assert not +consistency(memory).counts
