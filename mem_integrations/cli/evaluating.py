"""`mem-integrations eval`: retrieval quality of the configured setup on a labelled set
(`mem_integrations.evals`), in a throwaway store — the configured data is not touched."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from mem_integrations.cli.common import AsJson, console, fail, state
from mem_integrations.core.errors import MemoryLayerError
from mem_integrations.evals import EvalFact, EvalQuestion, evaluate, load_jsonl, load_locomo

__all__ = ["app"]

app = typer.Typer(help="Measure retrieval (hit@k, recall@k, MRR per category) on a "
                       "labelled set, with the configured embedder and search settings.",
                  no_args_is_help=True)

SetFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                         help="The labelled set to evaluate.")]


def _report(ctx: typer.Context, facts: list[EvalFact], questions: list[EvalQuestion],
            as_json: bool) -> None:
    settings = state(ctx)
    try:
        report = asyncio.run(evaluate(facts, questions, config=settings.load(),
                                      **settings.parts()))
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(report.table())


@app.command()
def locomo(ctx: typer.Context, path: SetFile,
           samples: Annotated[int | None, typer.Option(
               help="Only the first N conversations.", min=1)] = None,
           as_json: AsJson = False) -> None:
    """A LOCOMO-format file: every turn a memory, every question with evidence a query
    (categories 1-4)."""
    try:
        facts, questions = load_locomo(path, samples=samples)
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    _report(ctx, facts, questions, as_json)


@app.command()
def jsonl(ctx: typer.Context, path: SetFile, as_json: AsJson = False) -> None:
    """Your own set: lines {"id", "text"} are facts, lines {"question", "expected": [ids]}
    questions (optional "scope" and "category")."""
    try:
        facts, questions = load_jsonl(path)
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    _report(ctx, facts, questions, as_json)
