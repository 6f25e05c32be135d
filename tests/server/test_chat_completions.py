"""`POST /v1/chat/completions` with the official `openai` client: the server injects the
scope's memories, forwards to the upstream chat model, streams, and remembers the turn."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

fastapi = pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from mem_integrations.core.errors import ConfigurationError  # noqa: E402
from mem_integrations.server import create_app  # noqa: E402
from mem_integrations.testing import ScriptedLLMServer  # noqa: E402
from tests.conftest import facts  # noqa: E402

KEY = "test-key-0123456789"
REPLY = "Try the mushroom risotto."


@pytest.fixture
def upstream() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(responder=lambda body: REPLY) as server:
        yield server


@pytest.fixture
def make_server(tmp_path: Path, embedder: Any) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(*, llm: dict[str, Any] | None = None, **options: Any) -> TestClient:
        app = create_app({"data_dir": str(tmp_path / f"data{len(clients)}"),
                          "llm": llm or {"provider": "offline"}}, embedder=embedder,
                         api_key=KEY, **options)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _openai(server: TestClient, **headers: str) -> openai.OpenAI:
    """An application's own OpenAI client, its base URL pointed at the memory server."""
    return openai.OpenAI(base_url="http://testserver/v1", api_key=KEY, http_client=server,
                         default_headers=headers, max_retries=0)


def _settle(server: TestClient) -> None:
    """Wait for the background adds (they run on the app's event loop)."""
    chat = server.app.state.chat.chat  # type: ignore[attr-defined]
    if chat is not None:
        server.portal.call(chat.await_all)  # type: ignore[union-attr]


def _memories(server: TestClient, user_id: str) -> set[str]:
    listed = server.get("/memories", headers={"X-API-Key": KEY}, params={"user_id": user_id})
    return {m["memory"] for m in listed.json()["results"]}


def _remember(server: TestClient, text: str, user_id: str) -> None:
    server.post("/memories", headers={"X-API-Key": KEY},
                json={"messages": text, "user_id": user_id, "infer": False})


def test_memories_injected_and_the_turn_remembered(make_server: Callable[..., TestClient],
                                                   upstream: ScriptedLLMServer) -> None:
    server = make_server(chat_upstream={"base_url": upstream.base_url, "api_key": "sk-up"})
    _remember(server, "I am vegetarian", "alice")
    reply = _openai(server, **{"X-User-Id": "alice"}).chat.completions.create(
        model="chef-1", temperature=0.2, messages=[
            {"role": "system", "content": "You are a chef."},
            {"role": "user", "content": "I moved to Lisbon last month. Dinner ideas?"}])
    assert reply.choices[0].message.content == REPLY
    sent = upstream.calls[-1]
    assert sent.system.startswith("You are a chef.\n\n") and "- I am vegetarian" in sent.system
    assert sent.body["model"] == "chef-1" and sent.body["temperature"] == 0.2
    _settle(server)
    assert "I moved to Lisbon last month" in _memories(server, "alice")


def test_scope_from_the_user_field_and_isolated(make_server: Callable[..., TestClient],
                                                upstream: ScriptedLLMServer) -> None:
    server = make_server(chat_upstream={"base_url": upstream.base_url})
    _remember(server, "I am allergic to peanuts", "alice")
    client = _openai(server)
    client.chat.completions.create(model="m", user="bob", messages=[
        {"role": "user", "content": "I live in Rome. Am I allergic to anything?"}])
    assert "peanuts" not in json.dumps(upstream.calls[-1].body)
    assert upstream.calls[-1].body["user"] == "bob"  # OpenAI's field still reaches the model
    client.chat.completions.create(model="m", user="alice", messages=[
        {"role": "user", "content": "Am I allergic to anything?"}])
    assert "peanuts" in upstream.calls[-1].system
    _settle(server)
    assert _memories(server, "bob") == {"I live in Rome"}
    assert _memories(server, "alice") == {"I am allergic to peanuts"}


def test_streaming_sends_chunks_and_remembers(make_server: Callable[..., TestClient],
                                              upstream: ScriptedLLMServer) -> None:
    server = make_server(chat_upstream={"base_url": upstream.base_url})
    _remember(server, "I am vegetarian", "alice")
    stream = _openai(server).chat.completions.create(
        model="m", stream=True, extra_body={"user_id": "alice"},
        messages=[{"role": "user", "content": "I bake bread on Sundays. Dinner?"}])
    chunks = list(stream)
    assert len(chunks) > 2
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert "vegetarian" in upstream.calls[-1].system and "user_id" not in upstream.calls[-1].body
    _settle(server)
    assert "I bake bread on Sundays" in _memories(server, "alice")


def test_forwards_to_the_memorys_own_llm(make_server: Callable[..., TestClient]) -> None:
    def respond(body: dict[str, Any]) -> Any:
        if body.get("response_format"):  # the memory's extraction call
            return facts("Lives in Lisbon")
        return REPLY

    with ScriptedLLMServer(responder=respond) as llm:
        server = make_server(llm={"base_url": llm.base_url, "api_key": "sk-test",
                                  "model": "memory-model"})
        reply = _openai(server, **{"X-User-Id": "alice"}).chat.completions.create(
            model="", messages=[{"role": "user", "content": "I live in Lisbon."}])
        assert reply.choices[0].message.content == REPLY
        chat_call = next(c for c in llm.calls if not c.body.get("response_format"))
        assert chat_call.body["model"] == "memory-model"  # the request named none
        _settle(server)
        assert _memories(server, "alice") == {"Lives in Lisbon"}


def test_errors(make_server: Callable[..., TestClient], upstream: ScriptedLLMServer) -> None:
    offline = make_server()
    with pytest.raises(openai.InternalServerError, match="none is configured"):
        _openai(offline, **{"X-User-Id": "a"}).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}])
    server = make_server(chat_upstream={"base_url": upstream.base_url})
    with pytest.raises(openai.BadRequestError, match="X-User-Id"):
        _openai(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}])
    assert upstream.calls == []
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url="http://testserver/v1", api_key="wrong", http_client=server,
                      max_retries=0).chat.completions.create(
            model="m", user="a", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(ConfigurationError, match="invalid or unknown settings .base_ur."):
        create_app({"llm": {"provider": "offline"}}, api_key=None,
                   chat_upstream={"base_ur": "http://x"})
