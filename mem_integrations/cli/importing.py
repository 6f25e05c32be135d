"""`mem-integrations import`: conversations from a JSON or JSONL file, one `add` per window
of messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mem_integrations.cli.common import (
    AgentId,
    AsJson,
    RunId,
    UserId,
    console,
    err,
    fail,
    json_option,
    open_memory,
    print_json,
    scope,
)
from mem_integrations.core.errors import MemoryLayerError

__all__ = ["Conversation", "import_", "read_conversations"]


@dataclass
class Conversation:
    """The messages of one conversation, and the scope and metadata its record gave."""

    messages: list[dict[str, Any]]
    scope: dict[str, str]
    metadata: dict[str, Any] | None = None


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and "content" in value and ("role" in value or "name" in value)


def _conversation(value: Any, where: str) -> Conversation:
    if isinstance(value, list):
        if not all(_is_message(m) for m in value):
            raise ValueError(f"{where}: a conversation must be a list of "
                             '{"role", "content"} messages')
        return Conversation(list(value), {})
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        conv = _conversation(value["messages"], where)
        conv.scope = {k: str(value[k]) for k in ("user_id", "agent_id", "run_id") if value.get(k)}
        metadata = value.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError(f"{where}: metadata must be an object")
        conv.metadata = metadata
        return conv
    raise ValueError(f"{where}: expected a message, a list of messages, or an object with "
                     '"messages"')


def read_conversations(path: Path, fmt: str = "auto") -> list[Conversation]:
    """Conversations from a JSON or JSONL file.

    JSON: a list of messages (one conversation), an object with "messages" (and optional
    user_id / agent_id / run_id / metadata), a list of either, or {"conversations": [...]}.
    JSONL: one message per line (all one conversation), or one conversation per line.
    """
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "json"
    text = path.read_text(encoding="utf-8")
    if fmt == "jsonl":
        loose: list[dict[str, Any]] = []
        found: list[Conversation] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"line {number}: not valid JSON ({exc})") from None
            if _is_message(value):
                loose.append(value)
            else:
                found.append(_conversation(value, f"line {number}"))
        return ([Conversation(loose, {})] if loose else []) + found
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("conversations"), list):
        data = data["conversations"]
    if isinstance(data, list) and data and all(_is_message(m) for m in data):
        return [Conversation(list(data), {})]
    if isinstance(data, list):
        return [_conversation(item, f"item {i}") for i, item in enumerate(data)]
    return [_conversation(data, "the file")]


def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A JSON or JSONL conversation file.",
                                         exists=True, dir_okay=False, readable=True)],
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, json or jsonl.")] = "auto",
    window: Annotated[int, typer.Option(min=1, help="Messages per add call.")] = 20,
    metadata: Annotated[str | None, typer.Option(help="Metadata (JSON) for every memory.")] = None,
    infer: Annotated[bool, typer.Option("--infer/--no-infer")] = True,
    as_json: AsJson = False,
) -> None:
    """Import conversations from a JSON or JSONL file, with a progress bar.

    Each window of messages is one `add`; a record's own user_id / agent_id / run_id win
    over the flags."""
    if fmt not in ("auto", "json", "jsonl"):
        raise fail("--format must be auto, json or jsonl", 2)
    meta = json_option(metadata, "--metadata")
    try:
        conversations = read_conversations(file, fmt)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {file}: {exc}", 2) from None
    defaults = scope(user_id, agent_id, run_id)
    jobs = []
    for conv in conversations:
        ids = {**defaults, **conv.scope}
        if not ids:
            raise fail("no scope for a conversation: pass --user-id / --agent-id / --run-id "
                       "or put user_id in the file", 2)
        merged = {**(meta or {}), **(conv.metadata or {})} or None
        for start in range(0, len(conv.messages), window):
            jobs.append((conv.messages[start:start + window], ids, merged))
    counts = {"ADD": 0, "UPDATE": 0, "DELETE": 0}
    failures: list[str] = []
    with open_memory(ctx) as memory, Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeRemainingColumn(), console=err,
            disable=not jobs) as progress:
        task = progress.add_task(f"Importing {file.name}", total=len(jobs))
        for number, (messages, ids, merged) in enumerate(jobs, 1):
            try:
                result = memory.add(messages, metadata=merged, infer=infer, **ids)
            except MemoryLayerError as exc:  # a ProviderError keeps the messages as pending
                failures.append(f"batch {number}: {exc}")
            else:
                for event in result.results:
                    if event.event.value in counts:
                        counts[event.event.value] += 1
            progress.advance(task)
    summary = {"conversations": len(conversations), "add_calls": len(jobs),
               "added": counts["ADD"], "updated": counts["UPDATE"],
               "deleted": counts["DELETE"], "failed": len(failures), "errors": failures}
    if as_json:
        print_json(summary)
    else:
        console.print(f"Imported {len(conversations)} conversation(s) in {len(jobs)} add "
                      f"call(s): {counts['ADD']} added, {counts['UPDATE']} updated, "
                      f"{counts['DELETE']} deleted, {len(failures)} failed.")
        for failure in failures:
            err.print(f"[red]failed[/red] {escape(failure)}")
    if failures:
        raise typer.Exit(1)
