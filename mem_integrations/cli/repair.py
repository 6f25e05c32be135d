"""`mem-integrations repair`: rebuild the vector store and the graph from the history (the
source of truth), with a progress bar; see `core.repair`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mem_integrations.cli.common import AsJson, console, err, fail, open_memory, print_json
from mem_integrations.core.errors import MemoryLayerError

__all__ = ["repair"]


def repair(
    ctx: typer.Context,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts embedded per batch.")] = 64,
    as_json: AsJson = False,
) -> None:
    """Rebuild the vector store and the graph from the history, re-embedding every memory
    and entity name: for lost or damaged files (`doctor --check`, or an error that names
    repair). Stop every other program using this data first."""
    with open_memory(ctx) as memory, Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeRemainingColumn(), console=err) as progress:
        tasks: dict[str, int] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(f"Rebuilding {stage}", total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            report = memory.repair(batch_size=batch_size, progress=advance)
        except MemoryLayerError as exc:
            raise fail(str(exc)) from None
    if as_json:
        print_json(report.model_dump())
        return
    console.print(f"Rebuilt {report.memories} memories and {report.relations} relations from "
                  "the history.")
    if report.kept_from_store:
        console.print(f"Kept {report.kept_from_store} memories the history does not list "
                      "(imported), from the old vector store.")
    if report.without_payload:
        console.print(f"{report.without_payload} memories had history rows from an earlier "
                      "version (text, scope and times only).")
    if report.relations_not_rebuildable:
        console.print(f"{report.relations_not_rebuildable} relations had history rows from an "
                      "earlier version without their entities: not rebuilt.")
