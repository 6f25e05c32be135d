"""SQLite history: every change to every memory, plus the write-ahead journal of adds.

An add's operations are written here first, in one transaction, marked unapplied; then
they are applied to the vector store; then marked applied. If the process dies in
between, `unapplied()` lists what to replay on the next open. The messages of an add are
kept in `pending_adds` from before the LLM is called until its operations are journaled,
so an unparseable reply or a crash never loses what the user said.

WAL mode and a busy timeout let readers and a writer (and several processes reading the
same file) work without "database is locked".
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mem_integrations.core.errors import CorruptionError
from mem_integrations.core.history.base import AppliedRow, JournalOp
from mem_integrations.core.models import Event, HistoryEntry, PendingAdd
from mem_integrations.core.scope import SCOPE_KEYS

SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    memory_id   TEXT NOT NULL,
    event       TEXT NOT NULL,
    old_memory  TEXT,
    new_memory  TEXT,
    created_at  TEXT NOT NULL,
    is_deleted  INTEGER NOT NULL DEFAULT 0,
    actor_id    TEXT,
    role        TEXT,
    user_id     TEXT,
    agent_id    TEXT,
    run_id      TEXT,
    batch_id    TEXT NOT NULL,
    applied     INTEGER NOT NULL DEFAULT 0,
    payload     TEXT
);
CREATE INDEX IF NOT EXISTS history_memory ON history (memory_id, seq);
CREATE INDEX IF NOT EXISTS history_unapplied ON history (applied) WHERE applied = 0;
CREATE TABLE IF NOT EXISTS pending_adds (
    id          TEXT PRIMARY KEY,
    messages    TEXT NOT NULL,
    scope       TEXT NOT NULL,
    metadata    TEXT,
    options     TEXT,
    status      TEXT NOT NULL,
    error       TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS maintenance (
    name        TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL
);
"""


def damaged_history(path: Path, exc: BaseException) -> str:
    """What to do about a history file SQLite cannot read."""
    return (f"the history database {path} is damaged ({exc}). It is the source of truth, "
            "so `repair` cannot rebuild it: restore it from a backup (`mem-integrations "
            "import-jsonl` of an `export` file), or move it aside to start an empty history; "
            "then run `mem-integrations repair` to rebuild the stores from it")


def utcnow() -> datetime:
    return datetime.now(UTC)


class SQLiteHistory:
    """History and journal in one SQLite file. Thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0,
                                     isolation_level=None)
        self._lock = threading.RLock()
        try:
            with self._lock:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.execute("PRAGMA busy_timeout=30000")
                self._conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            self._conn.close()
            raise CorruptionError(damaged_history(self.path, exc)) from exc

    def __repr__(self) -> str:
        return f"SQLiteHistory(path={str(self.path)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- the journal -------------------------------------------------------------------

    def journal(self, ops: list[JournalOp], scope: dict[str, str], *,
                actor_id: str | None = None, role: str | None = None,
                done_pending: str | None = None) -> str:
        """Write an add's operations, unapplied, in one transaction; returns the batch id.
        `done_pending` is removed from the pending adds in the same transaction."""
        batch_id = uuid.uuid4().hex
        now = utcnow().isoformat()
        with self._transaction() as conn:
            for op in ops:
                op.id = uuid.uuid4().hex
                cursor = conn.execute(
                    "INSERT INTO history (id, memory_id, event, old_memory, new_memory,"
                    " created_at, is_deleted, actor_id, role, user_id, agent_id, run_id,"
                    " batch_id, applied, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0,?)",
                    (op.id, op.memory_id, op.event.value, op.old_memory, op.new_memory, now,
                     int(op.event is Event.DELETE), actor_id, role, scope.get("user_id"),
                     scope.get("agent_id"), scope.get("run_id"), batch_id,
                     json.dumps(op.payload, ensure_ascii=False) if op.payload is not None else None),
                )
                op.seq = int(cursor.lastrowid or 0)
            if done_pending:
                conn.execute("DELETE FROM pending_adds WHERE id = ?", (done_pending,))
        return batch_id

    def mark_applied(self, batch_id: str) -> None:
        with self._lock:
            # the payload stays: it is what `repair` rebuilds the stores from
            self._conn.execute("UPDATE history SET applied = 1 WHERE batch_id = ?", (batch_id,))

    def unapplied(self) -> list[tuple[str, JournalOp]]:
        """Journaled operations not yet confirmed applied, oldest first, with batch ids."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT batch_id, id, seq, memory_id, event, old_memory, new_memory, payload"
                " FROM history WHERE applied = 0 ORDER BY seq").fetchall()
        return [(r[0], JournalOp(memory_id=r[3], event=Event(r[4]), old_memory=r[5],
                                 new_memory=r[6], payload=json.loads(r[7]) if r[7] else None,
                                 id=r[1], seq=r[2])) for r in rows]

    def applied_rows(self, *, after: int = 0, limit: int = 1000) -> list[AppliedRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, seq, memory_id, event, old_memory, new_memory, payload, created_at,"
                " user_id, agent_id, run_id FROM history WHERE applied = 1 AND seq > ?"
                " ORDER BY seq LIMIT ?", (after, limit)).fetchall()
        return [AppliedRow(JournalOp(memory_id=r[2], event=Event(r[3]), old_memory=r[4],
                                     new_memory=r[5], payload=json.loads(r[6]) if r[6] else None,
                                     id=r[0], seq=r[1]),
                           datetime.fromisoformat(r[7]),
                           {k: v for k, v in zip(SCOPE_KEYS, r[8:11], strict=True) if v})
                for r in rows]

    # --- history -----------------------------------------------------------------------

    def history(self, memory_id: str) -> list[HistoryEntry]:
        return self._entries("memory_id = ?", (memory_id,))

    def scope_history(self, scope: dict[str, str] | None) -> list[HistoryEntry]:
        keys = [k for k in SCOPE_KEYS if (scope or {}).get(k)]
        return self._entries(" AND ".join([f"{k} = ?" for k in keys]) or "1 = 1",
                             tuple((scope or {})[k] for k in keys))

    def _entries(self, where: str, params: tuple[str, ...]) -> list[HistoryEntry]:
        # `where` is built from SCOPE_KEYS and literals only; values are parameters
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, memory_id, event, old_memory, new_memory, created_at, is_deleted,"
                f" actor_id, role, user_id, agent_id, run_id FROM history WHERE {where}"
                " AND applied = 1 ORDER BY seq", params).fetchall()
        return [HistoryEntry(id=r[0], memory_id=r[1], event=Event(r[2]), old_memory=r[3],
                             new_memory=r[4], created_at=datetime.fromisoformat(r[5]),
                             is_deleted=bool(r[6]), actor_id=r[7], role=r[8], user_id=r[9],
                             agent_id=r[10], run_id=r[11]) for r in rows]

    def import_entries(self, entries: list[HistoryEntry]) -> int:
        batch_id = uuid.uuid4().hex
        with self._transaction() as conn:
            before = conn.total_changes
            # INSERT OR IGNORE on the UNIQUE id: an entry imported before is left as it is
            conn.executemany(
                "INSERT OR IGNORE INTO history (id, memory_id, event, old_memory, new_memory,"
                " created_at, is_deleted, actor_id, role, user_id, agent_id, run_id,"
                " batch_id, applied) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
                [(e.id, e.memory_id, e.event.value, e.old_memory, e.new_memory,
                  e.created_at.isoformat(), int(e.is_deleted), e.actor_id, e.role, e.user_id,
                  e.agent_id, e.run_id, batch_id) for e in entries])
            return conn.total_changes - before

    # --- pending adds --------------------------------------------------------------------

    def save_pending(self, messages: list[dict[str, str]], scope: dict[str, str],
                     metadata: dict[str, Any] | None, options: dict[str, Any]) -> str:
        pending_id = uuid.uuid4().hex
        with self._lock:
            self._conn.execute(
                "INSERT INTO pending_adds (id, messages, scope, metadata, options, status,"
                " created_at) VALUES (?,?,?,?,?, 'processing', ?)",
                (pending_id, json.dumps(messages, ensure_ascii=False), json.dumps(scope),
                 json.dumps(metadata, ensure_ascii=False) if metadata is not None else None,
                 json.dumps(options), utcnow().isoformat()))
        return pending_id

    def fail_pending(self, pending_id: str, error: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE pending_adds SET status = 'failed', error = ? WHERE id = ?",
                               (error, pending_id))

    def drop_pending(self, pending_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM pending_adds WHERE id = ?", (pending_id,))

    def discard_pending(self, pending_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE pending_adds SET status = 'discarded', error = ? || coalesce("
                "' (it had failed: ' || error || ')', '') WHERE id = ? AND status != 'discarded'",
                (f"discarded at {utcnow().isoformat()}", pending_id))
        return cursor.rowcount == 1

    def get_pending(self, pending_id: str) -> tuple[PendingAdd, dict[str, Any]] | None:
        rows = self._pending_rows("WHERE id = ? AND status != 'discarded'", (pending_id,))
        return rows[0] if rows else None

    def list_pending(self) -> list[PendingAdd]:
        return [p for p, _ in self._pending_rows("WHERE status != 'discarded'", ())]

    def list_discarded(self) -> list[PendingAdd]:
        return [p for p, _ in self._pending_rows("WHERE status = 'discarded'", ())]

    def _pending_rows(self, where: str, args: tuple[Any, ...]
                      ) -> list[tuple[PendingAdd, dict[str, Any]]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, messages, scope, metadata, options, status, error, created_at"
                f" FROM pending_adds {where} ORDER BY created_at", args).fetchall()
        return [(PendingAdd(id=r[0], messages=json.loads(r[1]), scope=json.loads(r[2]),
                            metadata=json.loads(r[3]) if r[3] else None,
                            status=r[5] if r[5] in ("failed", "discarded") else "interrupted",
                            error=r[6] or "the process stopped before this add finished",
                            created_at=datetime.fromisoformat(r[7])),
                 json.loads(r[4]) if r[4] else {}) for r in rows]

    def scope_lock(self, scope: dict[str, str]) -> AbstractContextManager[None]:
        # The embedded stores admit one process per data directory, so the in-process
        # lock of AsyncMemory is all a SQLite history ever needs.
        return nullcontext()

    def begin_reset(self) -> None:
        """Record that a reset started: until `reset()` commits, the next open finishes it."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO maintenance VALUES ('reset', ?)",
                               (utcnow().isoformat(),))

    def reset_started(self) -> bool:
        with self._lock:
            return self._conn.execute(
                "SELECT 1 FROM maintenance WHERE name = 'reset'").fetchone() is not None

    def reset(self) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM history")
            conn.execute("DELETE FROM pending_adds")
            conn.execute("DELETE FROM maintenance WHERE name = 'reset'")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
