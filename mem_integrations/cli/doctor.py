"""`mem-integrations doctor`: which parts the configuration builds, and whether they work.

What is built, where and why comes from the factory's `*_choice` functions, the ones
`Memory` builds from; doctor adds only the probing (an HTTP request, one embedding, opening
the store, connecting to the databases). Secrets are never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mem_integrations.cli.common import AsJson, State, console, print_json, state
from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.consistency import REPAIR_HINT, inspect
from mem_integrations.core.errors import ConfigurationError, MemoryLayerError
from mem_integrations.core.factory import (
    OPENAI_BASE_URL,
    build_embedder,
    build_vector_store,
    embedder_choice,
    extractor_choice,
    graph_store_choice,
    history_choice,
    vector_store_choice,
)
from mem_integrations.core.providers.base import Embedder
from mem_integrations.core.stores.base import CollectionInfo

__all__ = ["Check", "consistency_checks", "doctor", "doctor_checks"]

EXTRAS = (("server", "fastapi"), ("server", "uvicorn"), ("mcp", "mcp"), ("postgres", "psycopg"),
          ("langchain", "langchain-core"), ("llamaindex", "llama-index-core"))


@dataclass
class Check:
    """One line of the report."""

    component: str
    setting: str
    status: str
    ok: bool | None  # None: informational
    why: str = ""  # the factory's reason for this choice


def _key_state(secret: Any) -> str:
    return f"api key {'set' if secret else 'not set'}"


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


def _llm(config: MemoryConfig) -> Check:
    try:
        choice = extractor_choice(config)
    except ConfigurationError as exc:
        return Check("llm", "misconfigured", str(exc), False, "the llm section")
    if choice.kind == "offline":
        return Check("llm", "offline rule-based extractor",
                     "no model configured (set OPENAI_API_KEY or llm.base_url)", None,
                     choice.reason)
    llm = config.llm
    key = llm.api_key.get_secret_value() if llm.api_key else None
    ok, status = _http_status((llm.base_url or OPENAI_BASE_URL).rstrip("/") + "/models", key)
    return Check("llm", f"openai-compatible {llm.model} at {choice.where} ({_key_state(key)})",
                 status, ok, choice.reason)


def _embedder(config: MemoryConfig, injected: Embedder | None
              ) -> tuple[Check, Embedder | None, int | None]:
    """The check, and the embedder and its dimension when it works (the store needs them)."""
    choice = embedder_choice(config)
    emb = config.embedder
    setting = f"{choice.kind} {emb.model or '(default model)'}"
    if choice.kind == "openai":
        setting += f" at {choice.where} ({_key_state(emb.api_key)})"
    try:
        embedder = injected or build_embedder(config)
        vectors, ms = _timed(lambda: asyncio.run(embedder.embed(["doctor"], "query")))
        dimension = len(vectors[0])
    except Exception as exc:  # report, never crash the doctor
        return (Check("embedder", setting, f"failed: {type(exc).__name__}: {exc}", False,
                      choice.reason), None, None)
    return (Check("embedder", setting, f"works: {embedder.model_name}, {dimension} dimensions, "
                                       f"{ms:.0f} ms", True, choice.reason), embedder, dimension)


def _vector_store(config: MemoryConfig, embedder: Embedder | None,
                  dimension: int | None) -> Check:
    choice = vector_store_choice(config)
    vs = config.vector_store
    setting = f"{choice.kind} {choice.where} collection={vs.collection}"
    if vs.url:
        setting += f" ({_key_state(vs.api_key)})"
    if embedder is None or dimension is None:
        return Check("vector store", setting, "not checked (no working embedder)", None,
                     choice.reason)
    store = None
    try:
        store = build_vector_store(config)
        store.open(CollectionInfo(embedding_model=embedder.model_name, dimension=dimension))
        return Check("vector store", setting, f"open, {store.count(None)} memories", True,
                     choice.reason)
    except Exception as exc:
        name = type(exc).__name__
        if name == "StoreLockedError":
            return Check("vector store", setting, "in use by another process (a running "
                                                  "server?)", None, choice.reason)
        return Check("vector store", setting, f"failed: {name}: {exc}", False, choice.reason)
    finally:
        if store is not None:
            with contextlib.suppress(Exception):  # a store that failed to open
                store.close()


def _history(config: MemoryConfig) -> Check:
    choice = history_choice(config)
    hist = config.history
    if hist.url is None:
        exists = Path(choice.where).exists()
        return Check("history", f"sqlite {choice.where}", "exists" if exists else
                     "will be created on first use", True if exists else None, choice.reason)
    setting = f"postgresql {choice.where} tables {hist.table_prefix}*"
    try:
        import psycopg
    except ImportError:
        return Check("history", setting, "psycopg is not installed (pip install "
                                         "'mem-integrations[postgres]')", False, choice.reason)
    try:
        with psycopg.connect(hist.url.get_secret_value(), connect_timeout=5) as conn:
            version = conn.execute("SHOW server_version").fetchone()
    except Exception as exc:
        return Check("history", setting, f"unreachable ({type(exc).__name__})", False,
                     choice.reason)
    return Check("history", setting, f"reachable (PostgreSQL {version[0] if version else '?'})",
                 True, choice.reason)


def _graph_store(config: MemoryConfig) -> Check:
    choice = graph_store_choice(config)
    graph = config.graph_store
    if graph is None:
        return Check("graph store", "off", "not configured", None, choice.reason)
    setting = f"{choice.kind} {choice.where}"
    if choice.kind != "neo4j":
        return Check("graph store", setting, "configured", None, choice.reason)
    try:
        import neo4j
    except ImportError:
        return Check("graph store", setting, "the neo4j driver is not installed (graph extra)",
                     False, choice.reason)
    auth = (graph.username or "neo4j", graph.password.get_secret_value()) \
        if graph.password is not None else None
    try:
        with neo4j.GraphDatabase.driver(str(graph.url), auth=auth,
                                        connection_timeout=5) as driver:
            driver.verify_connectivity()
    except Exception as exc:
        return Check("graph store", setting, f"unreachable ({type(exc).__name__})", False,
                     choice.reason)
    return Check("graph store", setting, "reachable", True, choice.reason)


def _guarded(component: str, check: Callable[[], Check]) -> Check:
    """`check()`, or a failed check when the factory rejects the configuration."""
    try:
        return check()
    except ConfigurationError as exc:
        return Check(component, "invalid", str(exc), False)


def doctor_checks(options: State) -> list[Check]:
    """Every line of the report, in order: config, data dir, the parts, the extras."""
    source = str(options.config or "defaults + environment")
    try:
        config = options.load()
    except MemoryLayerError as exc:
        return [Check("config", source, str(exc), False)]
    data_dir = config.data_dir
    exists = data_dir.is_dir()
    checks = [Check("config", source, "valid", True),
              Check("data dir", str(data_dir), "exists" if exists else
                    "will be created on first use", True if exists else None)]
    checks.append(_guarded("llm", lambda: _llm(config)))
    embedded, embedder, dimension = _embedder(config, options.embedder)
    checks.append(embedded)
    checks.append(_guarded("vector store", lambda: _vector_store(config, embedder, dimension)))
    checks.append(_guarded("history", lambda: _history(config)))
    checks.append(_guarded("graph store", lambda: _graph_store(config)))
    for extra, package in EXTRAS:
        try:
            status = f"installed {importlib_metadata.version(package)}"
        except importlib_metadata.PackageNotFoundError:
            status = "not installed"
        checks.append(Check(f"extra {extra}", package, status, None))
    return checks


def consistency_checks(options: State) -> list[Check]:
    """`--check`: the vector store and the graph compared with the history, every id and
    text (`core.consistency.inspect`); one line per disagreement, at most 20."""
    try:
        memory = options.memory()
    except MemoryLayerError as exc:
        return [Check("consistency", "history", str(exc), False)]
    try:
        findings = memory.run(inspect(memory.async_memory))
    except MemoryLayerError as exc:
        return [Check("consistency", "stores", str(exc), False)]
    finally:
        memory.close()
    if not findings:
        return [Check("consistency", "history, vector store, graph",
                      "the stores agree with the history", True)]
    # memories the history does not list are imports, not damage
    lines = [Check("consistency", f"{f.store}: {f.kind}", f.detail,
                   None if f.kind == "not in history" else False) for f in findings[:20]]
    if any(check.ok is False for check in lines):
        lines.append(Check("consistency", "repair", f"{len(findings)} finding(s): {REPAIR_HINT}",
                           False))
    return lines


def doctor(ctx: typer.Context, as_json: AsJson = False,
           check: Annotated[bool, typer.Option(
               "--check", help="Also compare the vector store and the graph with the history, "
                               "every memory and relation (reads everything).")] = False
           ) -> None:
    """Show which providers and stores are configured, and whether they are reachable.

    Secrets are never printed."""
    checks = doctor_checks(state(ctx))
    if check:
        checks += consistency_checks(state(ctx))
    failed = [c for c in checks if c.ok is False]
    if as_json:
        print_json([asdict(c) for c in checks])
    else:
        table = Table("", "component", "setting", "status", "why", box=None, pad_edge=False)
        marks = {True: "[green]ok[/green]", False: "[red]FAIL[/red]", None: "[dim]-[/dim]"}
        for check in checks:
            table.add_row(marks[check.ok], check.component, escape(check.setting),
                          escape(check.status), f"[dim]{escape(check.why)}[/dim]")
        console.print(table)
        console.print(f"{len(failed)} problem(s)." if failed else "Everything configured works.")
    if failed:
        raise typer.Exit(1)
