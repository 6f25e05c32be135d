"""The MCP server: `remember`, `recall` and `forget` for any MCP client (Claude Desktop,
Cursor, IDE agents...), over stdio or streamable HTTP.

    mem-integrations mcp --user-id alice                       # stdio
    mem-integrations mcp --transport http --port 8765 --user-id alice --api-key s3cret
    mem-integrations mcp --transport http --port 8765          # keys from `keys create`

The scope never comes from the model: the tools have no scope parameter. It comes from
the API key of the HTTP request when the key is bound to a user or an agent (one server
then serves many users, each behind their own key), else from the server's configuration
(flags, or MEMINT_USER_ID / MEMINT_AGENT_ID / MEMINT_RUN_ID): over stdio, without keys,
and for admin keys; a tenant key may use the configured scope only when its user id has
the tenant's prefix. Tool failures come back as `Error: ...` text, like the framework-free
tools (the same dispatcher runs them). Over HTTP, a key (X-API-Key or Bearer) is required
when the data directory has a key store or a legacy key is set, each key within its rate
limit; binding beyond loopback without any key is refused by the CLI.

Needs the `mcp` extra (the official MCP Python SDK, 2.x).
"""

# No `from __future__ import annotations`: the SDK evaluates the tools' annotations,
# which refer to this function's locals.
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from mem_integrations.core.errors import MemoryLayerError, MissingScopeError
from mem_integrations.core.scope import Scope
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
    from mcp.server.mcpserver import Context, MCPServer
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

_OPERATION = "the MCP memory tools"


def _caller_of(ctx: Context) -> Any:
    """The `access.Caller` the HTTP key middleware left in the request's ASGI scope, or
    None (stdio, or HTTP without keys)."""
    try:
        request = ctx.request_context.request
    except ValueError:  # outside a request
        return None
    scope = getattr(request, "scope", None) or {}
    return (scope.get("state") or {}).get("caller")


class _ScopedTools:
    """The `MemoryTools` for each scope a call can have (the server's, or a key's)."""

    def __init__(self, memory: AnyMemory, configured: dict[str, str], **options: Any) -> None:
        self.memory, self.configured, self.options = memory, configured, options
        self._by_scope: dict[tuple[tuple[str, str], ...], MemoryTools] = {}

    def scope_of(self, caller: Any) -> dict[str, str]:
        """The scope of a call made with `caller`'s key (see the module's docstring)."""
        if caller is not None:
            bound = caller.by_id_scope()  # the key's user or agent; {} admin; None tenant
            if bound:
                return bound
            if bound is None:  # a tenant key: only a configured user id with its prefix
                caller.scope_for(_OPERATION, **self.configured)
        if not self.configured:
            raise MissingScopeError(f"{_OPERATION} (start the server with --user-id, "
                                    "--agent-id or --run-id, or use a key bound to a user)")
        return self.configured

    def tools(self, scope: dict[str, str]) -> MemoryTools:
        key = tuple(sorted(scope.items()))
        if key not in self._by_scope:  # one per key binding at most: a small table
            self._by_scope[key] = MemoryTools(self.memory, **scope, **self.options)
        return self._by_scope[key]


def create_mcp_server(memory: AnyMemory, *, user_id: str | None = None,
                      agent_id: str | None = None, run_id: str | None = None,
                      name: str = "mem-integrations", infer: bool = True,
                      limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT,
                      async_mode: bool = False) -> MCPServer:
    """An `MCPServer` with the three memory tools, for the configured scope (user_id...)
    and, over HTTP, for the scope each request's key is bound to. With no scope given,
    only keys bound to a user or an agent can use the tools. `async_mode=True`: remember
    queues the add and answers at once (the memory's queue runs it; `flush()` waits)."""
    from mem_integrations import __version__

    configured = (Scope.of(_OPERATION, user_id=user_id, agent_id=agent_id, run_id=run_id).ids()
                  if user_id or agent_id or run_id else {})
    scoped = _ScopedTools(memory, configured, infer=infer, limit=limit, max_limit=max_limit,
                          async_mode=async_mode)
    # The SDK configures logging at construction; keep the host's INFO logs quiet.
    server = MCPServer(name, instructions=INSTRUCTIONS, version=__version__,
                       log_level="WARNING")

    async def call(ctx: Context, tool: str, arguments: dict[str, Any]) -> str:
        try:
            tools = scoped.tools(scoped.scope_of(_caller_of(ctx)))
        except MemoryLayerError as exc:  # MissingScopeError, or the key's AccessDeniedError
            raise ToolError(str(exc)) from None
        text = await tools.arun(tool, arguments)
        if text.startswith(ERROR_PREFIX):  # reported to the client with isError: true
            raise ToolError(text.removeprefix(ERROR_PREFIX))
        return text

    async def remember(fact: Annotated[str, Field(description=FACT_DESCRIPTION)],
                       ctx: Context) -> str:
        return await call(ctx, "remember", {"fact": fact})

    async def recall(
        query: Annotated[str, Field(description=QUERY_DESCRIPTION)],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=max_limit, description=limit_description(
            limit, max_limit))] = limit,
    ) -> str:
        return await call(ctx, "recall", {"query": query, "limit": limit})

    async def forget(memory_id: Annotated[str, Field(description=MEMORY_ID_DESCRIPTION)],
                     ctx: Context) -> str:
        return await call(ctx, "forget", {"memory_id": memory_id})

    server.add_tool(remember, description=REMEMBER_DESCRIPTION, structured_output=False,
                    annotations=ToolAnnotations(title="Remember", readOnlyHint=False,
                                                destructiveHint=False, openWorldHint=False))
    server.add_tool(recall, description=RECALL_DESCRIPTION, structured_output=False,
                    annotations=ToolAnnotations(title="Recall", readOnlyHint=True,
                                                openWorldHint=False))
    server.add_tool(forget, description=FORGET_DESCRIPTION, structured_output=False,
                    annotations=ToolAnnotations(title="Forget", readOnlyHint=False,
                                                destructiveHint=True, openWorldHint=False))
    server.scoped_tools = scoped  # type: ignore[attr-defined]
    return server


def http_app(server: MCPServer, *, api_key: str | Iterable[str] | None = None,
             key_store: Any = None, rate_limit: float | None = None,
             path: str = "/mcp", host: str = "127.0.0.1",
             max_body_bytes: int | None = None, stateless: bool = False) -> Any:
    """The streamable-HTTP ASGI app, behind the key check when there are keys: `api_key`
    (legacy, admin) and `key_store` (a `server.keys.KeyStore` or its file's path, keys
    bound to scopes), each key within `rate_limit` requests per minute (or its own)."""
    from mem_integrations.server.access import Authenticator
    from mem_integrations.server.keys import KeyStore
    from mem_integrations.server.security import (
        DEFAULT_MAX_BODY_BYTES,
        APIKeyMiddleware,
        APIKeys,
    )

    app = server.streamable_http_app(
        streamable_http_path=path, host=host, stateless_http=stateless,
        max_request_body_size=max_body_bytes or DEFAULT_MAX_BODY_BYTES)
    store = KeyStore(key_store) if isinstance(key_store, (str, Path)) else key_store
    auth = Authenticator(APIKeys(api_key), store, rate_limit=rate_limit)
    if not auth.enabled:
        log.warning("MCP over HTTP without an API key: anyone who can reach it can read and "
                    "change this scope's memories")
    return APIKeyMiddleware(app, auth)


def run(server: MCPServer, *, transport: str = "stdio", host: str = "127.0.0.1",
        port: int = 8765, path: str = "/mcp", api_key: str | Iterable[str] | None = None,
        key_store: Any = None, rate_limit: float | None = None,
        max_body_bytes: int | None = None, log_level: str = "warning") -> None:
    """Serve until interrupted: `transport="stdio"` or `"http"` (streamable HTTP)."""
    if transport == "stdio":
        server.run("stdio")
        return
    if transport not in ("http", "streamable-http"):
        raise ValueError("transport must be 'stdio' or 'http'")
    import uvicorn

    uvicorn.run(http_app(server, api_key=api_key, key_store=key_store, rate_limit=rate_limit,
                         path=path, host=host, max_body_bytes=max_body_bytes),
                host=host, port=port, log_level=log_level)
