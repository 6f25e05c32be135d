"""Migration from real mem0 stores: mem0ai 1.0.11 and 2.x, each in its own virtual
environment (benchmarks/mem0_env.py), write memories and history through mem0's own
`Memory` with its LLM pointed at a scripted OpenAI-compatible server — 1.0.11 with its
Kuzu graph on, as the benchmarks run it; `migrate mem0` moves them here and every
memory, history row and relation is compared with what mem0 stored. A migration
SIGKILLed part-way and run again ends with exactly one copy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks import mem0_env
from benchmarks.bench_llm import mem0_graph_reply
from mem_integrations import Memory
from mem_integrations.cli.commands import app
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder
from mem_integrations.testing import ScriptedLLMServer

WRITER = Path(__file__).with_name("mem0_writer.py")
FACTS = {"I live in Paris. I love green tea.": ["Lives in Paris", "Loves green tea"],
         "My name is Bob.": ["Name is Bob"]}
GRAPH = {"graph_store": {"provider": "ladybug"}}
OWN_KEYS = {"data", "hash", "created_at", "updated_at", "user_id", "agent_id", "run_id",
            "actor_id", "role", "text_lemmatized"}


def _user_text(body: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


def respond(body: dict[str, Any]) -> dict[str, Any]:
    """mem0's prompts: 1.0.11 asks for {"facts"} then {"memory"} with events (here all
    ADD: each add is a new scope), and with its graph on makes tool calls the benchmarks'
    script answers ("I live in Paris" is (I, live_in, Paris)); 2.x asks once and only ADDs."""
    if tools := body.get("tools"):
        user = "\n".join(m.get("content") or "" for m in body["messages"]
                         if m["role"] == "user")
        return mem0_graph_reply(tools[0]["function"]["name"], user)[1]
    user = _user_text(body)
    said = [fact for text, facts in FACTS.items() if text in user for fact in facts]
    if "smart memory manager" in user:
        shown = [f for facts in FACTS.values() for f in facts if f in user]
        return {"memory": [{"id": str(i), "text": f, "event": "ADD"} for i, f in enumerate(shown)]}
    if "## New Messages" in user:
        return {"memory": [{"text": f, "attributed_to": "user"} for f in said]}
    return {"facts": said}


def mem0_python(version: str) -> Path:
    try:
        return mem0_env.ensure(version, quiet=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot create the mem0ai {version} venv under benchmarks/.work "
                    f"(benchmarks/mem0_env.py): {exc}")


def write_mem0_store(version: str, where: Path, *, graph: bool = False) -> dict[str, Any]:
    """What mem0 `version` stored (points, history, relations), written under `where`."""
    python = mem0_python(version)
    with ScriptedLLMServer(respond) as llm:
        run = subprocess.run([str(python), str(WRITER), str(where), llm.base_url,
                              *(["graph"] if graph else [])],
                             capture_output=True, text=True, timeout=600,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _time(value: str | datetime | None) -> datetime | None:
    if not value:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_migrated(memory: Memory, source: dict[str, Any]) -> None:
    """Every mem0 point is here once with its id, text, hash, scope, metadata and times;
    every history row too, under its id, in mem0's order."""
    points = source["points"]
    scopes = {p["id"]: {k: p["payload"][k] for k in ("user_id", "agent_id", "run_id")
                        if p["payload"].get(k)} for p in points}
    total = 0
    for scope in {tuple(sorted(s.items())) for s in scopes.values()}:
        total += len(memory.get_all(**dict(scope), limit=1000).results)
    assert total == len(points)
    for point in points:
        payload, item = point["payload"], memory.get(point["id"])
        assert item.memory == payload["data"]
        assert item.hash == payload["hash"]
        assert {k: getattr(item, k) for k in ("user_id", "agent_id", "run_id")
                if getattr(item, k)} == scopes[point["id"]]
        assert (item.metadata or {}) == {k: v for k, v in payload.items() if k not in OWN_KEYS}
        assert _time(item.created_at) == _time(payload["created_at"])
        assert _time(item.updated_at) == _time(payload.get("updated_at"))
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in source["history"]:
        rows.setdefault(row["memory_id"], []).append(row)
    for memory_id, expected in rows.items():
        got = memory.history(memory_id)
        assert [e.id for e in got] == [r["id"] for r in expected]
        for entry, row in zip(got, expected, strict=True):
            assert entry.event.value == row["event"]
            assert (entry.old_memory, entry.new_memory) == (row["old_memory"], row["new_memory"])
            assert entry.created_at == _time(row["updated_at"] or row["created_at"])
            assert entry.is_deleted == bool(row["is_deleted"])
            scope = scopes.get(memory_id, {})
            assert {k: v for k in ("user_id", "agent_id", "run_id")
                    if (v := getattr(entry, k))} == scope


def _scope(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((k, row[k]) for k in ("user_id", "agent_id", "run_id") if row.get(k))


def check_relations(memory: Memory, source: dict[str, Any]) -> None:
    """Every relation of mem0's graph is in ours once: source, relation, target, scope."""
    expected: dict[tuple[tuple[str, str], ...], list[tuple[str, str, str]]] = {}
    for r in source["relations"]:
        expected.setdefault(_scope(r), []).append((r["source"], r["relation"], r["target"]))
    assert expected  # the graph was on and mem0 did write relations
    for scope, triples in expected.items():
        got = memory.get_all(**dict(scope), limit=1000).relations or []
        assert sorted((r.source, r.relationship, r.destination) for r in got) == sorted(triples)


@pytest.mark.parametrize("version", ["1.0.11", "2"])
def test_migrate_mem0_store(version: str, tmp_path: Path,
                            embedder: OnnxEmbedder) -> None:
    graph = version == "1.0.11"  # mem0 2.x has no graph memory
    source = write_mem0_store(version, tmp_path / "mem0", graph=graph)
    events = [r["event"] for r in source["history"]]
    assert {"ADD", "UPDATE", "DELETE"} <= set(events)
    assert len(source["points"]) == 2 + 1 + 40 - 1
    before = sorted(p.name for p in (tmp_path / "mem0" / "qdrant").rglob("*"))
    args = ["migrate", "mem0", "--qdrant-path", str(tmp_path / "mem0" / "qdrant"),
            "--history-db", str(tmp_path / "mem0" / "history.db"), "--batch-size", "8",
            "--json"]
    config: list[str] = []
    if graph:
        args += ["--kuzu-path", str(tmp_path / "mem0" / "graph.kuzu")]
        (tmp_path / "graph.json").write_text(json.dumps(GRAPH))
        config = ["--config", str(tmp_path / "graph.json")]
    runner = CliRunner()
    result = runner.invoke(app, [*config, "--data-dir", str(tmp_path / "ours"), *args],
                           obj={"embedder": embedder})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["memories"] == len(source["points"])
    assert summary["history_new"] == len(source["history"])
    assert summary["skipped"] == []
    assert summary["per_scope"]["user_id=u0"] == 13  # 14 notes, the last deleted
    assert summary["relations"] == len(source["relations"])
    assert sorted(p.name for p in (tmp_path / "mem0" / "qdrant").rglob("*")) == before
    with Memory(GRAPH if graph else None, data_dir=tmp_path / "ours",
                embedder=embedder) as memory:
        check_migrated(memory, source)
        if graph:
            check_relations(memory, source)
        assert memory.search("green tea", user_id="alice").results[0].memory == \
            "Loves green tea"
    # a second run adds nothing
    again = runner.invoke(app, [*config, "--data-dir", str(tmp_path / "ours"), *args],
                          obj={"embedder": embedder})
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout[again.stdout.index("{"):])
    assert (summary["history_new"], summary["history_present"]) == (0, len(source["history"]))
    with Memory(GRAPH if graph else None, data_dir=tmp_path / "ours",
                embedder=embedder) as memory:
        check_migrated(memory, source)
        if graph:
            check_relations(memory, source)


KILLED = """
import os, signal, sys
from pathlib import Path
from mem_integrations import Memory
from mem_integrations.migrate import Mem0Source, migrate_from_mem0

src, ours = Path(sys.argv[1]), sys.argv[2]
def progress(done: int, total: int) -> None:
    if done >= 16:  # part-way: 2 batches of 8 written, the rest not
        os.kill(os.getpid(), signal.SIGKILL)
with Memory({"graph_store": {"provider": "ladybug"}}, data_dir=ours) as memory:
    migrate_from_mem0(memory, Mem0Source(qdrant_path=src / "qdrant",
                                         history_db_path=src / "history.db",
                                         kuzu_path=src / "graph.kuzu"),
                      batch_size=8, progress=progress)
"""


def test_sigkill_then_rerun_leaves_one_copy(tmp_path: Path,
                                            embedder: OnnxEmbedder) -> None:
    source = write_mem0_store("1.0.11", tmp_path / "mem0", graph=True)
    killed = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "mem0"),
                             str(tmp_path / "ours")], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    with Memory(GRAPH, data_dir=tmp_path / "ours", embedder=embedder) as memory:
        part = sum(len(memory.get_all(user_id=u, limit=1000).results) for u in ("u0", "u1", "u2"))
        assert 0 < part < 39  # it did stop half-way
    from mem_integrations.migrate import Mem0Source, migrate_from_mem0

    with Memory(GRAPH, data_dir=tmp_path / "ours", embedder=embedder) as memory:
        # the rerun reads the graph with mem0's own interpreter, which has kuzu
        summary = migrate_from_mem0(memory, Mem0Source(
            qdrant_path=tmp_path / "mem0" / "qdrant",
            history_db_path=tmp_path / "mem0" / "history.db",
            kuzu_path=tmp_path / "mem0" / "graph.kuzu",
            kuzu_python=mem0_python("1.0.11")), batch_size=8)
        assert summary.memories == len(source["points"])
        assert summary.relations == len(source["relations"])
        assert summary.history_present > 0
        assert summary.history_new + summary.history_present == len(source["history"])
        check_migrated(memory, source)
        check_relations(memory, source)


def test_graph_migration_errors_say_what_to_do(tmp_path: Path,
                                               embedder: OnnxEmbedder) -> None:
    """Before anything is written: a target without a graph, and a Python without kuzu,
    are `ConfigurationError`s that name the fix."""
    from mem_integrations.core.errors import ConfigurationError
    from mem_integrations.migrate import Mem0Source, migrate_from_mem0

    # both are checked before either store is opened: placeholders stand for them
    (tmp_path / "mem0" / "qdrant").mkdir(parents=True)
    (tmp_path / "mem0" / "graph.kuzu").write_bytes(b"")
    where = Mem0Source(qdrant_path=tmp_path / "mem0" / "qdrant",
                       kuzu_path=tmp_path / "mem0" / "graph.kuzu")
    with Memory(data_dir=tmp_path / "plain", embedder=embedder) as memory:
        with pytest.raises(ConfigurationError, match="graph_store=.*ladybug"):
            migrate_from_mem0(memory, where)
        assert memory.get_all(user_id="alice").results == []
    # mem0 2.x's environment has no kuzu
    where.kuzu_python = mem0_python("2")
    with Memory(GRAPH, data_dir=tmp_path / "ours", embedder=embedder) as memory:
        with pytest.raises(ConfigurationError, match=r"pip install \"kuzu>=0\.11,<0\.12\""):
            migrate_from_mem0(memory, where)
        assert memory.get_all(user_id="alice").results == []


# mem0's Neo4j graph, as graph_memory.MemoryGraph._add_entities writes it (base_label on):
# entities merged on name and scope, a relation's name as its TYPE, created_at = timestamp()
NEO4J_WRITES = [
    ("MERGE (a:`__Entity__` {name: $s, user_id: $u}) "
     "MERGE (b:`__Entity__` {name: $t, user_id: $u}) "
     "MERGE (a)-[r:lives_in]->(b) ON CREATE SET r.created_at = timestamp(), r.valid = true",
     {"s": "alice", "t": "paris", "u": "alice"}),
    ("MERGE (a:`__Entity__` {name: $s, user_id: $u, agent_id: $g}) "
     "MERGE (b:`__Entity__` {name: $t, user_id: $u, agent_id: $g}) "
     "MERGE (a)-[r:works_with]->(b) ON CREATE SET r.created_at = timestamp(), r.valid = true",
     {"s": "bob", "t": "carol", "u": "user", "g": "helper"}),
    # soft-deleted by mem0 (delete_graph_memory): not migrated
    ("MERGE (a:`__Entity__` {name: $s, user_id: $u}) "
     "MERGE (b:`__Entity__` {name: $t, user_id: $u}) "
     "MERGE (a)-[r:lives_in]->(b) ON CREATE SET r.created_at = timestamp(), r.valid = false",
     {"s": "alice", "t": "berlin", "u": "alice"}),
]


def test_neo4j_graph_relations_move(tmp_path: Path,
                                    embedder: OnnxEmbedder) -> None:
    """mem0's Neo4j graph over Bolt (a real Bolt server, ArcadeDB): every valid relation
    arrives with its scope, soft-deleted ones do not, and a rerun leaves one copy."""
    import neo4j
    from qdrant_client import QdrantClient
    from qdrant_client.models import Distance, VectorParams

    from mem_integrations.migrate import Mem0Source, migrate_from_mem0
    from tests.support.arcadedb import DATABASE, PASSWORD, arcadedb_bolt

    qdrant = QdrantClient(path=str(tmp_path / "qdrant"))  # an empty mem0 collection
    qdrant.create_collection("mem0", VectorParams(size=4, distance=Distance.COSINE))
    qdrant.close()
    with arcadedb_bolt(tmp_path / "arcadedb") as url:
        with neo4j.GraphDatabase.driver(url, auth=("root", PASSWORD)) as driver, \
                driver.session(database=DATABASE) as session:
            for query, params in NEO4J_WRITES:
                session.run(query, params).consume()
        source = Mem0Source(qdrant_path=tmp_path / "qdrant", neo4j_url=url,
                            neo4j_username="root", neo4j_password=PASSWORD,
                            neo4j_database=DATABASE)
        with Memory(GRAPH, data_dir=tmp_path / "ours", embedder=embedder) as memory:
            for _ in range(2):
                assert migrate_from_mem0(memory, source).relations == 2
                got = {(r.source, r.relationship, r.destination)
                       for r in memory.get_all(user_id="alice").relations or []}
                assert got == {("alice", "lives_in", "paris")}
                helper = memory.get_all(user_id="user", agent_id="helper").relations or []
                assert [(r.source, r.relationship, r.destination) for r in helper] == \
                    [("bob", "works_with", "carol")]
