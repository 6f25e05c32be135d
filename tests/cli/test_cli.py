"""The `mem-integrations` command line: commands run in-process through typer's CliRunner
(with the session's embedder injected), and `serve` as a real subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("typer", reason="the server extra (typer, rich) is not installed")

from typer.testing import CliRunner  # noqa: E402

from mem_integrations.cli import app, read_conversations  # noqa: E402
from mem_integrations.testing import Fault, ScriptedLLMServer  # noqa: E402


@pytest.fixture
def cli(tmp_path: Path, embedder: Any):
    runner = CliRunner()
    env = {"MEMINT_DATA_DIR": str(tmp_path / "data"), "MEMINT_LLM__PROVIDER": "offline",
           "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}

    def invoke(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None,
               expect: int = 0) -> Any:
        result = runner.invoke(app, list(args), obj={"embedder": embedder}, input=input,
                               env={**env, **(extra_env or {})})
        assert result.exit_code == expect, (result.output, result.exception)
        return result

    return invoke


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_add_search_list_history_delete(cli: Any) -> None:
    added = as_json(cli("add", "I live in Paris. I play chess.", "--user-id", "alice",
                        "--metadata", '{"source": "cli"}', "--json"))
    assert [e["memory"] for e in added["results"]] == ["I live in Paris", "I play chess"]
    shown = cli("add", "I moved to Berlin.", "-u", "alice").stdout
    assert "UPDATE" in shown and "Berlin" in shown and "was: I live in Paris" in shown
    cli("add", "-", "-u", "bob", input="I like jazz.\n")

    listed = as_json(cli("list", "-u", "alice", "--json"))["results"]
    assert {m["memory"] for m in listed} == {"I moved to Berlin", "I play chess"}
    assert all(m["user_id"] == "alice" for m in listed)
    assert "2 memories" in cli("list", "-u", "alice").stdout
    assert listed[0]["metadata"] == {"source": "cli"}
    cli("add", "I am allergic to nuts.", "-u", "alice", "--metadata", '{"topic": "health"}')
    filtered = as_json(cli("list", "-u", "alice", "--filters", '{"topic": "health"}', "--json"))
    assert [m["memory"] for m in filtered["results"]] == ["I am allergic to nuts"]
    assert filtered["results"][0]["metadata"] == {"topic": "health"}

    hits = as_json(cli("search", "where does she live", "-u", "alice", "-n", "1", "--json"))
    assert [h["memory"] for h in hits["results"]] == ["I moved to Berlin"]
    berlin = hits["results"][0]["id"]
    table = cli("search", "where does she live", "-u", "alice").stdout
    assert "I moved to Berlin" in table and berlin in table

    history = as_json(cli("history", berlin, "--json"))
    assert [(h["event"], h.get("new_memory")) for h in history] == [
        ("ADD", "I live in Paris"), ("UPDATE", "I moved to Berlin")]
    assert "UPDATE" in cli("history", berlin).stdout

    assert f"Deleted {berlin}" in cli("delete", berlin).stdout
    assert [h["event"] for h in as_json(cli("history", berlin, "--json"))][-1] == "DELETE"
    cli("delete", "--all", "-u", "alice", input="n\n", expect=1)  # declined: nothing deleted
    assert len(as_json(cli("list", "-u", "alice", "--json"))["results"]) == 2
    assert "Deleted 2 memories" in cli("delete", "--all", "-u", "alice", "--yes").stdout
    assert as_json(cli("list", "-u", "alice", "--json")) == {"results": []}
    assert len(as_json(cli("list", "-u", "bob", "--json"))["results"]) == 1


def test_mistakes_get_a_one_line_error_and_a_nonzero_exit(cli: Any) -> None:
    missing = cli("search", "anything", expect=1)
    assert "search needs at least one scope id" in missing.stderr
    assert "Traceback" not in missing.output
    assert "must be a JSON object" in cli("list", "-u", "a", "--filters", "{oops",
                                          expect=2).stderr
    assert "must be a UUID" in cli("history", "not-an-id", expect=1).stderr
    assert "no memory with id" in cli("delete", "00000000-0000-0000-0000-000000000000",
                                      expect=1).stderr
    assert "give a memory id, or --all" in cli("delete", expect=2).stderr
    assert "--all needs --user-id" in cli("delete", "--all", expect=2).stderr
    assert "refusing to serve" in cli("serve", "--host", "0.0.0.0", expect=2).stderr
    assert "refusing to serve" in cli("serve", "--host", "0.0.0.0", "--api-key", " , ",
                                      expect=2).stderr
    assert "needs a scope" in cli("mcp", expect=2).stderr
    assert "refusing to serve" in cli("mcp", "-u", "a", "--transport", "http", "--host",
                                      "0.0.0.0", expect=2).stderr


def test_import_json_and_jsonl_with_scopes_from_flags_and_records(cli: Any,
                                                                  tmp_path: Path) -> None:
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps([
        {"role": "user", "content": "I am a nurse."},
        {"role": "assistant", "content": "Great job!"},
        {"role": "user", "content": "I live in Lisbon."},
        {"role": "user", "content": "I have two cats."},
        {"role": "user", "content": "I drink green tea."},
    ]))
    summary = as_json(cli("import", str(chat), "-u", "alice", "--window", "2", "--json"))
    assert summary["conversations"] == 1 and summary["add_calls"] == 3
    assert summary["added"] == 4 and summary["failed"] == 0
    assert len(as_json(cli("list", "-u", "alice", "--json"))["results"]) == 4

    lines = tmp_path / "chats.jsonl"
    lines.write_text("\n".join(json.dumps(x) for x in [
        {"role": "user", "content": "I like sailing."},
        {"messages": [{"role": "user", "content": "I speak Greek."}], "user_id": "carol",
         "metadata": {"source": "crm"}},
        [{"role": "user", "content": "I own a red bike."}],
    ]) + "\n\n")
    text = cli("import", str(lines), "-u", "dave").stdout
    assert "Imported 3 conversation(s) in 3 add call(s): 3 added" in text
    assert [m["memory"] for m in as_json(cli("list", "-u", "carol", "--json"))["results"]] == [
        "I speak Greek"]
    carol = as_json(cli("list", "-u", "carol", "--json"))["results"][0]
    assert carol["metadata"] == {"source": "crm"}
    assert {m["memory"] for m in as_json(cli("list", "-u", "dave", "--json"))["results"]} == {
        "I like sailing", "I own a red bike"}


def test_import_rejects_bad_files_before_writing(cli: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"role": "user", "content": "ok"}\n{nope\n')
    assert "line 2: not valid JSON" in cli("import", str(broken), "-u", "a", expect=2).stderr
    unscoped = tmp_path / "unscoped.json"
    unscoped.write_text(json.dumps({"messages": [{"role": "user", "content": "I am here."}]}))
    assert "no scope" in cli("import", str(unscoped), expect=2).stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"hello": "world"}))
    assert "expected a message" in cli("import", str(wrong), "-u", "a", expect=2).stderr
    assert as_json(cli("list", "-u", "a", "--json")) == {"results": []}


def test_import_keeps_going_when_the_llm_fails_and_says_so(cli: Any, tmp_path: Path,
                                                           llm: ScriptedLLMServer) -> None:
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps([[{"role": "user", "content": "I live in Oslo."}],
                                [{"role": "user", "content": "I love skiing."}]]))
    llm.queue(Fault(status=500), {"facts": [{"text": "Loves skiing", "categories": []}]})
    env = {"MEMINT_LLM__PROVIDER": "openai", "MEMINT_LLM__BASE_URL": llm.base_url,
           "MEMINT_LLM__API_KEY": "sk-test", "MEMINT_LLM__MAX_RETRIES": "0"}
    result = cli("import", str(chat), "-u", "alice", "--json", extra_env=env, expect=1)
    summary = as_json(result)
    assert summary["add_calls"] == 2 and summary["added"] == 1 and summary["failed"] == 1
    assert "reprocess" in summary["errors"][0]  # the messages were kept


def test_read_conversations_shapes(tmp_path: Path) -> None:
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"conversations": [
        {"messages": [{"role": "user", "content": "a"}], "agent_id": "bot"},
        [{"role": "user", "content": "b"}]]}))
    found = read_conversations(wrapped)
    assert [(c.scope, len(c.messages)) for c in found] == [({"agent_id": "bot"}, 1), ({}, 1)]


def test_doctor_reports_without_printing_secrets(cli: Any, tmp_path: Path,
                                                 llm: ScriptedLLMServer) -> None:
    ok = as_json(cli("doctor", "--json"))
    by_component = {c["component"]: c for c in ok}
    assert by_component["llm"]["status"].startswith("no model configured")
    assert by_component["embedder"]["ok"] is True and "384 dimensions" in by_component[
        "embedder"]["status"]
    assert by_component["vector store"]["ok"] is True
    assert "Everything configured works" in cli("doctor").stdout

    config = tmp_path / "memory.toml"
    config.write_text(
        f'[llm]\nprovider = "openai"\nbase_url = "{llm.base_url}"\n'
        'api_key = "sk-very-secret-llm-key"\n'
        '[history]\nurl = "postgresql://memint:pg-secret-password@127.0.0.1:1/memint"\n')
    result = cli("--config", str(config), "doctor", "--json", expect=1)
    assert "sk-very-secret-llm-key" not in result.output
    assert "pg-secret-password" not in result.output
    checks = {c["component"]: c for c in as_json(result)}
    assert checks["llm"]["ok"] is True and "api key set" in checks["llm"]["setting"]
    assert checks["llm"]["status"].startswith("reachable")
    assert checks["history"]["ok"] is False and "***" in checks["history"]["setting"]
    table = cli("--config", str(config), "doctor", expect=1).output
    assert "FAIL" in table and "sk-very-secret" not in table and "pg-secret" not in table


def test_doctor_reports_the_factorys_choices_and_refusals(cli: Any, tmp_path: Path) -> None:
    config = tmp_path / "memory.toml"
    config.write_text('[vector_store]\npath = "vectors"\n[history]\npath = "../outside.db"\n'
                      '[graph_store]\nprovider = "neo4j"\n')
    checks = {c["component"]: c for c in as_json(cli("--config", str(config), "doctor",
                                                     "--json", expect=1))}
    store = checks["vector store"]
    assert store["ok"] is True and store["setting"].startswith("qdrant_client ")
    assert str(tmp_path / "data" / "vectors") in store["setting"]
    assert store["why"] == "vector_store.path is set"
    assert checks["history"]["ok"] is False
    assert "escapes the data directory" in checks["history"]["status"]
    assert checks["graph store"]["ok"] is False
    assert "graph_store.url is required" in checks["graph store"]["status"]


def test_demo_runs(cli: Any, tmp_path: Path) -> None:
    out = cli("demo", "--data-dir", str(tmp_path / "demo")).stdout
    assert "UPDATE" in out and "History of memory" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_a_real_server(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MEMINT_DATA_DIR": str(tmp_path), "MEMINT_LLM__PROVIDER": "offline",
           "HF_HUB_OFFLINE": "1", "MEMINT_API_KEY": "serve-key"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mem_integrations.cli", "serve", "--port", str(port),
         "--log-level", "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(f"{base}/users").status_code == 401
        headers = {"X-API-Key": "serve-key"}
        added = httpx.post(f"{base}/memories", headers=headers, timeout=60,
                           json={"messages": "I grow tomatoes.", "user_id": "gina"})
        assert added.status_code == 200
        assert httpx.get(f"{base}/users", headers=headers).json()["results"] == [
            {"type": "user", "id": "gina", "total_memories": 1}]
    finally:
        process.terminate()
        process.wait(timeout=30)
