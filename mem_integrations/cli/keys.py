"""`mem-integrations keys create / list / revoke`: API keys for the REST and MCP servers,
each bound to a user, an agent, a tenant prefix or admin, stored hashed in
`<data_dir>/api_keys.json` (`mem_integrations.server.keys`). Servers re-read the file when
it changes: a new or revoked key counts at once, without a restart."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from mem_integrations.cli.common import AsJson, console, err, fail, print_json, state
from mem_integrations.core.errors import MemoryLayerError
from mem_integrations.server.keys import KeyBinding, KeyStore, StoredKey

__all__ = ["app"]

app = typer.Typer(help="API keys bound to scopes, for `serve` and `mcp --transport http`.",
                  no_args_is_help=True)


def _store(ctx: typer.Context) -> KeyStore:
    try:
        return KeyStore.in_dir(state(ctx).load().data_dir)
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None


def _row(key: StoredKey) -> dict[str, object]:
    return {"id": key.id, "name": key.name, "scope": str(key.binding),
            "rate_limit": key.rate_limit, "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


@app.command()
def create(
    ctx: typer.Context,
    user_id: Annotated[str | None, typer.Option(
        "--user-id", help="Bind the key to this user.")] = None,
    agent_id: Annotated[str | None, typer.Option(
        "--agent-id", help="Bind the key to this agent.")] = None,
    tenant: Annotated[str | None, typer.Option(
        help="Bind the key to every user id that starts with this prefix, e.g. acme/.")
    ] = None,
    admin: Annotated[bool, typer.Option(
        "--admin", help="An admin key: every scope, `reset`, every user.")] = False,
    name: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
    rate_limit: Annotated[float | None, typer.Option(
        min=0.001, help="Requests per minute for this key (default: the server's).")] = None,
    as_json: AsJson = False,
) -> None:
    """Create a key; its secret is printed once and never stored (only its hash)."""
    try:
        binding = KeyBinding(user_id=user_id, agent_id=agent_id, tenant=tenant, admin=admin)
    except ValidationError as exc:  # e.g. none or two of the options
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise fail(f"{message} (--user-id, --agent-id, --tenant, --admin)", 2) from None
    try:
        created = _store(ctx).create(binding, name=name, rate_limit=rate_limit)
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({**_row(created.key), "key": created.token})
        return
    typer.echo(created.token)
    err.print(f"Key {created.key.id} for {escape(str(binding))}: the line above is its "
              "only copy. Send it as X-API-Key or Authorization: Bearer.")


@app.command("list")
def list_keys(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The keys (never their secrets), revoked ones marked."""
    try:
        keys = _store(ctx).list_keys()
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json([_row(k) for k in keys])
        return
    if not keys:
        err.print("No keys yet: `mem-integrations keys create --user-id alice`")
    for key in keys:
        state_ = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        limit = f", {key.rate_limit:g}/min" if key.rate_limit else ""
        note = f"  {key.name}" if key.name else ""
        console.print(escape(f"{key.id}  {key.binding}  {state_}{limit}{note}"))


@app.command()
def revoke(ctx: typer.Context,
           key_id: Annotated[str, typer.Argument(help="The id `keys list` shows.")],
           as_json: AsJson = False) -> None:
    """Revoke a key: servers refuse it from their next request."""
    try:
        key = _store(ctx).revoke(key_id)
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(_row(key))
        return
    err.print(f"Revoked key {key.id} ({escape(str(key.binding))}).")
