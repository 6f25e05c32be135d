"""Non-blocking adds over REST and MCP: POST /memories with async_mode answers 202 with the
pending id, GET /pending/{id} follows it (404 once it has run, and for another key's
scope), and the MCP remember tool of a server made with async_mode queues its add."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from mem_integrations import Memory  # noqa: E402
from mem_integrations.server import create_app  # noqa: E402
from mem_integrations.testing import ScriptedLLMServer  # noqa: E402
from tests.reliability.support import sensible_llm  # noqa: E402

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def held_llm(gate: threading.Event) -> Iterator[ScriptedLLMServer]:
    """A scripted LLM that answers only once the gate opens: the queue is full meanwhile."""
    def held(body: dict[str, Any]) -> Any:
        gate.wait(30)
        return sensible_llm(body)

    with ScriptedLLMServer(held) as server:
        yield server


def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within 60 s"
        time.sleep(0.05)


@pytest.fixture
def client(tmp_path: Path, embedder: Any, held_llm: ScriptedLLMServer) -> Iterator[TestClient]:
    app = create_app({"data_dir": str(tmp_path / "data"),
                      "llm": {"base_url": held_llm.base_url, "api_key": "sk-test"}},
                     embedder=embedder, api_key=KEY)
    with TestClient(app) as test_client:
        yield test_client


def test_rest_async_add_is_202_then_the_status_route_follows_it(
        client: TestClient, gate: threading.Event) -> None:
    queued = client.post("/memories", headers=AUTH, json={
        "messages": "I live in Oslo.", "user_id": "alice", "async_mode": True})
    assert queued.status_code == 202
    body = queued.json()
    assert body["status"] == "queued" and body["results"] == []
    pending_id = body["pending_id"]
    status = client.get(f"/pending/{pending_id}", headers=AUTH)
    assert status.status_code == 200
    assert status.json()["status"] in ("queued", "processing")
    assert status.json()["scope"] == {"user_id": "alice"}
    gate.set()
    until(lambda: client.get(f"/pending/{pending_id}", headers=AUTH).status_code == 404,
          "the queued add running")
    gone = client.get(f"/pending/{pending_id}", headers=AUTH).json()
    assert gone["error"] == "PendingNotFoundError" and "it has run" in gone["detail"]
    listed = client.get("/memories", headers=AUTH, params={"user_id": "alice"}).json()
    assert [m["memory"] for m in listed["results"]] == ["I live in Oslo"]


def test_rest_blocking_add_is_still_200(client: TestClient, gate: threading.Event) -> None:
    gate.set()
    added = client.post("/memories", headers=AUTH,
                        json={"messages": "I like tea.", "user_id": "alice"})
    assert added.status_code == 200 and "pending_id" not in added.json()
    assert client.get("/pending/nope", headers=AUTH).status_code == 404


def test_mcp_remember_with_async_mode_queues(tmp_path: Path, embedder: Any,
                                           held_llm: ScriptedLLMServer,
                                           gate: threading.Event) -> None:
    pytest.importorskip("mcp", reason="the mcp extra is not installed")
    from mem_integrations.mcp import create_mcp_server

    memory = Memory({"data_dir": str(tmp_path / "data"),
                     "llm": {"base_url": held_llm.base_url, "api_key": "sk-test"}},
                    embedder=embedder)
    try:
        server = create_mcp_server(memory, user_id="alice", async_mode=True)
        text = server.scoped_tools.tools({"user_id": "alice"}).execute(
            {"name": "remember", "arguments": {"fact": "I run marathons."}})
        [kept] = memory.pending()
        assert text == (f"Queued to remember (pending add {kept.id}): saved in the "
                        "background.")
        gate.set()
        memory.flush()
        assert [m.memory for m in memory.get_all(user_id="alice")] == ["I run marathons"]
    finally:
        memory.close()
