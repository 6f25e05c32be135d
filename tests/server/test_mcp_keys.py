"""The MCP server over streamable HTTP with keys bound to scopes: a user key, a tenant key
and an admin key. Every tool (enumerated from the server) keeps to the key's scope: no
key reads, writes or forgets another scope's memories."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

import httpx2  # noqa: E402 - installed with mcp
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from mem_integrations import Memory  # noqa: E402
from mem_integrations.mcp import create_mcp_server, http_app  # noqa: E402
from mem_integrations.server.keys import KeyBinding, KeyStore  # noqa: E402


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_each_key_keeps_to_its_scope_on_every_tool(tmp_path: Path, embedder: Any) -> None:
    import uvicorn

    memory = Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                    embedder=embedder)
    bob_id = memory.add("I live in Rome.", user_id="bob", infer=False).results[0].id
    store = KeyStore.in_dir(tmp_path)
    alice = store.create(KeyBinding(user_id="alice")).token
    acme = store.create(KeyBinding(tenant="acme/")).token
    admin = store.create(KeyBinding(admin=True)).token
    outside = store.create(KeyBinding(tenant="other/")).token
    # the server's own scope, used by admin and tenant keys (within the prefix)
    server_app = http_app(create_mcp_server(memory, user_id="acme/carol", infer=False),
                          key_store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(server_app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/mcp"

    @asynccontextmanager
    async def session(token: str) -> AsyncIterator[Client]:
        async with httpx2.AsyncClient(headers={"X-API-Key": token}, timeout=60) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            yield client

    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        async with session(alice) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert tools == {"remember", "recall", "forget"}  # each has a case below
            # remember: into the key's user, whatever the model sends
            await client.call_tool("remember", {"fact": "I live in Paris", "user_id": "bob"})
            # recall: only the key's user
            recalled = _text(await client.call_tool("recall", {"query": "where do I live"}))
            assert "Paris" in recalled and "Rome" not in recalled
            # forget: another scope's id is an unknown id
            refused = _text(await client.call_tool("forget", {"memory_id": bob_id}))
            assert f"No memory with id {bob_id}" in refused
        async with session(acme) as client:
            await client.call_tool("remember", {"fact": "I live in Oslo"})
            assert "Rome" not in _text(await client.call_tool("recall", {"query": "live"}))
            assert "No memory" in _text(await client.call_tool("forget", {"memory_id": bob_id}))
        async with session(admin) as client:
            recalled = _text(await client.call_tool("recall", {"query": "where do I live"}))
            assert "Oslo" in recalled and "Paris" not in recalled and "Rome" not in recalled
        async with session(outside) as client:  # the server's scope is not in its tenant
            denied = await client.call_tool("recall", {"query": "live"})
            assert denied.is_error and "tenant 'other/'" in _text(denied)
        async with httpx2.AsyncClient(timeout=30) as plain:
            assert (await plain.post(url, json={})).status_code == 401
        assert [m.memory for m in memory.get_all(user_id="alice")] == ["I live in Paris"]
        assert [m.memory for m in memory.get_all(user_id="acme/carol")] == ["I live in Oslo"]
        assert [m.memory for m in memory.get_all(user_id="bob")] == ["I live in Rome."]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        memory.close()
