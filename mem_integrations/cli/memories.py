"""The memory commands: add, search, list, get, update, history, delete, users, reset, and
the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from mem_integrations.cli.common import (
    AgentId,
    AsJson,
    MemoryIdArgument,
    RunId,
    UserId,
    Yes,
    confirm,
    console,
    describe,
    events_table,
    fail,
    json_option,
    open_memory,
    print_json,
    scope,
    state,
    table,
)


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
    console.print(events_table(result))


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
    hits = table("score", "memory", "id")
    for hit in result.results:
        hits.add_row(f"{hit.score:.2f}", escape(hit.memory), hit.id)
    console.print(hits)


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
    items = table("created", "memory", "id")
    for item in result.results:
        created = f"{item.created_at:%Y-%m-%d %H:%M}" if item.created_at else ""
        items.add_row(created, escape(item.memory), item.id)
    console.print(items)
    console.print(f"[dim]{len(result.results)} memories[/dim]")


def _item_table(item: Any) -> Any:
    fields = table("field", "value")
    for name in ("id", "memory", "user_id", "agent_id", "run_id", "created_at", "updated_at"):
        value = getattr(item, name, None)
        if value is not None:
            fields.add_row(name, escape(str(value)))
    if item.metadata:
        fields.add_row("metadata", escape(json.dumps(item.metadata, ensure_ascii=False)))
    return fields


def get(
    ctx: typer.Context,
    memory_id: MemoryIdArgument,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    as_json: AsJson = False,
) -> None:
    """One memory by id (with --user-id etc.: only if it belongs to that scope)."""
    with open_memory(ctx) as memory:
        item = memory.get(memory_id, **scope(user_id, agent_id, run_id))
    if as_json:
        return print_json(item.model_dump(mode="json"))
    console.print(_item_table(item))


def update(
    ctx: typer.Context,
    memory_id: MemoryIdArgument,
    text: Annotated[str | None, typer.Argument(help="The new text; '-' reads standard "
                                                    "input. Leave out to change metadata "
                                                    "only.")] = None,
    metadata: Annotated[str | None, typer.Option(help="New metadata as a JSON object "
                                                      "(replaces the old).")] = None,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    as_json: AsJson = False,
) -> None:
    """Replace a memory's text (re-embedded) and/or metadata; recorded in its history."""
    if text == "-":
        text = sys.stdin.read()
    meta = json_option(metadata, "--metadata")
    if text is None and meta is None:
        raise fail("give the new text, --metadata, or both", 2)
    with open_memory(ctx) as memory:
        result = memory.update(memory_id, text, meta, **scope(user_id, agent_id, run_id))
    if as_json:
        return print_json(result.model_dump(mode="json"))
    console.print(f"Updated {memory_id}.")


def history(
    ctx: typer.Context,
    memory_id: MemoryIdArgument,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    as_json: AsJson = False,
) -> None:
    """Every change to one memory, oldest first."""
    with open_memory(ctx) as memory:
        entries = memory.history(memory_id, **scope(user_id, agent_id, run_id))
    if as_json:
        return print_json([e.model_dump(mode="json") for e in entries])
    if not entries:
        console.print(f"No history for {memory_id}.")
        return
    changes = table("when", "event", "before", "after")
    for entry in entries:
        changes.add_row(f"{entry.created_at:%Y-%m-%d %H:%M:%S}", entry.event.value,
                        escape(entry.old_memory or ""), escape(entry.new_memory or ""))
    console.print(changes)


def delete(
    ctx: typer.Context,
    memory_id: Annotated[str | None, typer.Argument(help="The memory to delete.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every memory of the scope.")] = False,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    yes: Yes = False,
    as_json: AsJson = False,
) -> None:
    """Delete one memory by id, or --all memories of a scope (history is kept)."""
    ids = scope(user_id, agent_id, run_id)
    if all_ == (memory_id is not None):
        raise fail("give a memory id, or --all with --user-id / --agent-id / --run-id", 2)
    if all_:
        if not ids:
            raise fail("--all needs --user-id, --agent-id or --run-id", 2)
        described = describe(ids)
        confirm(yes, f"Delete every memory of {described}?")
        with open_memory(ctx) as memory:
            result = memory.delete_all(**ids)
        if as_json:
            return print_json(result.model_dump(mode="json"))
        console.print(f"Deleted {result.count} memories of {escape(described)}.")
        return
    with open_memory(ctx) as memory:
        deleted = memory.delete(memory_id, **ids)
    if as_json:
        return print_json(deleted.model_dump(mode="json"))
    console.print(f"Deleted {memory_id}.")


def users(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The users, agents and runs that hold memories, with their counts."""
    with open_memory(ctx) as memory:
        result = memory.users()
    if as_json:
        return print_json(result.model_dump(mode="json"))
    if not result.results:
        console.print("No memories.")
        return
    owners = table("type", "id", "memories")
    for summary in result.results:
        owners.add_row(summary.type, escape(summary.id), str(summary.total_memories))
    console.print(owners)


def reset(ctx: typer.Context, yes: Yes = False, as_json: AsJson = False) -> None:
    """Delete EVERY memory of every user, all history and the graph. Asks first."""
    state_ = state(ctx)
    confirm(yes, f"Delete every memory, all history and the graph in "
                 f"{state_.load().data_dir}? This cannot be undone")
    with open_memory(ctx) as memory:
        result = memory.reset()
    if as_json:
        return print_json(result.model_dump(mode="json"))
    console.print(result.message)


def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data (reset at "
                                                "start).")] = Path(".mem_integrations/demo"),
) -> None:
    """A narrated tour: add, list, update/delete, filtered search, history (offline)."""
    from mem_integrations.demo import main as run_demo

    run_demo(["--data-dir", str(data_dir)])
