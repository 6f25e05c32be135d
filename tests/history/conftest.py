"""A real PostgreSQL server for the history tests.

`PG_URL` (e.g. postgresql://user:pass@127.0.0.1:5432/db) is used when set. Otherwise a
throwaway cluster is created with the local PostgreSQL binaries (Debian's `postgresql`
package: /usr/lib/postgresql/<version>/bin) in a temporary directory and started on
127.0.0.1; as root, initdb and the server run as the `postgres` user (runuser). Tests that
need it are skipped, saying why, only when neither is available.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL server for this test session."""
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    if os.environ.get("PG_URL"):
        yield os.environ["PG_URL"]
        return
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL history tests need a server: install Debian's postgresql "
                    "package (initdb/pg_ctl) or set PG_URL")
    run_as: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="memint-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user to run initdb as; "
                        "install Debian's postgresql package or set PG_URL")
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "memint",
                    "--auth=trust", "-E", "UTF8", "--no-locale"],
                   check=True, capture_output=True)
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                    "-l", str(root / "server.log"), "-w", "-t", "60", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://memint@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def table_prefix(postgres_url: str) -> Iterator[str]:
    """Tables of their own for one test; dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    yield prefix
    from mem_integrations.core.history.postgres import PostgresHistory

    cleanup = PostgresHistory(postgres_url, table_prefix=prefix)
    cleanup.drop_tables()
    cleanup.close()


@pytest.fixture(params=["sqlite", "postgres"])
def history_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def open_store(history_backend: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[Callable[[], object]]:
    """Opens the parametrised history store; every call opens the SAME database again
    (a restart), and every store opened is closed at the end."""
    opened: list[object] = []
    if history_backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        prefix = request.getfixturevalue("table_prefix")
        from mem_integrations.core.history.postgres import PostgresHistory

        def make() -> object:
            opened.append(PostgresHistory(url, table_prefix=prefix))
            return opened[-1]
    else:
        from mem_integrations.core.history.sqlite import SQLiteHistory

        def make() -> object:
            opened.append(SQLiteHistory(tmp_path / "history.db"))
            return opened[-1]

    yield make
    for store in opened:
        store.close()  # type: ignore[attr-defined]


@pytest.fixture
def history_config(history_backend: str, tmp_path: Path, request: pytest.FixtureRequest
                   ) -> dict[str, str]:
    """The `history` section of a Memory config for the parametrised backend."""
    if history_backend == "postgres":
        return {"url": request.getfixturevalue("postgres_url"),
                "table_prefix": request.getfixturevalue("table_prefix")}
    return {"path": str(tmp_path / "history.db")}
