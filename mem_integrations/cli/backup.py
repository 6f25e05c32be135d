"""Backup commands: `export` writes memories, history and relations to a JSONL file;
`import-jsonl` writes such a file back (`Memory.export_jsonl` / `import_jsonl`). The
`import` command is for conversations, which go through the add pipeline; these copy
memories exactly, under their own ids."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mem_integrations.cli.common import (
    AgentId,
    AsJson,
    RunId,
    UserId,
    console,
    open_memory,
    print_json,
    scope,
)

__all__ = ["export", "import_jsonl"]


def export(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The JSONL file to write.", dir_okay=False)],
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    as_json: AsJson = False,
) -> None:
    """Back up a scope's memories (every scope without a scope id), their history and
    the graph's relations to a JSONL file, for `import-jsonl`."""
    with open_memory(ctx) as memory:
        count = memory.export_jsonl(path, **scope(user_id, agent_id, run_id))
    if as_json:
        return print_json({"memories": count, "path": str(path)})
    console.print(f"Exported {count} memories to {path}")


def import_jsonl(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A file `export` wrote.", exists=True,
                                         dir_okay=False)],
    as_json: AsJson = False,
) -> None:
    """Restore a JSONL backup: memories under their own ids, times and history, and the
    relations. Importing the same file twice leaves one copy."""
    with open_memory(ctx) as memory:
        result = memory.import_jsonl(path)
    if as_json:
        return print_json(result.model_dump(mode="json"))
    console.print(f"Imported {result.memories} memories, {result.history_new} new history "
                  f"entries ({result.history_present} already present), "
                  f"{result.relations} relations")
