"""Adds whose messages are kept because they could not finish: pending, reprocess,
discard. (They are also retried by themselves when a memory opens; see
`pending.retry_on_open`.)"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from mem_integrations.cli.common import (
    AsJson,
    Yes,
    confirm,
    console,
    describe,
    events_table,
    fail,
    open_memory,
    print_json,
    table,
)

PendingIdArgument = Annotated[str, typer.Argument(help="The pending add's id (as `pending` "
                                                       "prints it).")]


def pending(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Adds kept because the LLM or a store failed, or the process stopped mid-add."""
    with open_memory(ctx) as memory:
        kept = memory.pending()
    if as_json:
        return print_json([p.model_dump(mode="json") for p in kept])
    if not kept:
        console.print("No pending adds.")
        return
    rows = table("created", "status", "scope", "first message", "error", "id")
    for item in kept:
        first = item.messages[0]["content"] if item.messages else ""
        rows.add_row(f"{item.created_at:%Y-%m-%d %H:%M}", item.status,
                     escape(describe(item.scope)), escape(str(first)[:80]),
                     escape(item.error[:120]), item.id)
    console.print(rows)
    console.print("[dim]mem-integrations reprocess ID runs one again; discard ID gives up on "
                  "it (its messages stay in the history database)[/dim]")


def reprocess(
    ctx: typer.Context,
    pending_id: Annotated[str | None, typer.Argument(help="The pending add to run again.")
                          ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every pending add again, oldest "
                                                     "first.")] = False,
    as_json: AsJson = False,
) -> None:
    """Run a pending add again (after the LLM or the store is back)."""
    if all_ == (pending_id is not None):
        raise fail("give a pending add's id, or --all", 2)
    with open_memory(ctx) as memory:
        ids = [p.id for p in memory.pending()] if all_ else [pending_id]
        results = [memory.reprocess(i) for i in ids]
    if as_json:
        return print_json([r.model_dump(mode="json") for r in results])
    if not results:
        console.print("No pending adds.")
    for result in results:
        console.print(events_table(result) if result.results else "Nothing new to remember.")


def discard(ctx: typer.Context, pending_id: PendingIdArgument, yes: Yes = False,
            as_json: AsJson = False) -> None:
    """Give up on a pending add that can never succeed; its messages stay in history."""
    confirm(yes, f"Give up on pending add {pending_id}? It will never be retried")
    with open_memory(ctx) as memory:
        result = memory.discard(pending_id)
    if as_json:
        return print_json(result.model_dump(mode="json"))
    console.print(result.message)
