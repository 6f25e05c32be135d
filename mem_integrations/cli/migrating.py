"""`mem-integrations migrate mem0`: a mem0 store's memories, history and Kuzu graph,
moved here (`mem_integrations.migrate`), with a progress bar and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mem_integrations.cli.common import AsJson, console, err, fail, open_memory, print_json
from mem_integrations.core.errors import MemoryLayerError
from mem_integrations.migrate import Mem0Source, migrate_from_mem0

__all__ = ["app"]

app = typer.Typer(help="Move another memory store's data here.", no_args_is_help=True)


@app.command("mem0")
def mem0(
    ctx: typer.Context,
    qdrant_path: Annotated[Path | None, typer.Option(
        help="mem0's embedded Qdrant folder (the qdrant vector_store `path`; mem0's "
             "default is /tmp/qdrant). Copied, never opened in place.",
        file_okay=False)] = None,
    qdrant_url: Annotated[str | None, typer.Option(help="A Qdrant server holding mem0's "
                                                        "collection, instead of a path.")] = None,
    qdrant_api_key: Annotated[str | None, typer.Option(envvar="MEM0_QDRANT_API_KEY",
                                                       help="The Qdrant server's API key.")] = None,
    collection: Annotated[str, typer.Option(help="mem0's collection_name.")] = "mem0",
    history_db: Annotated[Path | None, typer.Option(
        help="mem0's history_db_path (default ~/.mem0/history.db); read-only.",
        dir_okay=False)] = None,
    kuzu_path: Annotated[Path | None, typer.Option(
        help="mem0 1.0.x's Kuzu graph (the kuzu graph_store `db`): its relations go into "
             "this memory's graph (which must be on). Needs `pip install kuzu`; copied, "
             "never opened in place.")] = None,
    kuzu_python: Annotated[Path | None, typer.Option(
        help="The Python that reads the Kuzu graph: one with kuzu installed, such as "
             "mem0's own environment's. Default: this one.", dir_okay=False)] = None,
    neo4j_url: Annotated[str | None, typer.Option(
        help="mem0's Neo4j graph (any Bolt server), instead of --kuzu-path: its relations "
             "go into this memory's graph (which must be on).")] = None,
    neo4j_username: Annotated[str | None, typer.Option(help="The Bolt server's user.")] = None,
    neo4j_password: Annotated[str | None, typer.Option(
        envvar="MEM0_NEO4J_PASSWORD", help="The Bolt server's password.")] = None,
    neo4j_database: Annotated[str | None, typer.Option(help="The Neo4j database.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Memories embedded per batch.")] = 64,
    as_json: AsJson = False,
) -> None:
    """Copy a mem0 store (Qdrant + SQLite history + Kuzu or Neo4j graph) into this memory: same
    ids, text, hash, scope, metadata, times, history and relations; re-embedded with this
    embedder. Safe to run again after an interruption: it ends with one copy of everything."""
    source = Mem0Source(qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                        qdrant_api_key=qdrant_api_key, collection=collection,
                        history_db_path=history_db, kuzu_path=kuzu_path,
                        kuzu_python=kuzu_python, neo4j_url=neo4j_url,
                        neo4j_username=neo4j_username, neo4j_password=neo4j_password,
                        neo4j_database=neo4j_database)
    with open_memory(ctx) as memory, Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeRemainingColumn(), console=err) as progress:
        task = progress.add_task("Migrating mem0 memories", total=None)
        try:
            summary = migrate_from_mem0(
                memory, source, batch_size=batch_size,
                progress=lambda done, total: progress.update(task, completed=done, total=total))
        except MemoryLayerError as exc:
            raise fail(str(exc)) from None
    if as_json:
        print_json({"memories": summary.memories, "per_scope": dict(summary.per_scope),
                    "history_new": summary.history_new,
                    "history_present": summary.history_present,
                    "relations": summary.relations,
                    "skipped": [{"id": i, "reason": why} for i, why in summary.skipped],
                    "notes": summary.notes})
        return
    for line in summary.lines():
        console.print(escape(line))
