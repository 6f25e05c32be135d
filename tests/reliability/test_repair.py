"""The history is the source of truth: after real writes, the vector store and the graph
are deleted, corrupted or silently emptied; the next open says so with a typed error that
names `repair`, and `repair()` brings every memory (id, text, hash, scope, metadata,
times) and every relation (valid or invalidated) back from the history."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.consistency import deep_check, expected_state
from mem_integrations.core.errors import CorruptionError
from stress.common import HashEmbedder, memory_config
from tests.reliability.support import consistency, state

ENGINES = ["qdrant_edge", "qdrant_client"]


def write_some(config: dict[str, Any]) -> dict[str, Any]:
    """Adds (inferred with relations, and verbatim with metadata), an update, a delete
    and a superseded relation for two users; returns everything the stores then hold."""
    memory = Memory(config, embedder=HashEmbedder())
    try:
        memory.add("I live in Paris. I work at Acme.", user_id="alice")
        memory.add("I moved to Berlin now.", user_id="alice")
        for i in range(6):
            memory.add(f"Note {i} amber basil", user_id="alice", infer=False,
                       metadata={"n": i, "tag": "note"})
        memory.add("My sister is Anna.", user_id="bob", run_id="r1")
        notes = sorted(m.id for m in memory.get_all(user_id="alice").results
                       if m.memory.startswith("Note"))
        memory.update(notes[0], text="Note zero rewritten cedar")
        memory.delete(notes[1])
        assert not +consistency(memory).counts
        return held(memory)
    finally:
        memory.close()


def held(memory: Memory) -> dict[str, Any]:
    items = {m.id: (m.memory, m.hash, m.metadata, m.created_at, m.updated_at, m.user_id,
                    m.run_id)
             for user in ("alice", "bob") for m in memory.get_all(user_id=user).results}
    snap = state(memory)  # (get_all opened the stores)
    return {"items": items,
            "relations": sorted((r["id"], r["source"], r["relation"], r["target"], r["valid"],
                                 r["user_id"], r["run_id"]) for r in snap["relations"])}


def vector_dir(config: dict[str, Any]) -> Path:
    name = "qdrant" if config["vector_store"]["engine"] == "qdrant_edge" else "qdrant_local"
    return Path(config["data_dir"]) / name


def delete_vectors(config: dict[str, Any]) -> None:
    shutil.rmtree(vector_dir(config))


def corrupt_collection_json(config: dict[str, Any]) -> None:
    [meta] = vector_dir(config).rglob("collection.json")
    meta.write_text('{"embedding_model": "stress-hash-64", "dimen')


def lose_points(config: dict[str, Any]) -> None:
    """Half of alice's memories vanish from the vector store, with no error (what a
    SIGKILL plus garbage in the Qdrant log did)."""
    memory = Memory(config, embedder=HashEmbedder())
    try:
        engine = memory.async_memory
        memory.run(engine.open())
        ids = sorted(h.id for h in engine.store.scroll(None, limit=100)[0]
                     if h.payload.get("user_id") == "alice")
        engine.store.delete(ids[::2])
    finally:
        memory.close()


def delete_graph(config: dict[str, Any]) -> None:
    for path in Path(config["data_dir"]).glob("graph*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def corrupt_graph(config: dict[str, Any]) -> None:
    graph = Path(config["data_dir"]) / "graph"
    graph.write_bytes(b"\x00garbage" * 4096)


DAMAGE: dict[str, Callable[[dict[str, Any]], None]] = {
    "vector store deleted": delete_vectors,
    "vector store points lost": lose_points,
    "graph deleted": delete_graph,
    "graph corrupted": corrupt_graph,
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damage_is_a_typed_error_naming_repair_and_repair_brings_everything_back(
        tmp_path: Path, engine: str, damage: str) -> None:
    config = memory_config(tmp_path / "data", engine=engine, graph=True)
    before = write_some(config)
    DAMAGE[damage](config)
    reopened = Memory(config, embedder=HashEmbedder())
    try:
        with pytest.raises(CorruptionError, match="repair"):
            reopened.get_all(user_id="alice")
        report = reopened.repair(batch_size=3)
        assert report.memories == len(before["items"]) and report.kept_from_store == 0
        assert report.relations == len(before["relations"])
        assert held(reopened) == before
        assert not +consistency(reopened).counts
    finally:
        reopened.close()
    again = Memory(config, embedder=HashEmbedder())  # and it opens cleanly from now on
    try:
        assert held(again) == before
    finally:
        again.close()


def test_an_invalid_collection_json_is_a_typed_error_and_repair_rebuilds(tmp_path: Path
                                                                         ) -> None:
    config = memory_config(tmp_path / "data", graph=True)
    before = write_some(config)
    corrupt_collection_json(config)
    reopened = Memory(config, embedder=HashEmbedder())
    try:
        with pytest.raises(CorruptionError, match="repair"):
            reopened.search("amber", user_id="alice")
        stages: list[tuple[str, int, int]] = []
        report = reopened.repair(batch_size=4, progress=lambda *p: stages.append(p))
        assert report.vector_store_was_readable is False
        assert held(reopened) == before
        memories = [s for s in stages if s[0] == "memories"]
        assert memories[-1][1:] == (len(before["items"]),) * 2 and len(memories) > 1
    finally:
        reopened.close()


def test_a_damaged_history_database_is_a_typed_error_naming_what_to_do(tmp_path: Path
                                                                       ) -> None:
    config = memory_config(tmp_path / "data")
    write_some(config)
    db = Path(config["data_dir"]) / "history.db"
    for leftover in db.parent.glob("history.db-*"):  # the WAL and its index
        leftover.unlink()
    db.write_bytes(b"not a database" * 1000)
    with pytest.raises(CorruptionError, match="damaged.*backup.*repair"):
        Memory(config, embedder=HashEmbedder())


@pytest.mark.parametrize("engine", ENGINES)
def test_the_deep_check_lists_each_disagreement_and_none_after_repair(
        tmp_path: Path, engine: str) -> None:
    config = memory_config(tmp_path / "data", engine=engine, graph=True)
    write_some(config)
    lose_points(config)
    memory = Memory(config, embedder=HashEmbedder())
    try:
        with pytest.raises(CorruptionError):
            memory.get_all(user_id="alice")
        engine_ = memory.async_memory
        findings = deep_check(engine_, expected_state(engine_.history_store))
        assert {(f.store, f.kind) for f in findings} == {("vector", "missing")}
        assert len(findings) == 4  # half of alice's 7 memories (ids 0, 2, 4, 6)
        memory.repair()
        assert deep_check(engine_, expected_state(engine_.history_store)) == []
    finally:
        memory.close()
