"""The MCP server through real MCP client sessions: the CLI's stdio server in a
subprocess, and streamable HTTP on a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

import httpx2  # noqa: E402 - installed with mcp
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from mem_integrations import Memory  # noqa: E402
from mem_integrations.mcp import create_mcp_server, http_app  # noqa: E402

KEY = "mcp-test-key"


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


async def _exercise(client: Client, memory_check: Any = None) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"remember", "recall", "forget"}
    for tool in tools.values():
        properties = set(tool.input_schema["properties"])
        assert not properties & {"user_id", "agent_id", "run_id"}
        assert tool.description
    assert tools["remember"].input_schema["required"] == ["fact"]

    remembered = await client.call_tool("remember", {"fact": "I am training for a marathon"})
    assert not remembered.is_error
    assert _text(remembered) == "Remembered: I am training for a marathon"
    recalled = await client.call_tool("recall", {"query": "sport", "limit": 3})
    assert "I am training for a marathon" in _text(recalled) and not recalled.is_error

    unknown = await client.call_tool("forget", {"memory_id": "123"})
    assert "No memory with id 123" in _text(unknown)
    bad = await client.call_tool("remember", {"fact": "  "})
    assert bad.is_error and "needs 'fact'" in _text(bad)
    out_of_range = await client.call_tool("recall", {"query": "x", "limit": 0})
    assert out_of_range.is_error

    memory_id = _text(recalled).split("[", 1)[1].split("]", 1)[0]
    forgot = await client.call_tool("forget", {"memory_id": memory_id})
    assert _text(forgot) == "Forgot: I am training for a marathon"
    assert _text(await client.call_tool("recall", {"query": "sport"})) == \
        "No relevant memories found."


async def test_stdio_server_started_by_the_cli(tmp_path: Path) -> None:
    env = {"MEMINT_DATA_DIR": str(tmp_path), "MEMINT_LLM__PROVIDER": "offline",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MEMINT_USER_ID": "alice",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "mem_integrations.cli", "mcp"], env=env,
                                   cwd=str(tmp_path))
    async with Client(params, read_timeout_seconds=120) as client:
        await _exercise(client)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_streamable_http_behind_an_api_key(tmp_path: Path, embedder: Any) -> None:
    import uvicorn

    memory = Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                    embedder=embedder)
    port = _free_port()
    app = http_app(create_mcp_server(memory, user_id="bob"), api_key=KEY)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        async with httpx.AsyncClient() as plain:
            refused = await plain.post(url, json={"jsonrpc": "2.0", "id": 1,
                                                  "method": "tools/list"})
            assert refused.status_code == 401
            wrong = await plain.post(url, headers={"X-API-Key": "nope"}, json={})
            assert wrong.status_code == 401
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            await _exercise(client)
            await client.call_tool("remember", {"fact": "I live in Oslo", "user_id": "mallory"})
        # the tools wrote to the server's scope only, whatever the client sent
        assert [m.memory for m in memory.get_all(user_id="bob")] == ["I live in Oslo"]
        assert [(u.type, u.id) for u in memory.users().results] == [("user", "bob")]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        memory.close()

