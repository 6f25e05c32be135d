"""The `mem-integrations` typer app: the global options and every command, in the order
`--help` lists them (typer + rich; the `server` extra).

    memories.py   add, search, list, get, update, history, delete, users, reset, demo
    pending.py    pending, reprocess, discard
    importing.py  import
    backup.py     export, import-jsonl
    evaluating.py eval locomo / eval jsonl
    migrating.py  migrate mem0
    servers.py    serve (REST), mcp
    keys.py       keys create / list / revoke (API keys bound to scopes)
    doctor.py     doctor (--check: the stores against the history)
    repair.py     repair (rebuild the stores from the history)

Configuration comes from `--config memory.toml` (or MEMINT_CONFIG), `--data-dir`, and
the environment (OPENAI_API_KEY, MEMINT_*), exactly as for `Memory(...)`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from mem_integrations.cli import (
    backup,
    evaluating,
    keys,
    memories,
    migrating,
    pending,
    servers,
)
from mem_integrations.cli.common import State, fit_console
from mem_integrations.cli.doctor import doctor
from mem_integrations.cli.importing import import_
from mem_integrations.cli.repair import repair

__all__ = ["app"]

app = typer.Typer(
    name="mem-integrations",
    help="Long-term memory for LLM agents: add, search, list, import, serve over REST or MCP.",
    no_args_is_help=True, rich_markup_mode="rich", pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", envvar="MEMINT_CONFIG", help="A JSON or TOML config file.",
        dir_okay=False)] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Where embedded data lives (default ~/.mem_integrations, or "
                           "MEMINT_DATA_DIR).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Long-term memory for LLM agents."""
    injected = ctx.obj if isinstance(ctx.obj, dict) else {}
    ctx.obj = State(config=config, data_dir=data_dir, embedder=injected.get("embedder"))
    fit_console()
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


app.command()(memories.add)
app.command()(memories.search)
app.command("list")(memories.list_memories)
app.command()(memories.get)
app.command()(memories.update)
app.command()(memories.history)
app.command()(memories.delete)
app.command()(memories.users)
app.command()(pending.pending)
app.command()(pending.reprocess)
app.command()(pending.discard)
app.command("import")(import_)
app.command()(backup.export)
app.command("import-jsonl")(backup.import_jsonl)
app.add_typer(migrating.app, name="migrate")
app.add_typer(evaluating.app, name="eval")
app.command()(servers.serve)
app.command()(servers.mcp)
app.add_typer(keys.app, name="keys")
app.command()(memories.reset)
app.command()(memories.demo)
app.command()(doctor)
app.command()(repair)
