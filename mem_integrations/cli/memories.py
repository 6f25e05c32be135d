"""The memory commands: add, search, list, history, delete, and the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mem_integrations.cli.common import (
    AgentId,
    AsJson,
    RunId,
    UserId,
    console,
    describe,
    fail,
    json_option,
    open_memory,
    print_json,
    scope,
)


def _events_table(result: Any) -> Table:
    table = Table("event", "memory", "id", box=None, pad_edge=False)
    for event in result.results:
        memory = escape(event.memory)
        if event.previous_memory:
            memory += f" [dim](was: {escape(event.previous_memory)})[/dim]"
        table.add_row(event.event.value, memory, event.id)
    return table


def add(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What was said; '-' reads standard input.")],
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    role: Annotated[str, typer.Option(help="The speaker: user or assistant.")] = "user",
    metadata: Annotated[str | None, typer.Option(help="Metadata as a JSON object.")] = None,
    infer: Annotated[bool, typer.Option("--infer/--no-infer",
                                        help="Extract facts (default) or store verbatim.")] = True,
    as_json: AsJson = False,
) -> None:
    """Remember what a message says (facts are extracted, updates reconciled)."""
    if text == "-":
        text = sys.stdin.read()
    meta = json_option(metadata, "--metadata")
    with open_memory(ctx) as memory:
        result = memory.add([{"role": role, "content": text}], metadata=meta, infer=infer,
                            **scope(user_id, agent_id, run_id))
    if as_json:
        return print_json(result.model_dump(mode="json"))
    if not result.results:
        console.print("Nothing new to remember.")
        return
    console.print(_events_table(result))


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 10,
    filters: Annotated[str | None, typer.Option(help='Metadata filter as JSON, e.g. '
                                                     '\'{"topic": "health"}\'.')] = None,
    threshold: Annotated[float | None, typer.Option(help="Minimum similarity.")] = None,
    as_json: AsJson = False,
) -> None:
    """Search a scope's memories (hybrid dense + BM25)."""
    where = json_option(filters, "--filters")
    with open_memory(ctx) as memory:
        result = memory.search(query, limit=limit, filters=where, threshold=threshold,
                               **scope(user_id, agent_id, run_id))
    if as_json:
        return print_json(result.model_dump(mode="json"))
    if not result.results:
        console.print("No memories found.")
        return
    table = Table("score", "memory", "id", box=None, pad_edge=False)
    for hit in result.results:
        table.add_row(f"{hit.score:.2f}", escape(hit.memory), hit.id)
    console.print(table)


def list_memories(
    ctx: typer.Context,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1)] = None,
    filters: Annotated[str | None, typer.Option(help="Metadata filter as JSON.")] = None,
    as_json: AsJson = False,
) -> None:
    """List a scope's memories, newest first."""
    where = json_option(filters, "--filters")
    with open_memory(ctx) as memory:
        result = memory.get_all(filters=where, limit=limit, **scope(user_id, agent_id, run_id))
    if as_json:
        return print_json(result.model_dump(mode="json"))
    if not result.results:
        console.print("No memories.")
        return
    table = Table("created", "memory", "id", box=None, pad_edge=False)
    for item in result.results:
        created = f"{item.created_at:%Y-%m-%d %H:%M}" if item.created_at else ""
        table.add_row(created, escape(item.memory), item.id)
    console.print(table)
    console.print(f"[dim]{len(result.results)} memories[/dim]")


def history(
    ctx: typer.Context,
    memory_id: Annotated[str, typer.Argument(help="The memory's id.")],
    as_json: AsJson = False,
) -> None:
    """Every change to one memory, oldest first."""
    with open_memory(ctx) as memory:
        entries = memory.history(memory_id)
    if as_json:
        return print_json([e.model_dump(mode="json") for e in entries])
    if not entries:
        console.print(f"No history for {memory_id}.")
        return
    table = Table("when", "event", "before", "after", box=None, pad_edge=False)
    for entry in entries:
        table.add_row(f"{entry.created_at:%Y-%m-%d %H:%M:%S}", entry.event.value,
                      escape(entry.old_memory or ""), escape(entry.new_memory or ""))
    console.print(table)


def delete(
    ctx: typer.Context,
    memory_id: Annotated[str | None, typer.Argument(help="The memory to delete.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every memory of the scope.")] = False,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete one memory by id, or --all memories of a scope (history is kept)."""
    ids = scope(user_id, agent_id, run_id)
    if all_ == (memory_id is not None):
        raise fail("give a memory id, or --all with --user-id / --agent-id / --run-id", 2)
    if all_:
        if not ids:
            raise fail("--all needs --user-id, --agent-id or --run-id", 2)
        described = describe(ids)
        if not yes and not typer.confirm(f"Delete every memory of {described}?"):
            raise typer.Exit(1)
        with open_memory(ctx) as memory:
            result = memory.delete_all(**ids)
        console.print(f"Deleted {result.count} memories of {escape(described)}.")
        return
    with open_memory(ctx) as memory:
        memory.delete(memory_id)
    console.print(f"Deleted {memory_id}.")


def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data (reset at "
                                                "start).")] = Path(".mem_integrations/demo"),
) -> None:
    """A narrated tour: add, list, update/delete, filtered search, history (offline)."""
    from mem_integrations.demo import main as run_demo

    run_demo(["--data-dir", str(data_dir)])
