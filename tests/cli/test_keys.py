"""`mem-integrations keys create / list / revoke`: keys bound to scopes, stored hashed in
the data directory, accepted by the REST server until revoked."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("typer", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from mem_integrations.cli.commands import app  # noqa: E402
from mem_integrations.server import create_app  # noqa: E402
from mem_integrations.server.keys import KEY_FILE  # noqa: E402


def _run(data: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--data-dir", str(data), "keys", *args],
                                env={"MEMINT_LLM__PROVIDER": "offline"})
    return result


def test_create_list_revoke(tmp_path: Path, embedder: Any) -> None:
    made = _run(tmp_path, "create", "--user-id", "alice", "--name", "alice's app",
                "--rate-limit", "30", "--json")
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    token = created["key"]
    assert created["scope"] == "user_id=alice" and created["rate_limit"] == 30
    stored = (tmp_path / KEY_FILE).read_text()
    assert token not in stored and token.split("_", 2)[2] not in stored  # only its hash
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    admin = _run(tmp_path, "create", "--admin")
    assert admin.exit_code == 0 and admin.stdout.strip().startswith("mi_")

    listed = json.loads(_run(tmp_path, "list", "--json").stdout)
    assert [(k["id"], k["scope"], k["revoked_at"]) for k in listed] == [
        (created["id"], "user_id=alice", None), (listed[1]["id"], "admin", None)]
    assert token not in _run(tmp_path, "list").stdout

    application = create_app({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                             embedder=embedder, api_key=None)
    with TestClient(application) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/memories", headers=headers).status_code == 200
        assert _run(tmp_path, "revoke", created["id"]).exit_code == 0
        assert client.get("/memories", headers=headers).status_code == 401  # at once
    listed = json.loads(_run(tmp_path, "list", "--json").stdout)
    assert listed[0]["revoked_at"] is not None and listed[1]["revoked_at"] is None


@pytest.mark.parametrize("args, says", [
    ((), "exactly one"),
    (("--user-id", "a", "--admin"), "exactly one"),
    (("--tenant", " "), "must not be empty"),
])
def test_a_key_needs_exactly_one_binding(tmp_path: Path, args: tuple[str, ...],
                                         says: str) -> None:
    result = _run(tmp_path, "create", *args)
    assert result.exit_code == 2 and says in result.output
    assert not (tmp_path / KEY_FILE).exists()  # nothing written


def test_revoking_an_unknown_id_says_how_to_find_one(tmp_path: Path) -> None:
    result = _run(tmp_path, "revoke", "nope")
    assert result.exit_code == 1 and "keys list" in result.output
