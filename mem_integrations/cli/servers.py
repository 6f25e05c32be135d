"""`mem-integrations serve` (the REST server) and `mem-integrations mcp` (the MCP server)."""

from __future__ import annotations

from typing import Annotated

import typer

from mem_integrations.cli.common import (
    AgentId,
    RunId,
    UserId,
    describe,
    err,
    fail,
    open_memory,
    scope,
    state,
)
from mem_integrations.core.errors import MemoryLayerError
from mem_integrations.server.keys import KeyStore

ApiKey = Annotated[str | None, typer.Option(
    "--api-key", envvar="MEMINT_API_KEY", show_default=False,
    help="Require this key (X-API-Key or Authorization: Bearer); several separated by "
         "commas. Also MEMINT_API_KEY.")]
InsecureNoAuth = Annotated[bool, typer.Option(
    "--insecure-no-auth", help="Serve beyond loopback without an API key.")]
RateLimit = Annotated[float | None, typer.Option(
    min=0.001, help="Requests per minute per key (a key's own limit wins).")]


def _keys(api_key: str | None) -> list[str] | None:
    """--api-key / MEMINT_API_KEY: one key, or several separated by commas."""
    return [k.strip() for k in (api_key or "").split(",") if k.strip()] or None


def _check_exposure(host: str, keys: list[str] | None, insecure: bool,
                    store: KeyStore) -> None:
    from mem_integrations.server.security import is_loopback

    if not keys and not store.exists and not is_loopback(host) and not insecure:
        raise fail(f"refusing to serve every memory on {host} without an API key: create "
                   "keys (`mem-integrations keys create`), set --api-key (or "
                   "MEMINT_API_KEY), or pass --insecure-no-auth", 2)


def _key_store(ctx: typer.Context) -> KeyStore:
    try:
        return KeyStore.in_dir(state(ctx).load().data_dir)
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: ApiKey = None,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Larger bodies get 413.")] = 1048576,
    allow_reset: Annotated[bool, typer.Option("--allow-reset/--no-reset",
                                              help="Serve POST /reset (admin keys).")] = False,
    rate_limit: RateLimit = None,
    insecure_no_auth: InsecureNoAuth = False,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Run the REST server (OpenAPI docs at /docs). Needs the server extra."""
    keys = _keys(api_key)
    store = _key_store(ctx)
    _check_exposure(host, keys, insecure_no_auth, store)
    try:
        import uvicorn

        from mem_integrations.server.app import create_app
    except ImportError as exc:
        raise fail(f"the REST server needs the server extra "
                   f"(pip install 'mem-integrations[server]'): {exc}") from None
    options = state(ctx)
    try:
        config = options.load()
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    application = create_app(config, api_key=keys, key_store=store, rate_limit=rate_limit,
                             max_body_bytes=max_body_bytes, allow_reset=allow_reset,
                             announce=err.print, **options.parts())
    required = "required" if keys or store.exists else "NOT required"
    err.print(f"Serving memories from {config.data_dir} on http://{host}:{port} "
              f"(docs at /docs, API key {required})")
    uvicorn.run(application, host=host, port=port, log_level=log_level)


def mcp(
    ctx: typer.Context,
    transport: Annotated[str, typer.Option(help="stdio or http (streamable HTTP).")] = "stdio",
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    host: Annotated[str, typer.Option(help="Interface to bind (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (http).")] = 8765,
    path: Annotated[str, typer.Option(help="Endpoint path (http).")] = "/mcp",
    api_key: ApiKey = None,
    rate_limit: RateLimit = None,
    insecure_no_auth: InsecureNoAuth = False,
    infer: Annotated[bool, typer.Option("--infer/--no-infer",
                                        help="remember extracts facts (default).")] = True,
    async_mode: Annotated[bool, typer.Option(
        "--async-mode", help="remember answers at once; the add runs in the background "
        "(what is queued at exit runs at the next start).")] = False,
) -> None:
    """Run the MCP server (remember / recall / forget) for one scope.

    Needs the mcp extra. The scope is this server's (--user-id or MEMINT_USER_ID...), or
    over http the one each request's key is bound to (`keys create`); never the model's."""
    if transport not in ("stdio", "http"):
        raise fail("--transport must be stdio or http", 2)
    ids = scope(user_id, agent_id, run_id)
    store = _key_store(ctx)
    if not ids and not (transport == "http" and store.exists):
        raise fail("the MCP server needs a scope: --user-id, --agent-id or --run-id "
                   "(or MEMINT_USER_ID...), or over --transport http keys bound to users "
                   "(`mem-integrations keys create --user-id ...`)", 2)
    keys = _keys(api_key)
    if transport == "http":
        _check_exposure(host, keys, insecure_no_auth, store)
    try:
        from mem_integrations.mcp import create_mcp_server, run
    except ImportError as exc:
        raise fail(str(exc)) from None
    with open_memory(ctx) as memory:
        memory.warm_up(err.print)  # before the first tool call, not during it
        server = create_mcp_server(memory, infer=infer, async_mode=async_mode, **ids)
        if transport == "http":
            err.print(f"MCP (streamable HTTP) on http://{host}:{port}{path} for {describe(ids)}")
        run(server, transport=transport, host=host, port=port, path=path, api_key=keys,
            key_store=store, rate_limit=rate_limit)
        memory.flush()  # the adds remember queued, before the memory closes
