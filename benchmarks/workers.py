"""Starting and talking to the benchmark workers: ours (our venv) and mem0 (its own venvs),
one process per measurement, JSON lines over stdin/stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import mem0_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOGS = mem0_env.WORK / "logs"

LIBS = {
    "ours": "ours",
    "mem0-1.0.11": "1.0.11",
    "mem0-2": "2",
}


class WorkerError(RuntimeError):
    pass


class Worker:
    """One worker process for one library."""

    def __init__(self, lib: str, tag: str) -> None:
        self.lib = lib
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{lib}-{tag}.log"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "MEM0_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false",
               "PYTHONUNBUFFERED": "1",
               # one BLAS/OpenMP thread per worker: on a shared 2-core machine, torch's
               # default (a thread per core) spins against other processes and makes the
               # embedding time swing several-fold; the same setting for every library
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENROUTER_API_KEY"):
            env.pop(key, None)
        if lib == "ours":
            command = [sys.executable, "-m", "benchmarks.ours_worker"]
            env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        else:
            command = [str(mem0_env.python(LIBS[lib])), str(HERE / "mem0_worker.py")]
            env.pop("PYTHONPATH", None)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     bufsize=1)

    def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"{self.lib} worker died during {op}; see {self.log_path}")
        reply = json.loads(line)
        if not reply.pop("ok", False):
            raise WorkerError(f"{self.lib} {op} failed: {reply.get('error')} "
                              f"(log: {self.log_path})")
        return reply

    def close(self) -> None:
        try:
            if self.proc.poll() is None and self.proc.stdin:
                self.proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
