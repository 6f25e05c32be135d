"""REST keys bound to scopes: two scoped keys (a user, a tenant prefix) and one admin key
against every route of the app. The routes are enumerated from the app itself, so a new
route without a cross-scope case here fails the test instead of escaping it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.routing import Mount  # noqa: E402

from mem_integrations.server import create_app  # noqa: E402
from mem_integrations.server.keys import KeyBinding, KeyStore  # noqa: E402
from mem_integrations.testing import ScriptedLLMServer  # noqa: E402

LEGACY = "legacy-admin-key-0123"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@dataclass
class World:
    client: TestClient
    alice: dict[str, str]    # headers of a key bound to user alice
    acme: dict[str, str]     # a key bound to tenant "acme/"
    admin: dict[str, str]    # an admin key from the key store
    legacy: dict[str, str]   # the legacy single key: admin
    ids: dict[str, str]      # one memory id per user
    bob_pending: str         # a pending add of bob's (nobody scoped may see it)
    store: KeyStore

    def memories(self, user_id: str) -> list[str]:
        listed = self.client.get("/memories", headers=self.admin, params={"user_id": user_id})
        assert listed.status_code == 200
        return sorted(m["memory"] for m in listed.json()["results"])


def _headers(token: str) -> dict[str, str]:
    return {"X-API-Key": token}


@pytest.fixture
def world(tmp_path: Path, embedder: Any, llm: ScriptedLLMServer) -> Iterator[World]:
    data = tmp_path / "data"
    store = KeyStore.in_dir(data)
    alice = store.create(KeyBinding(user_id="alice"), name="alice").token
    acme = store.create(KeyBinding(tenant="acme/"), name="acme").token
    admin = store.create(KeyBinding(admin=True), name="ops").token
    app = create_app({"data_dir": str(data), "llm": {
        "base_url": llm.base_url, "api_key": "sk-test", "max_retries": 0, "timeout": 5}},
        embedder=embedder, api_key=LEGACY)
    with TestClient(app) as client:
        ids = {}
        for user, text in (("alice", "I live in Paris."), ("bob", "I live in Rome."),
                           ("acme/carol", "I live in Oslo.")):
            added = client.post("/memories", headers=_headers(admin), json={
                "messages": text, "user_id": user, "infer": False})
            assert added.status_code == 200, added.text
            ids[user] = added.json()["results"][0]["id"]
        llm.queue("not json")
        failed = client.post("/memories", headers=_headers(admin),
                             json={"messages": "I love opera", "user_id": "bob"})
        assert failed.status_code == 502
        yield World(client, _headers(alice), _headers(acme), _headers(admin),
                    _headers(LEGACY), ids, failed.json()["pending_id"], store)


# Each protected route: what a scoped key tries against bob's data, and what it must get.
Attempt = Callable[[World, dict[str, str]], Any]


def _unknown_like(world: World, key: dict[str, str], response: Any, method: str, path: str,
                  **kw: Any) -> None:
    """Another scope's memory id is answered to the key exactly as an unknown id."""
    unknown = world.client.request(method, path.replace(world.ids["bob"], UNKNOWN_ID),
                                   headers=key, **kw)
    assert response.status_code == unknown.status_code == 404
    assert response.json() == {**unknown.json(),
                               "detail": unknown.json()["detail"].replace(UNKNOWN_ID,
                                                                          world.ids["bob"])}


def _forbidden(response: Any) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "AccessDeniedError" and "bound to" in body["detail"]


def by_id(method: str, suffix: str = "", **kw: Any) -> Attempt:
    def attempt(world: World, key: dict[str, str]) -> None:
        path = f"/memories/{world.ids['bob']}{suffix}"
        response = world.client.request(method, path, headers=key, **kw)
        _unknown_like(world, key, response, method, path, **kw)
    return attempt


def scoped(method: str, path: str, **kw: Any) -> Attempt:
    def attempt(world: World, key: dict[str, str]) -> None:
        _forbidden(world.client.request(method, path, headers=key, **kw))
    return attempt


def users(world: World, key: dict[str, str]) -> None:
    shown = {(s["type"], s["id"]) for s in world.client.get("/users", headers=key).json()[
        "results"]}
    assert ("user", "bob") not in shown and shown  # only the key's own scopes
    assert shown == ({("user", "alice")} if key is world.alice else {("user", "acme/carol")})


def pending(world: World, key: dict[str, str]) -> None:
    assert world.client.get("/pending", headers=key).json() == []


def on_pending(action: str) -> Attempt:
    def attempt(world: World, key: dict[str, str]) -> None:
        theirs = world.client.post(f"/pending/{world.bob_pending}/{action}", headers=key)
        unknown = world.client.post(f"/pending/no-such-add/{action}", headers=key)
        assert theirs.status_code == unknown.status_code == 400
        assert theirs.json()["error"] == unknown.json()["error"] == "PendingNotFoundError"
    return attempt


def pending_status(world: World, key: dict[str, str]) -> None:
    theirs = world.client.get(f"/pending/{world.bob_pending}", headers=key)
    unknown = world.client.get("/pending/no-such-add", headers=key)
    # another scope's pending add looks exactly like one that does not exist
    assert theirs.status_code == unknown.status_code
    assert theirs.status_code >= 400 and theirs.json()["error"] == unknown.json()["error"]
    assert theirs.text.replace(world.bob_pending, "ID") == unknown.text.replace(
        "no-such-add", "ID")  # nothing but the id the caller gave is echoed


def reset(world: World, key: dict[str, str]) -> None:
    refused = world.client.post("/reset", headers=key)
    assert refused.status_code == 403 and "admin API key" in refused.json()["detail"]


def chat(world: World, key: dict[str, str]) -> None:
    _forbidden(world.client.post("/v1/chat/completions", headers={**key, "X-User-Id": "bob"},
                                 json={"model": "m", "messages": [
                                     {"role": "user", "content": "where do I live?"}]}))


CASES: dict[tuple[str, str], Attempt] = {
    ("POST", "/memories"): scoped("POST", "/memories", json={
        "messages": "I live in Oslo.", "user_id": "bob", "infer": False}),
    ("GET", "/memories"): scoped("GET", "/memories", params={"user_id": "bob"}),
    ("DELETE", "/memories"): scoped("DELETE", "/memories", params={"user_id": "bob"}),
    ("GET", "/memories/{memory_id}"): by_id("GET"),
    ("PUT", "/memories/{memory_id}"): by_id("PUT", json={"text": "I live in Nice."}),
    ("DELETE", "/memories/{memory_id}"): by_id("DELETE"),
    ("GET", "/memories/{memory_id}/history"): by_id("GET", "/history"),
    ("POST", "/search"): scoped("POST", "/search", json={"query": "live", "user_id": "bob"}),
    ("GET", "/users"): users,
    ("GET", "/pending"): pending,
    ("GET", "/pending/{pending_id}"): pending_status,
    ("POST", "/pending/{pending_id}/reprocess"): on_pending("reprocess"),
    ("POST", "/pending/{pending_id}/discard"): on_pending("discard"),
    ("POST", "/reset"): reset,
    ("POST", "/v1/chat/completions"): chat,
}
# Open without a key, and revealing no memory: liveness and the offline docs.
OPEN = {("GET", "/health"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"), ("GET", "/openapi.json"), ("HEAD", "/openapi.json"),
        ("MOUNT", "/static-offline-docs")}


def _routes(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    """Every (method, path) the app serves, through included routers (FastAPI keeps an
    included router as one lazy route) and mounts."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            found |= _routes(included.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif isinstance(route, Mount):
            found.add(("MOUNT", prefix + route.path))
        else:
            found |= {(m, prefix + route.path) for m in route.methods}
    return found


def _protected_routes(client: TestClient) -> set[tuple[str, str]]:
    routes = _routes(client.app.routes)
    assert routes >= OPEN
    return routes - OPEN


def test_every_route_has_a_cross_scope_case_and_needs_a_key(world: World) -> None:
    routes = _protected_routes(world.client)
    assert routes == set(CASES), ("routes without a cross-scope case here: "
                                  f"{sorted(routes - set(CASES))}")
    for method, path in routes:
        concrete = path.replace("{memory_id}", world.ids["bob"]).replace(
            "{pending_id}", world.bob_pending)
        for headers in ({}, {"X-API-Key": "mi_0000_wrong"}, {"Authorization": "Bearer nope"}):
            response = world.client.request(method, concrete, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"] == "Unauthorized"


def test_no_scoped_key_reads_or_writes_another_scope_by_any_route(world: World) -> None:
    before = {user: world.memories(user) for user in world.ids}
    for attempt in CASES.values():
        for key in (world.alice, world.acme):
            attempt(world, key)
    after = {user: world.memories(user) for user in world.ids}
    assert after == before  # nothing written, changed or deleted anywhere
    history = world.client.get(f"/memories/{world.ids['bob']}/history", headers=world.admin)
    assert [e["event"] for e in history.json()] == ["ADD"]
    assert [p["id"] for p in world.client.get("/pending", headers=world.admin).json()] == [
        world.bob_pending]


def test_scoped_keys_work_in_their_own_scope(world: World) -> None:
    client, alice, acme = world.client, world.alice, world.acme
    # a user key fills in its user id; naming it again is fine
    added = client.post("/memories", headers=alice, json={"messages": "I like tea.",
                                                          "infer": False})
    assert added.status_code == 200 and added.json()["results"][0]["event"] == "ADD"
    listed = client.get("/memories", headers=alice).json()["results"]
    assert sorted(m["memory"] for m in listed) == ["I like tea.", "I live in Paris."]
    assert all(m["user_id"] == "alice" for m in listed)
    found = client.post("/search", headers=alice, json={"query": "tea", "user_id": "alice"})
    assert found.status_code == 200 and found.json()["results"]
    mine = world.ids["alice"]
    assert client.get(f"/memories/{mine}", headers=alice).json()["memory"] == "I live in Paris."
    assert client.put(f"/memories/{mine}", headers=alice,
                      json={"text": "I live in Lyon."}).status_code == 200
    assert [e["event"] for e in client.get(f"/memories/{mine}/history", headers=alice).json()
            ] == ["ADD", "UPDATE"]
    assert client.delete(f"/memories/{mine}", headers=alice).status_code == 200
    # a tenant key: any user id with its prefix, by scope and by bare id
    carol = world.ids["acme/carol"]
    assert client.get(f"/memories/{carol}", headers=acme).json()["user_id"] == "acme/carol"
    assert client.put(f"/memories/{carol}", headers=acme,
                      json={"metadata": {"team": "x"}}).status_code == 200
    assert client.post("/memories", headers=acme, json={
        "messages": "I like chess.", "user_id": "acme/dave", "infer": False}).status_code == 200
    missing = client.post("/search", headers=acme, json={"query": "chess"})
    assert missing.status_code == 403 and "starts with 'acme/'" in missing.json()["detail"]
    assert client.delete(f"/memories/{carol}", headers=acme).status_code == 200
    assert client.get(f"/memories/{carol}/history", headers=acme).json()[-1]["event"] == \
        "DELETE"  # its history outlives it, still within the tenant
    assert world.memories("bob") == ["I live in Rome."]


def test_admin_keys_see_everything_and_reset_stays_off_unless_allowed(world: World) -> None:
    for key in (world.admin, world.legacy):  # the legacy single key is an admin key
        shown = {s["id"] for s in world.client.get("/users", headers=key).json()["results"]}
        assert shown == {"alice", "bob", "acme/carol"}
        assert world.client.get(f"/memories/{world.ids['bob']}", headers=key).status_code == 200
        off = world.client.post("/reset", headers=key)
        assert off.status_code == 403 and "--allow-reset" in off.json()["detail"]
    assert world.memories("bob") == ["I live in Rome."]


def test_reset_when_allowed_needs_an_admin_key(tmp_path: Path, embedder: Any) -> None:
    store = KeyStore.in_dir(tmp_path)
    user = _headers(store.create(KeyBinding(user_id="u")).token)
    admin = _headers(store.create(KeyBinding(admin=True)).token)
    app = create_app({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                     embedder=embedder, api_key=None, allow_reset=True)
    with TestClient(app) as client:
        client.post("/memories", headers=user, json={"messages": "I like tea.", "infer": False})
        assert client.post("/reset", headers=user).status_code == 403
        assert client.post("/reset", headers=admin).status_code == 200
        assert client.get("/users", headers=admin).json() == {"results": []}


def test_revoked_keys_stop_at_once_and_the_last_revoke_does_not_open_the_server(
        world: World) -> None:
    assert world.client.get("/memories", headers=world.alice).status_code == 200
    for key in world.store.list_keys():
        world.store.revoke(key.id)
    for key in (world.alice, world.acme, world.admin):
        refused = world.client.get("/users", headers=key)
        assert refused.status_code == 401 and refused.json()["error"] == "Unauthorized"
    assert world.client.get("/users").status_code == 401
    assert world.client.get("/users", headers=world.legacy).status_code == 200


def test_a_key_over_its_rate_limit_gets_429_with_the_common_body(tmp_path: Path,
                                                                   embedder: Any) -> None:
    store = KeyStore.in_dir(tmp_path)
    slow = _headers(store.create(KeyBinding(user_id="u"), rate_limit=2).token)
    other = _headers(store.create(KeyBinding(user_id="v")).token)
    app = create_app({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                     embedder=embedder, api_key=None, rate_limit=1000)
    with TestClient(app) as client:
        assert [client.get("/memories", headers=slow).status_code for _ in range(2)] == [
            200, 200]
        limited = client.get("/memories", headers=slow)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        body = limited.json()
        assert body["error"] == "RateLimited" and "2 requests per minute" in body["detail"]
        assert client.get("/memories", headers=other).status_code == 200  # per key
