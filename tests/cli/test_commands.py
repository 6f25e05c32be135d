"""The commands a newcomer reaches for after `add` and `list`: get, update, users, reset,
pending, reprocess, discard — each with --json — plus ids that survive a narrow terminal
and errors in the command line's own words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("typer", reason="the server extra (typer, rich) is not installed")

from typer.testing import CliRunner  # noqa: E402

from mem_integrations.cli import app  # noqa: E402
from mem_integrations.cli.common import cli_words  # noqa: E402
from mem_integrations.testing import Fault, ScriptedLLMServer  # noqa: E402


@pytest.fixture
def cli(tmp_path: Path, embedder: Any):
    runner = CliRunner()
    env = {"MEMINT_DATA_DIR": str(tmp_path / "data"), "MEMINT_LLM__PROVIDER": "offline",
           "MEMINT_PENDING__RETRY_ON_OPEN": "false", "HF_HUB_OFFLINE": "1"}

    def invoke(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None,
               expect: int = 0, columns: int = 200) -> Any:
        result = runner.invoke(app, list(args), obj={"embedder": embedder}, input=input,
                               env={**env, "COLUMNS": str(columns), **(extra_env or {})})
        assert result.exit_code == expect, (result.output, result.exception)
        return result

    return invoke


def js(result: Any) -> Any:
    return json.loads(result.stdout)


def test_get_update_users_and_full_ids_at_80_columns(cli: Any) -> None:
    added = js(cli("add", "I live in Paris and I keep a very long diary of every single "
                          "thing that happens to me at work.", "-u", "alice", "--json"))
    [memory_id] = [e["id"] for e in added["results"]]
    cli("add", "I like jazz.", "-u", "bob")
    narrow = cli("list", "-u", "alice", columns=80).stdout
    assert memory_id in narrow  # whole, on one line: it can be pasted into history/delete

    got = js(cli("get", memory_id, "--json"))
    assert got["id"] == memory_id and got["user_id"] == "alice"
    assert memory_id in cli("get", memory_id).stdout
    cli("get", memory_id, "-u", "bob", expect=1)  # another user's memory is not found

    cli("update", memory_id, "I live in Lyon", "--metadata", '{"topic": "home"}', "--json")
    after = js(cli("get", memory_id, "--json"))
    assert (after["memory"], after["metadata"]) == ("I live in Lyon", {"topic": "home"})
    assert [h["event"] for h in js(cli("history", memory_id, "--json"))] == ["ADD", "UPDATE"]
    assert "give the new text, --metadata" in cli("update", memory_id, expect=2).stderr

    owners = js(cli("users", "--json"))["results"]
    assert {(o["type"], o["id"], o["total_memories"]) for o in owners} == {
        ("user", "alice", 1), ("user", "bob", 1)}
    deleted = js(cli("delete", memory_id, "--json"))
    assert deleted["message"]


def test_reset_asks_first(cli: Any) -> None:
    cli("add", "I like jazz.", "-u", "bob")
    cli("reset", input="n\n", expect=1)
    assert len(js(cli("list", "-u", "bob", "--json"))["results"]) == 1
    assert js(cli("reset", "--yes", "--json"))["message"]
    assert js(cli("users", "--json")) == {"results": []}


def test_pending_reprocess_and_discard(cli: Any, llm: ScriptedLLMServer) -> None:
    env = {"MEMINT_LLM__PROVIDER": "openai", "MEMINT_LLM__BASE_URL": llm.base_url,
           "MEMINT_LLM__API_KEY": "sk-test", "MEMINT_LLM__MAX_RETRIES": "0"}
    llm.queue(Fault(status=500), Fault(status=500))
    failed = cli("add", "I live in Oslo.", "-u", "alice", extra_env=env, expect=1).stderr
    # the fix is given in the command line's words, not Python's
    assert "mem-integrations reprocess" in failed and "reprocess(" not in failed
    cli("add", "I love skiing.", "-u", "alice", extra_env=env, expect=1)
    kept = js(cli("pending", "--json"))
    assert [p["messages"][0]["content"] for p in kept] == ["I live in Oslo.", "I love skiing."]
    assert kept[0]["id"] in cli("pending", columns=80).stdout

    llm.queue({"facts": [{"text": "Lives in Oslo", "categories": []}]})
    done = js(cli("reprocess", kept[0]["id"], "--json", extra_env=env))
    assert [e["memory"] for e in done[0]["results"]] == ["Lives in Oslo"]
    cli("discard", kept[1]["id"], input="n\n", expect=1)
    assert js(cli("discard", kept[1]["id"], "--yes", "--json"))["message"]
    assert js(cli("pending", "--json")) == []
    assert "No pending adds" in cli("reprocess", "--all").stdout


def test_errors_speak_the_command_line(cli: Any) -> None:
    missing = cli("list", expect=1).stderr
    assert "--user-id" in missing and "user_id=" not in missing


def test_list_and_history_load_no_model_and_print_nothing_on_stderr(tmp_path: Path) -> None:
    """No torch, no ONNX session, no offline-extractor notice and no progress bar for
    commands that embed and extract nothing."""
    env = {**os.environ, "MEMINT_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    script = (
        "import sys\n"
        "from mem_integrations.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'onnxruntime', 'tokenizers', 'openai') "
        "if m in sys.modules]\n"
        "print('heavy', heavy)\n")
    for args in (["list", "-u", "alice"], ["users"], ["pending"]):
        run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                             text=True, env=env, timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
        assert "heavy []" in run.stdout, run.stdout


@pytest.mark.parametrize("engine,shell", [
    ("pass user_id=, agent_id= or run_id=", "pass --user-id, --agent-id or --run-id"),
    ("call reprocess('abc-1') to retry", "call mem-integrations reprocess abc-1 to retry"),
    ('discard("x") gives up', "mem-integrations discard x gives up"),
    ("run repair() to rebuild", "run mem-integrations repair to rebuild"),
    # a method named on an object is left as it is
    ("run `mem-integrations repair` (or Memory.repair())",
     "run `mem-integrations repair` (or Memory.repair())"),
])
def test_engine_messages_in_cli_words(engine: str, shell: str) -> None:
    assert cli_words(engine) == shell
