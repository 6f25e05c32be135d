"""Time and provenance over REST: an add's `timestamp`, `as_of` on search and list, and
`include_sources` on search — what the engine offers, reachable from any language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from tests.server.test_rest import AUTH, make_client  # noqa: E402,F401  (the fixture)

BETWEEN = "2023-09-01T00:00:00Z"


def test_timestamps_as_of_and_sources(make_client: Callable[..., Any]) -> None:  # noqa: F811
    client = make_client()
    first = client.post("/memories", headers=AUTH, json={
        "messages": "I live in Paris.", "user_id": "alice",
        "timestamp": "2023-05-08T13:56:00Z"})
    assert first.status_code == 200, first.text
    moved = client.post("/memories", headers=AUTH, json={
        "messages": "I moved to Berlin.", "user_id": "alice", "timestamp": 1705741200})
    assert [e["event"] for e in moved.json()["results"]] == ["UPDATE"]

    now = client.post("/search", headers=AUTH, json={"query": "where do I live?",
                                                     "user_id": "alice"}).json()["results"]
    assert [r["memory"] for r in now] == ["I moved to Berlin"]
    assert now[0]["valid_from"].startswith("2024-01-20")
    then = client.post("/search", headers=AUTH, json={
        "query": "where do I live?", "user_id": "alice", "as_of": BETWEEN,
        "include_sources": True}).json()["results"]
    assert [r["memory"] for r in then] == ["I live in Paris"]
    [source] = then[0]["sources"]
    assert source["quote"] and "Paris" in source["quote"]
    listed = client.get("/memories", headers=AUTH,
                        params={"user_id": "alice", "as_of": BETWEEN}).json()["results"]
    assert [m["memory"] for m in listed] == ["I live in Paris"]
    bad = client.post("/memories", headers=AUTH, json={
        "messages": "hi there.", "user_id": "alice", "timestamp": "not a date"})
    assert bad.status_code == 422 and bad.json()["error"]
