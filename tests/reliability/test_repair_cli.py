"""`mem-integrations doctor --check` finds what a lost vector store no longer holds, and
`mem-integrations repair` rebuilds it from the history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mem_integrations import Memory
from mem_integrations.cli.commands import app
from stress.common import HashEmbedder, memory_config


def test_doctor_check_reports_lost_memories_and_repair_brings_them_back(tmp_path: Path
                                                                        ) -> None:
    config = memory_config(tmp_path / "data", graph=True)
    with Memory(config, embedder=HashEmbedder()) as memory:
        memory.add("I live in Paris. I work at Acme.", user_id="alice")
        memory.add("Note one amber", user_id="bob", infer=False, metadata={"k": 1})
        before = {m.id: (m.memory, m.metadata) for user in ("alice", "bob")
                  for m in memory.get_all(user_id=user).results}
    shutil.rmtree(tmp_path / "data" / "qdrant")
    runner = CliRunner()
    env = {"MEMINT_DATA_DIR": str(tmp_path / "data"), "MEMINT_LLM__PROVIDER": "offline",
           "MEMINT_GRAPH_STORE__PROVIDER": "ladybug", "COLUMNS": "200"}

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), obj={"embedder": HashEmbedder()}, env=env)

    doctor = run("doctor", "--check", "--json")
    assert doctor.exit_code == 1
    lines = [c for c in json.loads(doctor.stdout) if c["component"] == "consistency"]
    assert sorted(c["setting"] for c in lines if c["setting"] != "repair") == \
        ["vector: missing"] * len(before)
    assert "mem-integrations repair" in lines[-1]["status"]

    repaired = run("repair", "--batch-size", "1", "--json")
    assert repaired.exit_code == 0, (repaired.output, repaired.exception)
    assert json.loads(repaired.stdout)["memories"] == len(before)
    assert json.loads(repaired.stdout)["relations"] == 2

    again = run("doctor", "--check", "--json")
    assert [c["ok"] for c in json.loads(again.stdout) if c["component"] == "consistency"] \
        == [True]
    with Memory(config, embedder=HashEmbedder()) as memory:
        assert {m.id: (m.memory, m.metadata) for user in ("alice", "bob")
                for m in memory.get_all(user_id=user).results} == before
