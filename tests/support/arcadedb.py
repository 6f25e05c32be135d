"""A real Bolt server for the Neo4j code path: ArcadeDB (from the `arcadedb-embedded`
package, with a bundled JRE) and its Neo4j Bolt plugin, started on 127.0.0.1 in a
subprocess so the JVM stays out of the test process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PASSWORD = "memint-test-pw"
DATABASE = "memint"

_SERVER = """
import sys, time
from arcadedb_embedded import ArcadeDBServer
root, http_port, bolt_port, password, database = sys.argv[1:6]
server = ArcadeDBServer(root_path=root, root_password=password, config={
    "host": "127.0.0.1", "http_port": int(http_port),
    "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin", "bolt_port": int(bolt_port)},
    jvm_kwargs={"heap_size": "512m"})
server.start()
server.create_database(database)
print()  # the JVM log does not end its last line
print("MEMINT-BOLT-READY", flush=True)
sys.stdin.read()  # runs until the parent closes our stdin
server.stop()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def arcadedb_bolt(root: Path, timeout: float = 120.0) -> Iterator[str]:
    """Start the server; yield its bolt:// URL; stop it."""
    bolt_port, http_port = _free_port(), _free_port()
    root.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(root / "databases"), str(http_port), str(bolt_port),
         PASSWORD, DATABASE],
        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise RuntimeError("ArcadeDB exited:\n" + "".join(seen[-30:]))
            seen.append(line)
            if "MEMINT-BOLT-READY" in line:
                break
        else:
            raise RuntimeError("ArcadeDB did not start in time:\n" + "".join(seen[-30:]))
        yield f"bolt://127.0.0.1:{bolt_port}"
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
