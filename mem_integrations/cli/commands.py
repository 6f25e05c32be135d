"""The commands of `mem-integrations` (typer + rich; the `server` extra).

    mem-integrations add "I live in Paris" --user-id alice
    mem-integrations search "where does she live?" --user-id alice
    mem-integrations list --user-id alice
    mem-integrations history <memory-id>
    mem-integrations delete <memory-id>            # or: delete --all --user-id alice
    mem-integrations import chats.jsonl --user-id alice
    mem-integrations serve --api-key s3cret        # REST server (needs the server extra)
    mem-integrations mcp --user-id alice           # MCP server over stdio (needs the mcp extra)
    mem-integrations doctor                        # what is configured and reachable
    mem-integrations demo

Configuration comes from `--config memory.toml` (or MEMINT_CONFIG), `--data-dir`, and
the environment (OPENAI_API_KEY, MEMINT_*), exactly as for `Memory(...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mem_integrations.core.config import MemoryConfig, load_config
from mem_integrations.core.errors import MemoryLayerError, ProviderError
from mem_integrations.core.sync_memory import Memory

__all__ = ["app", "main", "read_conversations"]

app = typer.Typer(
    name="mem-integrations",
    help="Long-term memory for LLM agents: add, search, list, import, serve over REST or MCP.",
    no_args_is_help=True, rich_markup_mode="rich", pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

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
        overrides = {"data_dir": self.data_dir} if self.data_dir is not None else {}
        return load_config(self.config, **overrides)

    def memory(self) -> Memory:
        parts = {"embedder": self.embedder} if self.embedder is not None else {}
        return Memory(self.load(), **parts)


def _state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State)


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
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        warnings.filterwarnings("ignore", message="No LLM configured")


# --- shared options and helpers --------------------------------------------------------

UserId = Annotated[str | None, typer.Option("--user-id", "-u", envvar="MEMINT_USER_ID",
                                            help="Whose memories (user).")]
AgentId = Annotated[str | None, typer.Option("--agent-id", envvar="MEMINT_AGENT_ID",
                                             help="Whose memories (agent).")]
RunId = Annotated[str | None, typer.Option("--run-id", envvar="MEMINT_RUN_ID",
                                           help="Whose memories (run / session).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (mem0's dict shape).")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]Error:[/red] {escape(message)}")
    return typer.Exit(code)


def _json_option(value: str | None, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise _fail(f"{name} must be a JSON object: {exc}", 2) from None
    if not isinstance(parsed, dict):
        raise _fail(f"{name} must be a JSON object", 2)
    return parsed


@contextmanager
def _memory(ctx: typer.Context) -> Iterator[Memory]:
    """An open `Memory`; engine errors become a one-line message and exit code 1."""
    try:
        memory = _state(ctx).memory()
    except MemoryLayerError as exc:
        raise _fail(str(exc)) from None
    try:
        yield memory
    except ProviderError as exc:
        raise _fail(str(exc)) from None
    except MemoryLayerError as exc:
        raise _fail(str(exc)) from None
    finally:
        memory.close()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, str]:
    return {k: v for k, v in (("user_id", user_id), ("agent_id", agent_id),
                              ("run_id", run_id)) if v}


def _events_table(result: Any) -> Table:
    table = Table("event", "memory", "id", box=None, pad_edge=False)
    for event in result.results:
        memory = escape(event.memory)
        if event.previous_memory:
            memory += f" [dim](was: {escape(event.previous_memory)})[/dim]"
        table.add_row(event.event.value, memory, event.id)
    return table


# --- memory commands ---------------------------------------------------------------------


@app.command()
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
    meta = _json_option(metadata, "--metadata")
    with _memory(ctx) as memory:
        result = memory.add([{"role": role, "content": text}], metadata=meta, infer=infer,
                            **_scope(user_id, agent_id, run_id))
    if as_json:
        return _print_json(result.model_dump(mode="json"))
    if not result.results:
        console.print("Nothing new to remember.")
        return
    console.print(_events_table(result))


@app.command()
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
    where = _json_option(filters, "--filters")
    with _memory(ctx) as memory:
        result = memory.search(query, limit=limit, filters=where, threshold=threshold,
                               **_scope(user_id, agent_id, run_id))
    if as_json:
        return _print_json(result.model_dump(mode="json"))
    if not result.results:
        console.print("No memories found.")
        return
    table = Table("score", "memory", "id", box=None, pad_edge=False)
    for hit in result.results:
        table.add_row(f"{hit.score:.2f}", escape(hit.memory), hit.id)
    console.print(table)


@app.command("list")
def list_memories(
    ctx: typer.Context,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1)] = None,
    filters: Annotated[str | None, typer.Option(help="Metadata filter as JSON.")] = None,
    as_json: AsJson = False,
) -> None:
    """List a scope's memories, newest first."""
    where = _json_option(filters, "--filters")
    with _memory(ctx) as memory:
        result = memory.get_all(filters=where, limit=limit, **_scope(user_id, agent_id, run_id))
    if as_json:
        return _print_json(result.model_dump(mode="json"))
    if not result.results:
        console.print("No memories.")
        return
    table = Table("created", "memory", "id", box=None, pad_edge=False)
    for item in result.results:
        created = f"{item.created_at:%Y-%m-%d %H:%M}" if item.created_at else ""
        table.add_row(created, escape(item.memory), item.id)
    console.print(table)
    console.print(f"[dim]{len(result.results)} memories[/dim]")


@app.command()
def history(
    ctx: typer.Context,
    memory_id: Annotated[str, typer.Argument(help="The memory's id.")],
    as_json: AsJson = False,
) -> None:
    """Every change to one memory, oldest first."""
    with _memory(ctx) as memory:
        entries = memory.history(memory_id)
    if as_json:
        return _print_json([e.model_dump(mode="json") for e in entries])
    if not entries:
        console.print(f"No history for {memory_id}.")
        return
    table = Table("when", "event", "before", "after", box=None, pad_edge=False)
    for entry in entries:
        table.add_row(f"{entry.created_at:%Y-%m-%d %H:%M:%S}", entry.event.value,
                      escape(entry.old_memory or ""), escape(entry.new_memory or ""))
    console.print(table)


@app.command()
def delete(
    ctx: typer.Context,
    memory_id: Annotated[str | None, typer.Argument(help="The memory to delete.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every memory of the scope.")] = False,
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete one memory by id, or --all memories of a scope (history is kept)."""
    scope = _scope(user_id, agent_id, run_id)
    if all_ == (memory_id is not None):
        raise _fail("give a memory id, or --all with --user-id / --agent-id / --run-id", 2)
    if all_:
        if not scope:
            raise _fail("--all needs --user-id, --agent-id or --run-id", 2)
        described = ", ".join(f"{k}={v}" for k, v in scope.items())
        if not yes and not typer.confirm(f"Delete every memory of {described}?"):
            raise typer.Exit(1)
        with _memory(ctx) as memory:
            result = memory.delete_all(**scope)
        console.print(f"Deleted {result.count} memories of {escape(described)}.")
        return
    with _memory(ctx) as memory:
        memory.delete(memory_id)
    console.print(f"Deleted {memory_id}.")


# --- import ------------------------------------------------------------------------------


@dataclass
class Conversation:
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


@app.command("import")
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
        raise _fail("--format must be auto, json or jsonl", 2)
    meta = _json_option(metadata, "--metadata")
    try:
        conversations = read_conversations(file, fmt)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read {file}: {exc}", 2) from None
    defaults = _scope(user_id, agent_id, run_id)
    jobs = []
    for conv in conversations:
        scope = {**defaults, **conv.scope}
        if not scope:
            raise _fail("no scope for a conversation: pass --user-id / --agent-id / --run-id "
                        "or put user_id in the file", 2)
        merged = {**(meta or {}), **(conv.metadata or {})} or None
        for start in range(0, len(conv.messages), window):
            jobs.append((conv.messages[start:start + window], scope, merged))
    counts = {"ADD": 0, "UPDATE": 0, "DELETE": 0}
    failures: list[str] = []
    with _memory(ctx) as memory, Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeRemainingColumn(), console=err,
            disable=not jobs) as progress:
        task = progress.add_task(f"Importing {file.name}", total=len(jobs))
        for number, (messages, scope, merged) in enumerate(jobs, 1):
            try:
                result = memory.add(messages, metadata=merged, infer=infer, **scope)
            except ProviderError as exc:  # the messages are kept as a pending add
                failures.append(f"batch {number}: {exc}")
            except MemoryLayerError as exc:
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
        _print_json(summary)
    else:
        console.print(f"Imported {len(conversations)} conversation(s) in {len(jobs)} add "
                      f"call(s): {counts['ADD']} added, {counts['UPDATE']} updated, "
                      f"{counts['DELETE']} deleted, {len(failures)} failed.")
        for failure in failures:
            err.print(f"[red]failed[/red] {escape(failure)}")
    if failures:
        raise typer.Exit(1)


# --- servers -----------------------------------------------------------------------------


def _keys(api_key: str | None) -> list[str] | None:
    """--api-key / MEMINT_API_KEY: one key, or several separated by commas."""
    return [k.strip() for k in (api_key or "").split(",") if k.strip()] or None


def _check_exposure(host: str, keys: list[str] | None, insecure: bool) -> None:
    from mem_integrations.server.security import is_loopback

    if not keys and not is_loopback(host) and not insecure:
        raise _fail(f"refusing to serve every memory on {host} without an API key: set "
                    "--api-key (or MEMINT_API_KEY), or pass --insecure-no-auth", 2)


ApiKey = Annotated[str | None, typer.Option(
    "--api-key", envvar="MEMINT_API_KEY", show_default=False,
    help="Require this key (X-API-Key or Authorization: Bearer); several separated by "
         "commas. Also MEMINT_API_KEY.")]


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: ApiKey = None,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Larger bodies get 413.")] = 1048576,
    allow_reset: Annotated[bool, typer.Option("--allow-reset/--no-reset",
                                              help="Serve POST /reset.")] = True,
    insecure_no_auth: Annotated[bool, typer.Option(
        "--insecure-no-auth", help="Serve beyond loopback without an API key.")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Run the REST server (OpenAPI docs at /docs). Needs the server extra."""
    keys = _keys(api_key)
    _check_exposure(host, keys, insecure_no_auth)
    try:
        import uvicorn

        from mem_integrations.server.app import create_app
    except ImportError as exc:
        raise _fail(f"the REST server needs the server extra "
                    f"(pip install 'mem-integrations[server]'): {exc}") from None
    state = _state(ctx)
    try:
        config = state.load()
    except MemoryLayerError as exc:
        raise _fail(str(exc)) from None
    parts = {"embedder": state.embedder} if state.embedder is not None else {}
    application = create_app(config, api_key=keys, max_body_bytes=max_body_bytes,
                             allow_reset=allow_reset, **parts)
    err.print(f"Serving memories from {config.data_dir} on http://{host}:{port} "
              f"(docs at /docs, API key {'required' if keys else 'NOT required'})")
    uvicorn.run(application, host=host, port=port, log_level=log_level)


@app.command()
def mcp(
    ctx: typer.Context,
    transport: Annotated[str, typer.Option(help="stdio or http (streamable HTTP).")] = "stdio",
    user_id: UserId = None, agent_id: AgentId = None, run_id: RunId = None,
    host: Annotated[str, typer.Option(help="Interface to bind (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (http).")] = 8765,
    path: Annotated[str, typer.Option(help="Endpoint path (http).")] = "/mcp",
    api_key: ApiKey = None,
    insecure_no_auth: Annotated[bool, typer.Option(
        "--insecure-no-auth", help="Serve beyond loopback without an API key.")] = False,
    infer: Annotated[bool, typer.Option("--infer/--no-infer",
                                        help="remember extracts facts (default).")] = True,
) -> None:
    """Run the MCP server (remember / recall / forget) for one scope.

    Needs the mcp extra. The scope is this server's (--user-id or MEMINT_USER_ID...),
    never the model's."""
    if transport not in ("stdio", "http"):
        raise _fail("--transport must be stdio or http", 2)
    scope = _scope(user_id, agent_id, run_id)
    if not scope:
        raise _fail("the MCP server needs a scope: --user-id, --agent-id or --run-id "
                    "(or MEMINT_USER_ID...)", 2)
    keys = _keys(api_key)
    if transport == "http":
        _check_exposure(host, keys, insecure_no_auth)
    try:
        from mem_integrations.mcp import create_mcp_server, run
    except ImportError as exc:
        raise _fail(str(exc)) from None
    with _memory(ctx) as memory:
        server = create_mcp_server(memory, infer=infer, **scope)
        if transport == "http":
            err.print(f"MCP (streamable HTTP) on http://{host}:{port}{path} for "
                      + ", ".join(f"{k}={v}" for k, v in scope.items()))
        run(server, transport=transport, host=host, port=port, path=path, api_key=keys)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data (reset at "
                                                "start).")] = Path(".mem_integrations/demo"),
) -> None:
    """A narrated tour: add, list, update/delete, filtered search, history (offline)."""
    from mem_integrations.demo import main as run_demo

    run_demo(["--data-dir", str(data_dir)])


# --- doctor ------------------------------------------------------------------------------


@dataclass
class Check:
    component: str
    setting: str
    status: str
    ok: bool | None  # None: informational


def _timed(work: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = work()
    return result, (time.perf_counter() - start) * 1000


def _http_status(url: str, api_key: str | None) -> tuple[bool | None, str]:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        return False, f"unreachable ({type(exc).__name__})"
    if response.status_code in (401, 403):
        return False, f"reachable, but the key was rejected (HTTP {response.status_code})"
    if response.status_code < 400:
        return True, f"reachable (HTTP {response.status_code})"
    return True, f"reachable (HTTP {response.status_code} on {url.rsplit('/', 1)[-1]})"


def _safe_redact(url: str | None) -> str:
    if not url:
        return ""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None and parts.username is None:
        return urlunsplit(parts._replace(query="", fragment=""))
    host = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.password is not None else f"{parts.username}@"
    return urlunsplit(parts._replace(netloc=user + host, query="", fragment=""))


def _doctor_checks(state: State) -> list[Check]:
    from importlib import metadata as importlib_metadata

    from mem_integrations.core.factory import build_embedder, build_vector_store
    from mem_integrations.core.stores.base import CollectionInfo

    checks: list[Check] = []
    try:
        config = state.load()
    except MemoryLayerError as exc:
        return [Check("config", str(state.config or "defaults + environment"), str(exc), False)]
    checks.append(Check("config", str(state.config or "defaults + environment"), "valid", True))

    data_dir = config.data_dir
    writable = data_dir.exists() and data_dir.is_dir()
    checks.append(Check("data dir", str(data_dir), "exists" if writable else
                        "will be created on first use", True if writable else None))

    # LLM: the same decision as core.factory.build_extractor.
    llm = config.llm
    wants_llm = llm.provider == "openai" or (
        llm.provider is None and (llm.api_key is not None or llm.base_url is not None))
    if not wants_llm:
        checks.append(Check("llm", "offline rule-based extractor",
                            "no model configured (set OPENAI_API_KEY or llm.base_url)", None))
    else:
        base = llm.base_url or "https://api.openai.com/v1"
        key = llm.api_key.get_secret_value() if llm.api_key else None
        ok, status = _http_status(base.rstrip("/") + "/models", key)
        checks.append(Check("llm", f"openai-compatible {llm.model} at {_safe_redact(base)} "
                                   f"(api key {'set' if key else 'not set'})", status, ok))

    # Embedder: load it (or use the injected one) and embed one word.
    emb = config.embedder
    setting = f"{emb.provider} {emb.model or '(default model)'}"
    if emb.provider == "openai":
        setting += (f" at {_safe_redact(emb.base_url or 'https://api.openai.com/v1')} "
                    f"(api key {'set' if emb.api_key else 'not set'})")
    dimension = None
    embedder = state.embedder
    try:
        embedder = embedder or build_embedder(config)
        vectors, ms = _timed(lambda: asyncio.run(embedder.embed(["doctor"], "query")))
        dimension = len(vectors[0])
        checks.append(Check("embedder", setting, f"works: {embedder.model_name}, "
                                                 f"{dimension} dimensions, {ms:.0f} ms", True))
    except Exception as exc:  # report, never crash the doctor
        checks.append(Check("embedder", setting, f"failed: {type(exc).__name__}: {exc}", False))

    # Vector store.
    vs = config.vector_store
    engine = vs.engine or ("qdrant_client" if (vs.url or vs.path) else "qdrant_edge")
    where = _safe_redact(vs.url) if vs.url else (vs.path or str(data_dir / "qdrant"))
    setting = f"{engine} {where} collection={vs.collection}"
    if vs.url:
        setting += f" (api key {'set' if vs.api_key else 'not set'})"
    if dimension is None or embedder is None:
        checks.append(Check("vector store", setting, "not checked (no working embedder)", None))
    else:
        store = None
        try:
            store = build_vector_store(config)
            store.open(CollectionInfo(embedding_model=embedder.model_name, dimension=dimension))
            count = store.count(None)
            checks.append(Check("vector store", setting, f"open, {count} memories", True))
        except Exception as exc:
            name = type(exc).__name__
            busy = name == "StoreLockedError"
            checks.append(Check("vector store", setting,
                                "in use by another process (a running server?)" if busy
                                else f"failed: {name}: {exc}", None if busy else False))
        finally:
            if store is not None:
                with contextlib.suppress(Exception):  # a store that failed to open
                    store.close()

    # History.
    hist = config.history
    if hist.url is not None:
        url = hist.url.get_secret_value()
        setting = f"postgresql {_safe_redact(url)} tables {hist.table_prefix}*"
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=5) as conn:
                version = conn.execute("SHOW server_version").fetchone()
            checks.append(Check("history", setting, f"reachable (PostgreSQL "
                                                    f"{version[0] if version else '?'})", True))
        except ImportError:
            checks.append(Check("history", setting, "psycopg is not installed (pip install "
                                                    "'mem-integrations[postgres]')", False))
        except Exception as exc:
            checks.append(Check("history", setting, f"unreachable ({type(exc).__name__})",
                                False))
    else:
        path = Path(hist.path).expanduser() if hist.path else data_dir / "history.db"
        if not path.is_absolute():
            path = data_dir / path
        checks.append(Check("history", f"sqlite {path}", "exists" if path.exists() else
                            "will be created on first use", True if path.exists() else None))

    # Graph memory (when this version of the engine has it and it is configured).
    graph = getattr(config, "graph_store", None)
    if graph is not None:
        provider = getattr(graph, "provider", "?")
        location = _safe_redact(getattr(graph, "url", None)) or getattr(graph, "path", None) \
            or str(data_dir / "graph")
        status, ok = "configured", None
        if provider == "neo4j" and getattr(graph, "url", None):
            try:
                import neo4j

                password = getattr(graph, "password", None)
                auth = (graph.username or "neo4j", password.get_secret_value()) \
                    if password is not None else None
                with neo4j.GraphDatabase.driver(graph.url, auth=auth,
                                                connection_timeout=5) as driver:
                    driver.verify_connectivity()
                status, ok = "reachable", True
            except ImportError:
                status, ok = "the neo4j driver is not installed (graph extra)", False
            except Exception as exc:
                status, ok = f"unreachable ({type(exc).__name__})", False
        checks.append(Check("graph store", f"{provider} {location}", status, ok))
    else:
        checks.append(Check("graph store", "off", "not configured", None))

    # Optional parts.
    for extra, package in (("server", "fastapi"), ("server", "uvicorn"), ("mcp", "mcp"),
                           ("postgres", "psycopg"), ("langchain", "langchain-core"),
                           ("llamaindex", "llama-index-core")):
        try:
            version = importlib_metadata.version(package)
            checks.append(Check(f"extra {extra}", package, f"installed {version}", None))
        except importlib_metadata.PackageNotFoundError:
            checks.append(Check(f"extra {extra}", package, "not installed", None))
    return checks


@app.command()
def doctor(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Show which providers and stores are configured, and whether they are reachable.

    Secrets are never printed."""
    checks = _doctor_checks(_state(ctx))
    failed = [c for c in checks if c.ok is False]
    if as_json:
        _print_json([c.__dict__ for c in checks])
    else:
        table = Table("", "component", "setting", "status", box=None, pad_edge=False)
        marks = {True: "[green]ok[/green]", False: "[red]FAIL[/red]", None: "[dim]-[/dim]"}
        for check in checks:
            table.add_row(marks[check.ok], check.component, escape(check.setting),
                          escape(check.status))
        console.print(table)
        console.print(f"{len(failed)} problem(s)." if failed else "Everything configured works.")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """The `mem-integrations` console script."""
    app()


if __name__ == "__main__":
    main()
