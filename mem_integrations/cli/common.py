"""What every command of `mem-integrations` shares: the consoles, the global options'
state, the scope options, and how a command opens a `Memory` and reports a mistake."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mem_integrations.core.config import MemoryConfig, load_config
from mem_integrations.core.errors import MemoryLayerError
from mem_integrations.core.sync_memory import Memory

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@dataclass
class State:
    """What the global options set, plus parts a host program may inject through
    `obj=` (tests pass an already loaded `embedder`)."""

    config: Path | None = None
    data_dir: Path | None = None
    embedder: Any = None

    def load(self) -> MemoryConfig:
        """The configuration: the file, then the environment, then `--data-dir`."""
        overrides = {"data_dir": self.data_dir} if self.data_dir is not None else {}
        return load_config(self.config, **overrides)

    def parts(self) -> dict[str, Any]:
        """The injected parts, as keyword arguments for `Memory` or `create_app`."""
        return {"embedder": self.embedder} if self.embedder is not None else {}

    def memory(self) -> Memory:
        """A `Memory` of the configuration, with the injected parts."""
        return Memory(self.load(), **self.parts())


def fit_console() -> None:
    """Size the output for this invocation: COLUMNS when set, the terminal's width, or —
    piped, with neither — 200 columns rather than rich's 80, so ids and texts stay whole
    for grep and scripts."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        console.width = int(columns)
    elif not sys.stdout.isatty():
        console.width = 200


def state(ctx: typer.Context) -> State:
    """The global options of this invocation."""
    return ctx.ensure_object(State)


UserId = Annotated[str | None, typer.Option("--user-id", "-u", envvar="MEMINT_USER_ID",
                                            help="Whose memories (user).")]
AgentId = Annotated[str | None, typer.Option("--agent-id", envvar="MEMINT_AGENT_ID",
                                             help="Whose memories (agent).")]
RunId = Annotated[str | None, typer.Option("--run-id", envvar="MEMINT_RUN_ID",
                                           help="Whose memories (run / session).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (mem0's dict shape).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
MemoryIdArgument = Annotated[str, typer.Argument(help="The memory's id (as `list` prints "
                                                      "it).")]


def confirm(yes: bool, question: str) -> None:
    """Go on only when `--yes` was given or the user answers yes (exit code 1 otherwise)."""
    if not yes and not typer.confirm(question):
        raise typer.Exit(1)


_PYTHON_ARGUMENT = re.compile(r"\b(user|agent|run)_id=(?:\.\.\.)?")
# a bare call (`reprocess('id')`), not a method named on an object (`Memory.repair()`)
_PYTHON_CALL = re.compile(r"(?<![.\w])(reprocess|discard|repair)\((['\"]?)([^)'\"]*)\2\)")


def cli_words(message: str) -> str:
    """An engine message in the command line's words: `pass user_id=` becomes
    `pass --user-id`, `reprocess('id')` becomes `mem-integrations reprocess id`."""
    message = _PYTHON_ARGUMENT.sub(r"--\1-id", message)
    return _PYTHON_CALL.sub(
        lambda call: " ".join(part for part in ("mem-integrations", call[1], call[3]) if part),
        message)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as a one-line error; raise the result to exit with `code`."""
    err.print(f"[red]Error:[/red] {escape(cli_words(message))}")
    return typer.Exit(code)


def events_table(result: Any) -> Table:
    """What an add (or reprocess) changed: one row per event."""
    events = table("event", "memory", "id")
    for event in result.results:
        memory = escape(event.memory)
        if event.previous_memory:
            memory += f" [dim](was: {escape(event.previous_memory)})[/dim]"
        events.add_row(event.event.value, memory, event.id)
    return events


def table(*headers: str) -> Table:
    """A borderless table whose `id` column is never cut or wrapped: ids are pasted into
    `history`, `get`, `update` and `delete`. Long texts wrap instead."""
    out = Table(box=None, pad_edge=False)
    for header in headers:
        if header == "id":
            out.add_column(header, no_wrap=True, min_width=36)
        else:
            out.add_column(header, overflow="fold")
    return out


def json_option(value: str | None, name: str) -> dict[str, Any] | None:
    """The JSON object an option was given (exit code 2 when it is not one)."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise fail(f"{name} must be a JSON object: {exc}", 2) from None
    if not isinstance(parsed, dict):
        raise fail(f"{name} must be a JSON object", 2)
    return parsed


@contextmanager
def open_memory(ctx: typer.Context) -> Iterator[Memory]:
    """An open `Memory`; engine errors become a one-line message and exit code 1."""
    try:
        memory = state(ctx).memory()
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    try:
        yield memory
    except MemoryLayerError as exc:
        raise fail(str(exc)) from None
    finally:
        memory.close()


def print_json(data: Any) -> None:
    """Print `data` as indented JSON."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, str]:
    """The scope ids that were given, as keyword arguments for `Memory`."""
    return {k: v for k, v in (("user_id", user_id), ("agent_id", agent_id),
                              ("run_id", run_id)) if v}


def describe(scope: dict[str, str]) -> str:
    """`user_id=alice, run_id=r1`."""
    return ", ".join(f"{k}={v}" for k, v in scope.items())
