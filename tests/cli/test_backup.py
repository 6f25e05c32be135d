"""`mem-integrations export` and `import-jsonl`: a backup moved to another data dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mem_integrations.cli.commands import app


def test_export_then_import_jsonl_into_another_data_dir(tmp_path: Path, embedder: Any) -> None:
    runner = CliRunner()

    def run(data: str, *args: str) -> Any:
        env = {"MEMINT_DATA_DIR": str(tmp_path / data), "MEMINT_LLM__PROVIDER": "offline",
               "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
        result = runner.invoke(app, list(args), obj={"embedder": embedder}, env=env)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    run("a", "add", "I live in Paris. I play chess.", "--user-id", "alice")
    backup = tmp_path / "alice.jsonl"
    assert "Exported 2 memories" in run("a", "export", "--user-id", "alice", str(backup)).stdout
    assert "Imported 2 memories, 2 new history" in run("b", "import-jsonl", str(backup)).stdout
    again = json.loads(run("b", "import-jsonl", str(backup), "--json").stdout)
    assert again["memories"] == 2 and again["history_new"] == 0  # one copy, not two
    assert json.loads(run("a", "export", "-u", "alice", str(backup), "--json").stdout) == {
        "memories": 2, "path": str(backup)}
    listed = json.loads(run("b", "list", "-u", "alice", "--json").stdout)["results"]
    assert sorted(m["memory"] for m in listed) == ["I live in Paris", "I play chess"]
