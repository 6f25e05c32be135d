"""POST /pending/{id}/discard: give up on a kept add that can never succeed. It leaves
GET /pending, its messages stay in the history marked discarded, and an unknown id is a
typed 400. (Which keys may discard which scope's adds: tests/server/test_keys.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from mem_integrations import Memory  # noqa: E402
from mem_integrations.server import create_app  # noqa: E402
from mem_integrations.testing import ScriptedLLMServer  # noqa: E402

KEY = "discard-test-key-0123"
AUTH = {"X-API-Key": KEY}


def test_discard_removes_the_pending_add_and_keeps_its_messages(
        tmp_path: Path, embedder: Any, llm: ScriptedLLMServer) -> None:
    config = {"data_dir": str(tmp_path / "data"), "llm": {
        "base_url": llm.base_url, "api_key": "sk-test", "max_retries": 0, "timeout": 5}}
    with TestClient(create_app(config, embedder=embedder, api_key=KEY)) as client:
        llm.queue("not json", "not json either")
        failed = client.post("/memories", headers=AUTH,
                             json={"messages": "I love opera", "user_id": "alice"})
        assert failed.status_code == 502
        pending_id = failed.json()["pending_id"]

        done = client.post(f"/pending/{pending_id}/discard", headers=AUTH)
        assert done.status_code == 200, done.text
        assert done.json()["id"] == pending_id
        assert client.get("/pending", headers=AUTH).json() == []

        for unknown in (pending_id, "no-such-add"):  # discarded already, or never there
            again = client.post(f"/pending/{unknown}/discard", headers=AUTH)
            assert again.status_code == 400
            assert again.json()["error"] == "PendingNotFoundError"
            assert "pending() (or `mem-integrations pending`) lists" in again.json()["detail"]
        gone = client.post(f"/pending/{pending_id}/reprocess", headers=AUTH)
        assert gone.status_code == 400 and gone.json()["error"] == "PendingNotFoundError"
        assert client.post(f"/pending/{pending_id}/discard").status_code == 401  # no key
    with Memory(config, embedder=embedder) as memory:  # what the user said is still there
        [record] = memory.discarded()
        assert record.id == pending_id and record.status == "discarded"
        assert record.messages == [{"role": "user", "content": "I love opera"}]
        assert record.scope == {"user_id": "alice"}
        assert "discarded at" in record.error and "it had failed" in record.error
        assert memory.pending() == []
