"""The embedded graph: LadybugDB (the maintained fork of Kuzu), in-process, under the
data directory. Same Cypher as the Neo4j store; node and edge tables are typed, so the
schema is declared once when the store is opened.

Crash safety: LadybugDB refuses to open a write-ahead log whose last record a SIGKILL
cut short. A torn log is set aside on open (renamed, kept for inspection), which loses
what it held: the writes since the last checkpoint. A `durable` write is checkpointed
before it returns. The engine's journaled writes are not (a checkpoint takes ~70 ms):
the writer checkpoints in the background, and each `checkpoint(replay_from=seq)` records
beside the database the journal seq from which the applied history's graph writes may
be missing from it. After a torn log, `replay_from` says where the writer's recovery
writes them again (`core.writer`); with no record (a graph never checkpointed so), from
the start of the history."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mem_integrations.core.errors import (
    ConfigurationError,
    CorruptionError,
    DiskFullError,
    StoreError,
    StoreLockedError,
)
from mem_integrations.core.graph.base import ENTITY, RELATION, CypherGraphStore

log = logging.getLogger(__name__)


class LadybugGraphStore(CypherGraphStore):
    """Graph memory in a LadybugDB database directory."""

    name = "ladybug"
    needs_checkpoint = True  # a CHECKPOINT (~70 ms here) makes a committed write safe

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._db: Any = None
        self._conn: Any = None
        self._conn_lock = threading.Lock()
        # after a torn log was set aside: the journal seq from which the applied history's
        # graph writes must be written again (None: nothing to write again)
        self.replay_from: int | None = None

    def __repr__(self) -> str:
        return f"LadybugGraphStore(path={str(self.path)!r})"

    def open(self, dimension: int) -> None:
        if self._conn is not None:
            return
        try:
            import ladybug
        except ImportError as exc:
            raise ConfigurationError(
                "embedded graph memory needs LadybugDB: pip install 'mem-integrations[graph]'"
            ) from exc
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = ladybug.Database(str(self.path))
        except RuntimeError as exc:
            if not self._is_torn_log(exc):
                raise self._open_error(exc) from exc
            aside = self._set_log_aside()
            self.replay_from = self._recorded_mark()
            log.warning("the embedded graph's write-ahead log was torn by a crash (%s); set "
                        "aside as %s, the journal's replay writes what it held", exc, aside)
            try:
                self._db = ladybug.Database(str(self.path))
            except RuntimeError as again:
                raise self._open_error(again) from again
        self._conn = ladybug.Connection(self._db)
        self.dimension = int(dimension)
        self._run(
            f"CREATE NODE TABLE IF NOT EXISTS {ENTITY}(id STRING PRIMARY KEY, name STRING, "
            "name_key STRING, type STRING, user_id STRING, agent_id STRING, run_id STRING, "
            "mentions INT64, created_at STRING, updated_at STRING, "
            f"embedding FLOAT[{self.dimension}])")
        self._run(
            f"CREATE REL TABLE IF NOT EXISTS {RELATION}(FROM {ENTITY} TO {ENTITY}, id STRING, "
            "relation STRING, valid BOOLEAN, user_id STRING, agent_id STRING, run_id STRING, "
            "created_at STRING, updated_at STRING, invalidated_at STRING, "
            "valid_from STRING, valid_to STRING)")
        for column in ("valid_from", "valid_to"):  # graphs made before event time existed
            self._run(f"ALTER TABLE {RELATION} ADD IF NOT EXISTS {column} STRING")
        self._checkpoint()

    @property
    def wal_path(self) -> Path:
        """LadybugDB's write-ahead log, beside the database file."""
        return self.path.with_name(self.path.name + ".wal")

    @property
    def mark_path(self) -> Path:
        """Where the journal seq of the last `checkpoint(replay_from=...)` is kept."""
        return self.path.with_name(self.path.name + ".checkpointed")

    def _recorded_mark(self) -> int:
        try:
            return int(json.loads(self.mark_path.read_text())["replay_from"])
        except (OSError, ValueError, KeyError, TypeError):  # none (or unreadable): all
            return 0

    def _is_torn_log(self, exc: RuntimeError) -> bool:
        return "wal" in str(exc).lower() and self.wal_path.exists()

    def _set_log_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        aside = self.wal_path.with_name(f"{self.wal_path.name}.torn-{stamp}")
        self.wal_path.rename(aside)
        return aside

    def set_aside(self) -> list[Path]:
        """Close the database and rename its files aside (kept for inspection), so that
        the next open starts an empty graph: what `repair` does to files that no longer
        open. Returns the new names."""
        self.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        moved = []
        for path in sorted(self.path.parent.glob(f"{self.path.name}*")):
            if path.name == self.path.name or (path.name.startswith(f"{self.path.name}.")
                                               and ".damaged-" not in path.name
                                               and ".torn-" not in path.name):
                moved.append(path.rename(path.with_name(f"{path.name}.damaged-{stamp}")))
        return moved

    def _open_error(self, exc: RuntimeError) -> StoreError:
        if "lock" in str(exc).lower():
            return StoreLockedError(
                f"{self.path} is open in another process; the embedded graph allows one "
                "process per data directory (use Neo4j to share)")
        return CorruptionError(
            f"cannot open the embedded graph at {self.path}: {exc}. Its files are damaged: "
            "run `mem-integrations repair` (or Memory.repair()) to rebuild the graph from "
            "the history")

    def _checkpoint(self) -> None:
        # Moves the log into the database file: what the log held is durable without it,
        # and a log torn later holds nothing the journal has confirmed.
        self._run("CHECKPOINT")

    def _vector(self, param: str) -> str:
        return f"CAST(${param} AS FLOAT[{self.dimension}])"

    def _similarity(self, vector_param: str) -> str:
        return f"array_cosine_similarity(e.embedding, {self._vector(vector_param)})"

    def _run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if self._conn is None:
            raise StoreError("the graph store is not open")
        with self._conn_lock:
            try:
                result = self._conn.execute(query, params or {})
                columns = result.get_column_names()
                rows = []
                while result.has_next():
                    rows.append(dict(zip(columns, result.get_next(), strict=True)))
            except RuntimeError as exc:  # LadybugDB raises RuntimeError for everything
                full = "no space" in str(exc).lower()
                raise (DiskFullError if full else StoreError)(
                    f"the embedded graph at {self.path} failed: {exc}. "
                    + ("Free some disk space and call again" if full else
                       "If it persists after a restart, `mem-integrations doctor` checks it")
                ) from exc
            return rows

    def _run_many(self, statements: list[tuple[str, dict[str, Any]]], *,
                  durable: bool = True) -> None:
        if not statements:
            return
        self._run("BEGIN TRANSACTION")
        try:
            for query, params in statements:
                self._run(query, params)
        except BaseException:
            self._run("ROLLBACK")
            raise
        self._run("COMMIT")
        if durable:
            self._checkpoint()

    def checkpoint(self, replay_from: int | None = None) -> None:
        with self._lock:
            self._checkpoint()
            if replay_from is not None:
                staged = self.mark_path.with_name(self.mark_path.name + ".new")
                staged.write_text(json.dumps({"replay_from": replay_from}))
                staged.replace(self.mark_path)  # a crash leaves the old record or the new

    def delete_scope(self, scope: dict[str, str]) -> None:
        with self._lock:
            super().delete_scope(scope)
            self._checkpoint()

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self._checkpoint()

    def close(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._db.close()
                self._conn = self._db = None
