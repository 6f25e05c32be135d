"""The REST server through HTTP: FastAPI's TestClient for the routes, and a real uvicorn
on 127.0.0.1 for the wire."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

fastapi = pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from mem_integrations import Memory  # noqa: E402
from mem_integrations.server import create_app  # noqa: E402
from mem_integrations.testing import ScriptedLLMServer  # noqa: E402
from tests.conftest import facts  # noqa: E402

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def make_client(tmp_path: Path, embedder: Any) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(*, llm: dict[str, Any] | None = None, **options: Any) -> TestClient:
        options.setdefault("api_key", KEY)
        app = create_app({"data_dir": str(tmp_path / f"data{len(clients)}"),
                          "llm": llm or {"provider": "offline"}}, embedder=embedder, **options)
        client = TestClient(app)
        client.__enter__()  # runs the lifespan: the memory opens here
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_add_list_get_search_update_history_delete(make_client: Callable[..., TestClient]
                                                   ) -> None:
    client = make_client()
    added = client.post("/memories", headers=AUTH, json={
        "messages": [{"role": "user", "content": "I live in Paris. I play tennis on Sundays."},
                     {"role": "assistant", "content": "Nice!"}],
        "user_id": "alice", "metadata": {"topic": "profile"}})
    assert added.status_code == 200
    events = added.json()["results"]
    assert [e["event"] for e in events] == ["ADD", "ADD"]
    client.post("/memories", headers=AUTH, json={"messages": "I am allergic to peanuts.",
                                                 "user_id": "alice",
                                                 "metadata": {"topic": "health"}})
    client.post("/memories", headers=AUTH, json={"messages": "I live in Rome.", "user_id": "bob"})

    listed = client.get("/memories", headers=AUTH, params={"user_id": "alice"}).json()
    assert {m["memory"] for m in listed["results"]} == {
        "I live in Paris", "I play tennis on Sundays", "I am allergic to peanuts"}
    assert all(m["user_id"] == "alice" for m in listed["results"])
    filtered = client.get("/memories", headers=AUTH, params={
        "user_id": "alice", "filters": '{"topic": "health"}'}).json()
    assert [m["memory"] for m in filtered["results"]] == ["I am allergic to peanuts"]
    assert len(client.get("/memories", headers=AUTH,
                          params={"user_id": "alice", "limit": 1}).json()["results"]) == 1

    found = client.post("/search", headers=AUTH, json={
        "query": "Where does she live?", "user_id": "alice", "limit": 1}).json()["results"]
    assert [m["memory"] for m in found] == ["I live in Paris"] and 0 < found[0]["score"] <= 1
    paris = found[0]["id"]

    one = client.get(f"/memories/{paris}", headers=AUTH).json()
    assert one["memory"] == "I live in Paris" and one["metadata"] == {"topic": "profile"}
    updated = client.put(f"/memories/{paris}", headers=AUTH, json={"text": "Lives in Berlin"})
    assert updated.status_code == 200 and updated.json()["id"] == paris
    assert client.get(f"/memories/{paris}", headers=AUTH).json()["memory"] == "Lives in Berlin"

    assert client.delete(f"/memories/{paris}", headers=AUTH).status_code == 200
    history = client.get(f"/memories/{paris}/history", headers=AUTH).json()
    assert [(h["event"], h.get("new_memory")) for h in history] == [
        ("ADD", "I live in Paris"), ("UPDATE", "Lives in Berlin"), ("DELETE", None)]
    gone = client.get(f"/memories/{paris}", headers=AUTH)
    assert gone.status_code == 404 and gone.json()["error"] == "MemoryNotFoundError"

    users = client.get("/users", headers=AUTH).json()["results"]
    assert {(u["type"], u["id"], u["total_memories"]) for u in users} == {
        ("user", "alice", 2), ("user", "bob", 1)}
    deleted = client.request("DELETE", "/memories", headers=AUTH, params={"user_id": "alice"})
    assert deleted.json()["count"] == 2
    assert client.get("/memories", headers=AUTH, params={"user_id": "alice"}).json() == {
        "results": []}
    assert len(client.get("/memories", headers=AUTH,
                          params={"user_id": "bob"}).json()["results"]) == 1


def test_a_missing_or_wrong_api_key_is_rejected(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key=[KEY, "second-key"])
    body = {"query": "anything", "user_id": "alice"}
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": f"Basic {KEY}"},
                    {"Authorization": "Bearer wrong"}, {"X-API-Key": KEY[:-1]}):
        response = client.post("/search", json=body, headers=headers)
        assert response.status_code == 401, headers
        assert "API key" in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    for route in ("/memories?user_id=alice", "/users", "/pending"):
        assert client.get(route).status_code == 401
    assert client.post("/reset").status_code == 401
    assert client.post("/search", json=body, headers=AUTH).status_code == 200
    assert client.post("/search", json=body,
                       headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert client.post("/search", json=body, headers={"X-API-Key": "second-key"}).status_code == 200
    # liveness and the docs need no key, and reveal no memory
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/memories", "/search", "/memories/{memory_id}/history", "/users", "/reset"} <= set(
        spec["paths"])
    assert set(spec["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}
    assert "results" in spec["components"]["schemas"]["SearchResult"]["properties"]


def test_without_a_configured_key_no_header_is_needed(make_client: Callable[..., TestClient]
                                                      ) -> None:
    client = make_client(api_key=None)
    assert client.post("/memories", json={"messages": "I like tea.", "user_id": "a"}
                       ).status_code == 200


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "error", "says"), [
    ("post", "/memories", {"json": {"messages": "I like tea."}}, 400, "MissingScopeError",
     "scope id"),
    ("post", "/memories", {"json": {"messages": "   ", "user_id": "a"}}, 400,
     "InvalidInputError", ""),
    ("post", "/memories", {"json": {"messages": [{"role": "user"}], "user_id": "a"}}, 400,
     "InvalidInputError", ""),
    ("post", "/search", {"json": {"query": "x", "user_id": "a",
                                  "filters": {"year": {"between": [1, 2]}}}}, 400,
     "FilterError", "between"),
    ("get", "/memories", {"params": {"user_id": "a", "filters": "{not json"}}, 400,
     "InvalidInputError", "JSON"),
    ("get", "/memories/not-a-uuid", {}, 400, "InvalidInputError", "UUID"),
    ("put", "/memories/00000000-0000-0000-0000-000000000000", {"json": {"text": "x"}}, 404,
     "MemoryNotFoundError", "no memory"),
    ("put", "/memories/00000000-0000-0000-0000-000000000000", {"json": {}}, 400,
     "InvalidInputError", "text= or metadata="),
    ("request", "/memories", {"params": {}}, 400, "MissingScopeError", "scope id"),
    ("post", "/pending/nope/reprocess", {}, 400, "PendingNotFoundError", "no pending add"),
])
def test_bad_input_is_a_4xx_with_a_clear_message(
        make_client: Callable[..., TestClient], method: str, path: str,
        kwargs: dict[str, Any], status: int, error: str, says: str) -> None:
    client = make_client()
    if method == "request":
        response = client.request("DELETE", path, headers=AUTH, **kwargs)
    else:
        response = getattr(client, method)(path, headers=AUTH, **kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and says in body["detail"] and body["detail"]


@pytest.mark.parametrize("body", [
    {"messages": "hi", "user_id": 5},            # wrong type
    {"messages": "hi", "user_id": "a", "nope": 1},  # unknown field
    {"query": "missing messages", "user_id": "a"},
])
def test_a_body_of_the_wrong_shape_is_422(make_client: Callable[..., TestClient],
                                          body: dict[str, Any]) -> None:
    response = make_client().post("/memories", headers=AUTH, json=body)
    assert response.status_code == 422 and response.json()["detail"]


def test_invalid_json_is_422(make_client: Callable[..., TestClient]) -> None:
    response = make_client().post("/memories", headers={**AUTH, "content-type":
                                                        "application/json"}, content=b"{nope")
    assert response.status_code == 422


def test_oversize_bodies_get_413_and_change_nothing(make_client: Callable[..., TestClient]
                                                    ) -> None:
    client = make_client(max_body_bytes=4096)
    big = {"messages": "I like tea. " * 1000, "user_id": "alice"}
    response = client.post("/memories", headers=AUTH, json=big)
    assert response.status_code == 413
    assert "limit is 4096 bytes" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        yield b'{"messages": "'
        for _ in range(100):
            yield b"I like tea. " * 10
        yield b'", "user_id": "alice"}'

    chunked = client.post("/memories", headers={**AUTH, "content-type": "application/json"},
                          content=chunks())
    assert chunked.status_code == 413
    assert client.get("/memories", headers=AUTH, params={"user_id": "alice"}).json() == {
        "results": []}
    small = client.post("/memories", headers=AUTH,
                        json={"messages": "I like tea.", "user_id": "alice"})
    assert small.status_code == 200


def test_a_failing_llm_is_502_with_the_pending_id_then_reprocess(
        make_client: Callable[..., TestClient], llm: ScriptedLLMServer) -> None:
    client = make_client(llm={"base_url": llm.base_url, "api_key": "sk-test",
                              "max_retries": 0, "timeout": 5})
    llm.queue("not json", "not json either")
    failed = client.post("/memories", headers=AUTH,
                         json={"messages": "I love opera", "user_id": "alice"})
    assert failed.status_code == 502
    body = failed.json()
    assert body["error"] == "LLMResponseError" and body["pending_id"]
    assert "reprocess" in body["detail"]
    pending = client.get("/pending", headers=AUTH).json()
    assert [p["id"] for p in pending] == [body["pending_id"]]

    llm.queue(facts("Loves opera"))
    done = client.post(f"/pending/{body['pending_id']}/reprocess", headers=AUTH)
    assert done.status_code == 200 and done.json()["results"][0]["memory"] == "Loves opera"
    assert client.get("/pending", headers=AUTH).json() == []


def test_reset_is_off_unless_enabled(make_client: Callable[..., TestClient]) -> None:
    locked = make_client()
    locked.post("/memories", headers=AUTH, json={"messages": "I like tea.", "user_id": "a"})
    refused = locked.post("/reset", headers=AUTH)
    assert refused.status_code == 403
    assert refused.json()["error"] == "AccessDeniedError" and "--allow-reset" in refused.json()[
        "detail"]
    assert len(locked.get("/memories", headers=AUTH, params={"user_id": "a"}).json()[
        "results"]) == 1
    open_ = make_client(allow_reset=True)
    open_.post("/memories", headers=AUTH, json={"messages": "I like tea.", "user_id": "a"})
    assert open_.post("/reset", headers=AUTH).status_code == 200
    assert open_.get("/users", headers=AUTH).json() == {"results": []}


def test_every_error_status_has_the_common_body(make_client: Callable[..., TestClient]
                                                ) -> None:
    client = make_client()
    responses = {
        401: client.get("/users"),
        404: client.get("/memories/00000000-0000-4000-8000-000000000000", headers=AUTH),
        405: client.patch("/memories", headers=AUTH),
        422: client.post("/memories", headers=AUTH, json={"messages": "hi", "user_id": 5}),
        400: client.get("/memories", headers=AUTH),
    }
    unknown_route = client.get("/no-such-route", headers=AUTH)
    assert unknown_route.status_code == 404
    responses[0] = unknown_route
    for status, response in responses.items():
        assert status in (0, response.status_code), (status, response.text)
        body = response.json()
        assert isinstance(body["detail"], str) and body["detail"], body
        assert isinstance(body["error"], str) and body["error"], body
    invalid = responses[422].json()
    assert invalid["error"] == "RequestValidationError"
    assert "body.user_id" in invalid["detail"] and invalid["errors"][0]["loc"] == [
        "body", "user_id"]
    assert responses[405].json()["error"] == "MethodNotAllowed"
    spec = client.get("/openapi.json").json()
    documented = spec["paths"]["/memories"]["post"]["responses"]["422"]
    assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_the_docs_are_served_offline_from_packaged_assets(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    for page, asset_names in (("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
                              ("/redoc", ("redoc.standalone.js",))):
        html = client.get(page)
        assert html.status_code == 200
        sources = re.findall(r'(?:src|href)=["\']([^"\']+)', html.text)
        sources += re.findall(r"url: *'([^']+)'", html.text)
        assert sources and all(s.startswith("/") for s in sources), sources  # no CDN
        for name in asset_names:
            [url] = [s for s in sources if s.endswith(name)]
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 10_000, url


def test_serves_a_memory_facade_and_leaves_it_open(tmp_path: Path, embedder: Any) -> None:
    memory = Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                    embedder=embedder)
    try:
        with TestClient(create_app(memory, api_key=KEY)) as client:
            client.post("/memories", headers=AUTH,
                        json={"messages": "I own a bike.", "user_id": "a"})
        assert [m.memory for m in memory.get_all(user_id="a")] == ["I own a bike"]
    finally:
        memory.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_real_uvicorn_server_on_loopback(tmp_path: Path, embedder: Any) -> None:
    import uvicorn

    port = _free_port()
    app = create_app({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                     api_key=KEY, embedder=embedder, max_body_bytes=2048)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/health").json()["status"] == "ok"
            assert http.post("/search", json={"query": "x", "user_id": "a"}).status_code == 401
            assert http.post("/memories", headers=AUTH, json={
                "messages": "I collect vinyl records.", "user_id": "a"}).status_code == 200
            hits = http.post("/search", headers={"Authorization": f"Bearer {KEY}"},
                             json={"query": "music hobby", "user_id": "a"}).json()["results"]
            assert [h["memory"] for h in hits] == ["I collect vinyl records"]
            too_big = http.post("/memories", headers=AUTH,
                                json={"messages": "x" * 5000, "user_id": "a"})
            assert too_big.status_code == 413
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_the_api_key_comes_from_the_environment_by_default(
        tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMINT_API_KEY", "first-key, second-key")
    app = create_app({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                     embedder=embedder)
    with TestClient(app) as client:
        assert client.get("/users").status_code == 401
        assert client.get("/users", headers={"X-API-Key": "first-key"}).status_code == 200
        assert client.get("/users", headers={"X-API-Key": "second-key"}).status_code == 200
        assert client.get("/users", headers={"X-API-Key": "first-key, second-key"}
                          ).status_code == 401
