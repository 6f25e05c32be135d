"""The MCP server: `remember`, `recall` and `forget` for any MCP client (Claude Desktop,
Cursor, IDE agents...), over stdio or streamable HTTP.

    mem-integrations mcp --user-id alice                       # stdio
    mem-integrations mcp --transport http --port 8765 --user-id alice --api-key s3cret

The scope comes from the server's configuration (flags, or MEMINT_USER_ID /
MEMINT_AGENT_ID / MEMINT_RUN_ID), never from the model: the tools have no scope
parameter. Tool failures come back as `Error: ...` text, like the framework-free tools
(the same dispatcher runs them). Over HTTP, an API key (X-API-Key or Bearer) is required
when set, and binding beyond loopback without one is refused by the CLI.

Needs the `mcp` extra (the official MCP Python SDK, 2.x).
"""

# No `from __future__ import annotations`: the SDK evaluates the tools' annotations,
# which refer to this function's locals.
import logging
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import Field

from mem_integrations.core.sync_memory import AnyMemory
from mem_integrations.tools import (
    DEFAULT_LIMIT,
    ERROR_PREFIX,
    FACT_DESCRIPTION,
    FORGET_DESCRIPTION,
    MAX_LIMIT,
    MEMORY_ID_DESCRIPTION,
    QUERY_DESCRIPTION,
    RECALL_DESCRIPTION,
    REMEMBER_DESCRIPTION,
    MemoryTools,
    limit_description,
)

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import ToolAnnotations
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the MCP server needs the official MCP SDK 2.x: "
                      "pip install 'mem-integrations[mcp]'") from exc

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Long-term memory for this user. Call recall at the start of a task to find what is "
    "known (preferences, earlier decisions, personal details); call remember when the user "
    "shares something worth keeping for later conversations; call forget with an id from "
    "recall when a memory is wrong or the user asks to forget it.")


def create_mcp_server(memory: AnyMemory, *, user_id: str | None = None,
                      agent_id: str | None = None, run_id: str | None = None,
                      name: str = "mem-integrations", infer: bool = True,
                      limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT) -> MCPServer:
    """An `MCPServer` with the three memory tools, bound to one scope."""
    from mem_integrations import __version__

    tools = MemoryTools(memory, user_id=user_id, agent_id=agent_id, run_id=run_id,
                        infer=infer, limit=limit, max_limit=max_limit)
    # The SDK configures logging at construction; keep the host's INFO logs quiet.
    server = MCPServer(name, instructions=INSTRUCTIONS, version=__version__,
                       log_level="WARNING")

    async def call(tool: str, arguments: dict[str, Any]) -> str:
        text = await tools.arun(tool, arguments)
        if text.startswith(ERROR_PREFIX):  # reported to the client with isError: true
            raise ToolError(text.removeprefix(ERROR_PREFIX))
        return text

    async def remember(fact: Annotated[str, Field(description=FACT_DESCRIPTION)]) -> str:
        return await call("remember", {"fact": fact})

    async def recall(
        query: Annotated[str, Field(description=QUERY_DESCRIPTION)],
        limit: Annotated[int, Field(ge=1, le=max_limit, description=limit_description(
            limit, max_limit))] = limit,
    ) -> str:
        return await call("recall", {"query": query, "limit": limit})

    async def forget(memory_id: Annotated[str, Field(description=MEMORY_ID_DESCRIPTION)]
                     ) -> str:
        return await call("forget", {"memory_id": memory_id})

    server.add_tool(remember, description=REMEMBER_DESCRIPTION, structured_output=False,
                    annotations=ToolAnnotations(title="Remember", readOnlyHint=False,
                                                destructiveHint=False, openWorldHint=False))
    server.add_tool(recall, description=RECALL_DESCRIPTION, structured_output=False,
                    annotations=ToolAnnotations(title="Recall", readOnlyHint=True,
                                                openWorldHint=False))
    server.add_tool(forget, description=FORGET_DESCRIPTION, structured_output=False,
                    annotations=ToolAnnotations(title="Forget", readOnlyHint=False,
                                                destructiveHint=True, openWorldHint=False))
    server.memory_tools = tools  # type: ignore[attr-defined]
    return server


def http_app(server: MCPServer, *, api_key: str | Iterable[str] | None = None,
             path: str = "/mcp", host: str = "127.0.0.1",
             max_body_bytes: int | None = None, stateless: bool = False) -> Any:
    """The streamable-HTTP ASGI app, behind the API-key check when a key is set."""
    from mem_integrations.server.security import (
        DEFAULT_MAX_BODY_BYTES,
        APIKeyMiddleware,
        APIKeys,
    )

    app = server.streamable_http_app(
        streamable_http_path=path, host=host, stateless_http=stateless,
        max_request_body_size=max_body_bytes or DEFAULT_MAX_BODY_BYTES)
    keys = APIKeys(api_key)
    if not keys.enabled:
        log.warning("MCP over HTTP without an API key: anyone who can reach it can read and "
                    "change this scope's memories")
        return app
    return APIKeyMiddleware(app, keys)


def run(server: MCPServer, *, transport: str = "stdio", host: str = "127.0.0.1",
        port: int = 8765, path: str = "/mcp", api_key: str | Iterable[str] | None = None,
        max_body_bytes: int | None = None, log_level: str = "warning") -> None:
    """Serve until interrupted: `transport="stdio"` or `"http"` (streamable HTTP)."""
    if transport == "stdio":
        server.run("stdio")
        return
    if transport not in ("http", "streamable-http"):
        raise ValueError("transport must be 'stdio' or 'http'")
    import uvicorn

    uvicorn.run(http_app(server, api_key=api_key, path=path, host=host,
                         max_body_bytes=max_body_bytes),
                host=host, port=port, log_level=log_level)
