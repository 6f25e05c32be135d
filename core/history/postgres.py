"""PostgreSQL history: the same journal, history and pending adds as `SQLiteHistory`, in a
database that several processes or hosts share (scale-out behind a load balancer, with a
Qdrant server for the vectors).

    Memory({"history": {"url": "postgresql://memint:secret@db:5432/memint"},
            "vector_store": {"url": "http://qdrant:6333"}})

Needs psycopg 3 (`pip install "mem-integrations[postgres]"`).

Crash recovery with several processes. Each store holds a session-level advisory lock
on its own random owner key for as long as its connection lives, and stamps that key on
the journal rows and pending adds it writes. PostgreSQL releases the lock when the
process (or its connection) dies. So `unapplied()` returns this store's own unapplied
batches plus those whose owner's lock is free — the batches of dead processes — and
never the in-flight batch of a live one, which would be replayed under its feet.
Pending adds being processed by a live process are likewise hidden from the others'
`pending()` / `reprocess()`.

Table names are `<table_prefix>history`, `<table_prefix>pending_adds` and
`<table_prefix>maintenance` (the mark of a reset in progress), created on first use
(serialised by an advisory lock, so two processes starting together do not race).
Database errors are raised as `StoreError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from mem_integrations.core.errors import ConfigurationError, StoreError
from mem_integrations.core.history.base import AppliedRow, JournalOp
from mem_integrations.core.models import Event, HistoryEntry, PendingAdd
from mem_integrations.core.redaction import redact_url
from mem_integrations.core.scope import SCOPE_KEYS

try:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ConfigurationError(
        "history.url needs psycopg 3: pip install 'mem-integrations[postgres]' "
        "(or 'psycopg[binary]')"
    ) from exc

T = TypeVar("T")

PREFIX_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
# The key of the advisory lock that serialises schema creation (any constant will do).
SCHEMA_LOCK = 0x6D656D696E74  # "memint"

SCHEMA = """
CREATE TABLE IF NOT EXISTS {history} (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    memory_id   TEXT NOT NULL,
    event       TEXT NOT NULL,
    old_memory  TEXT,
    new_memory  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    is_deleted  BOOLEAN NOT NULL DEFAULT FALSE,
    actor_id    TEXT,
    role        TEXT,
    user_id     TEXT,
    agent_id    TEXT,
    run_id      TEXT,
    batch_id    TEXT NOT NULL,
    applied     BOOLEAN NOT NULL DEFAULT FALSE,
    payload     JSONB,
    owner_key   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS {history_memory} ON {history} (memory_id, seq);
CREATE INDEX IF NOT EXISTS {history_batch} ON {history} (batch_id);
CREATE INDEX IF NOT EXISTS {history_unapplied} ON {history} (seq) WHERE NOT applied;
CREATE TABLE IF NOT EXISTS {pending} (
    id          TEXT PRIMARY KEY,
    messages    JSONB NOT NULL,
    scope       JSONB NOT NULL,
    metadata    JSONB,
    options     JSONB,
    status      TEXT NOT NULL,
    error       TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    owner_key   BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS {maintenance} (
    name        TEXT PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL
);
"""

HISTORY_COLUMNS = ("id, memory_id, event, old_memory, new_memory, created_at, is_deleted,"
                   " actor_id, role, user_id, agent_id, run_id")


def _key(owner: str) -> int:
    """A signed 64-bit advisory-lock key for an owner id."""
    return int.from_bytes(hashlib.blake2b(owner.encode(), digest_size=8).digest(), "big",
                          signed=True)


class PostgresHistory:
    """History, journal and pending adds in PostgreSQL. Thread-safe (one connection,
    serialised), reconnects after a lost connection."""

    def __init__(self, url: str, *, table_prefix: str = "memint_",
                 connect_timeout: float = 10.0) -> None:
        if not PREFIX_PATTERN.match(table_prefix):
            raise ConfigurationError(
                f"history.table_prefix must match {PREFIX_PATTERN.pattern}, got {table_prefix!r}")
        self.url = url
        self.table_prefix = table_prefix
        self.connect_timeout = connect_timeout
        self.owner = uuid.uuid4().hex
        self.owner_key = _key(self.owner)
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        names = {
            "history": sql.Identifier(f"{table_prefix}history"),
            "pending": sql.Identifier(f"{table_prefix}pending_adds"),
            "maintenance": sql.Identifier(f"{table_prefix}maintenance"),
            "history_memory": sql.Identifier(f"{table_prefix}history_memory"),
            "history_batch": sql.Identifier(f"{table_prefix}history_batch"),
            "history_unapplied": sql.Identifier(f"{table_prefix}history_unapplied"),
        }
        self._names = names
        self._history = names["history"]
        self._pending = names["pending"]
        self._maintenance = names["maintenance"]

        def create(conn: psycopg.Connection[Any]) -> None:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(sql.SQL(SCHEMA).format(**names))

        self._transaction(create)

    def __repr__(self) -> str:
        return (f"PostgresHistory(url={redact_url(self.url)!r}, "
                f"table_prefix={self.table_prefix!r})")

    # --- connection ----------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, reconnecting (and re-taking the owner lock) if it was lost."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if conn is not None:
            conn.close()
        try:
            conn = psycopg.connect(self.url, autocommit=True,
                                   connect_timeout=max(1, int(self.connect_timeout)),
                                   application_name="mem-integrations")
            # After a network failure the old session may still hold our lock: take a new
            # owner id rather than wait for the server to notice (our old unapplied
            # batches then count as another process's, replayed once that session ends).
            while not conn.execute("SELECT pg_try_advisory_lock(%s)",
                                   (self.owner_key,)).fetchone()[0]:  # type: ignore[index]
                self.owner = uuid.uuid4().hex
                self.owner_key = _key(self.owner)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL history at "
                             f"{redact_url(self.url)}: {exc}".strip()) from exc
        self._conn = conn
        return conn

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """One statement (autocommit). A connection found dead (server restart, idle
        timeout, failover) is replaced and the statement tried once more."""
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    return work(conn)
                except psycopg.OperationalError as exc:
                    if attempt == 1 and (conn.closed or conn.broken):
                        continue
                    raise StoreError(f"PostgreSQL history failed: {exc}".strip()) from exc
                except psycopg.Error as exc:
                    raise StoreError(f"PostgreSQL history failed: {exc}".strip()) from exc
            raise AssertionError("unreachable")  # pragma: no cover

    def _transaction(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`work` in one transaction. If the connection turns out dead before the commit
        was sent, nothing was written: reconnect and run it once more."""
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                committing = False
                try:
                    with conn.transaction():
                        result = work(conn)
                        committing = True
                    return result
                except psycopg.OperationalError as exc:
                    if attempt == 1 and not committing and (conn.closed or conn.broken):
                        continue
                    raise StoreError(f"PostgreSQL history failed: {exc}".strip()) from exc
                except psycopg.Error as exc:
                    raise StoreError(f"PostgreSQL history failed: {exc}".strip()) from exc
            raise AssertionError("unreachable")  # pragma: no cover

    # --- the journal -------------------------------------------------------------------

    def journal(self, ops: list[JournalOp], scope: dict[str, str], *,
                actor_id: str | None = None, role: str | None = None,
                done_pending: str | None = None) -> str:
        """Write an add's operations, unapplied, in one transaction; returns the batch id.
        `done_pending` is removed from the pending adds in the same transaction."""
        batch_id = uuid.uuid4().hex
        insert = sql.SQL(
            "INSERT INTO {} (id, memory_id, event, old_memory, new_memory, created_at,"
            " is_deleted, actor_id, role, user_id, agent_id, run_id, batch_id, applied,"
            " payload, owner_key) VALUES (%s,%s,%s,%s,%s, now(), %s,%s,%s,%s,%s,%s,%s,"
            " FALSE, %s, %s) RETURNING seq").format(self._history)
        def write(conn: psycopg.Connection[Any]) -> None:
            for op in ops:
                op_id = uuid.uuid4().hex
                row = conn.execute(insert, (
                    op_id, op.memory_id, op.event.value, op.old_memory, op.new_memory,
                    op.event is Event.DELETE, actor_id, role, scope.get("user_id"),
                    scope.get("agent_id"), scope.get("run_id"), batch_id,
                    Jsonb(op.payload) if op.payload is not None else None,
                    self.owner_key)).fetchone()
                op.id, op.seq = op_id, int(row[0]) if row else 0
            if done_pending:
                conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(self._pending),
                             (done_pending,))

        self._transaction(write)
        return batch_id

    def mark_applied(self, batch_id: str) -> None:
        self._run(lambda conn: conn.execute(
            # the payload stays: it is what `repair` rebuilds the stores from
            sql.SQL("UPDATE {} SET applied = TRUE WHERE batch_id = %s")
            .format(self._history), (batch_id,)))

    def _dead_owners(self, conn: psycopg.Connection[Any], keys: set[int]) -> set[int]:
        """The owner keys whose process no longer holds its advisory lock."""
        dead = set()
        for key in keys:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row and row[0]:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                dead.add(key)
        return dead

    def unapplied(self) -> list[tuple[str, JournalOp]]:
        """Journaled operations not yet confirmed applied, oldest first, with batch ids:
        this store's own, and those of processes that died (see the module docstring)."""

        def read(conn: psycopg.Connection[Any]) -> list[tuple[str, JournalOp]]:
            rows = conn.execute(sql.SQL(
                "SELECT batch_id, id, seq, memory_id, event, old_memory, new_memory, payload,"
                " owner_key FROM {} WHERE NOT applied ORDER BY seq").format(self._history)
            ).fetchall()
            others = {r[8] for r in rows if r[8] != self.owner_key}
            replay = {self.owner_key} | self._dead_owners(conn, others)
            return [(r[0], JournalOp(memory_id=r[3], event=Event(r[4]), old_memory=r[5],
                                     new_memory=r[6], payload=r[7], id=r[1], seq=int(r[2])))
                    for r in rows if r[8] in replay]

        return self._run(read)

    def applied_rows(self, *, after: int = 0, limit: int = 1000) -> list[AppliedRow]:
        rows = self._run(lambda conn: conn.execute(sql.SQL(
            "SELECT id, seq, memory_id, event, old_memory, new_memory, payload, created_at,"
            " user_id, agent_id, run_id FROM {} WHERE applied AND seq > %s"
            " ORDER BY seq LIMIT %s").format(self._history), (after, limit)).fetchall())
        return [AppliedRow(JournalOp(memory_id=r[2], event=Event(r[3]), old_memory=r[4],
                                     new_memory=r[5], payload=r[6], id=r[0], seq=int(r[1])),
                           r[7].astimezone(UTC),
                           {k: v for k, v in zip(SCOPE_KEYS, r[8:11], strict=True) if v})
                for r in rows]

    # --- history -----------------------------------------------------------------------

    def history(self, memory_id: str) -> list[HistoryEntry]:
        return self._entries("memory_id = %s", (memory_id,))

    def scope_history(self, scope: dict[str, str] | None) -> list[HistoryEntry]:
        keys = [k for k in SCOPE_KEYS if (scope or {}).get(k)]
        return self._entries(" AND ".join([f"{k} = %s" for k in keys]) or "TRUE",
                             tuple((scope or {})[k] for k in keys))

    def _entries(self, where: str, params: tuple[str, ...]) -> list[HistoryEntry]:
        # `where` is built from SCOPE_KEYS and literals only; values are parameters
        rows = self._run(lambda conn: conn.execute(sql.SQL(
            f"SELECT {HISTORY_COLUMNS} FROM {{}} WHERE {where} AND applied"
            " ORDER BY seq").format(self._history), params).fetchall())
        return [HistoryEntry(id=r[0], memory_id=r[1], event=Event(r[2]), old_memory=r[3],
                             new_memory=r[4], created_at=r[5].astimezone(UTC), is_deleted=bool(r[6]),
                             actor_id=r[7], role=r[8], user_id=r[9], agent_id=r[10],
                             run_id=r[11]) for r in rows]

    def import_entries(self, entries: list[HistoryEntry]) -> int:
        batch_id = uuid.uuid4().hex
        insert = sql.SQL(
            f"INSERT INTO {{}} ({HISTORY_COLUMNS}, batch_id, applied, owner_key)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s, TRUE, %s)"
            " ON CONFLICT (id) DO NOTHING").format(self._history)

        def write(conn: psycopg.Connection[Any]) -> int:
            return sum(conn.execute(insert, (
                e.id, e.memory_id, e.event.value, e.old_memory, e.new_memory, e.created_at,
                e.is_deleted, e.actor_id, e.role, e.user_id, e.agent_id, e.run_id,
                batch_id, self.owner_key)).rowcount for e in entries)

        return self._transaction(write)

    # --- pending adds --------------------------------------------------------------------

    def save_pending(self, messages: list[dict[str, str]], scope: dict[str, str],
                     metadata: dict[str, Any] | None, options: dict[str, Any]) -> str:
        pending_id = uuid.uuid4().hex
        self._run(lambda conn: conn.execute(sql.SQL(
            "INSERT INTO {} (id, messages, scope, metadata, options, status, created_at,"
            " owner_key) VALUES (%s,%s,%s,%s,%s, 'processing', clock_timestamp(), %s)"
        ).format(self._pending), (
            pending_id, Jsonb(messages), Jsonb(scope),
            Jsonb(metadata) if metadata is not None else None, Jsonb(options),
            self.owner_key)))
        return pending_id

    def fail_pending(self, pending_id: str, error: str) -> None:
        self._run(lambda conn: conn.execute(sql.SQL(
            "UPDATE {} SET status = 'failed', error = %s WHERE id = %s").format(self._pending),
            (error, pending_id)))

    def drop_pending(self, pending_id: str) -> None:
        self._run(lambda conn: conn.execute(
            sql.SQL("DELETE FROM {} WHERE id = %s").format(self._pending), (pending_id,)))

    def discard_pending(self, pending_id: str) -> bool:
        return bool(self._run(lambda conn: conn.execute(sql.SQL(
            "UPDATE {} SET status = 'discarded', error = %s || coalesce("
            "' (it had failed: ' || error || ')', '') WHERE id = %s AND status <> 'discarded'"
        ).format(self._pending), (f"discarded at {datetime.now(UTC).isoformat()}",
                                  pending_id)).rowcount))

    def get_pending(self, pending_id: str) -> tuple[PendingAdd, dict[str, Any]] | None:
        rows = self._pending_rows(sql.SQL("WHERE id = %s AND status <> 'discarded'"),
                                  (pending_id,))
        return rows[0] if rows else None

    def list_pending(self) -> list[PendingAdd]:
        return [p for p, _ in self._pending_rows(sql.SQL("WHERE status <> 'discarded'"), ())]

    def list_discarded(self) -> list[PendingAdd]:
        return [p for p, _ in self._pending_rows(sql.SQL("WHERE status = 'discarded'"), ())]

    def _pending_rows(self, where: sql.Composable, args: tuple[Any, ...]
                      ) -> list[tuple[PendingAdd, dict[str, Any]]]:
        def read(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            rows = conn.execute(sql.SQL(
                "SELECT id, messages, scope, metadata, options, status, error, created_at,"
                " owner_key FROM {} {} ORDER BY created_at, id").format(self._pending, where),
                args).fetchall()
            # An add another live process is still working on is not pending (yet).
            busy = {r[8] for r in rows if r[5] == "processing" and r[8] != self.owner_key}
            alive = busy - self._dead_owners(conn, busy)
            return [r for r in rows if not (r[5] == "processing" and r[8] in alive)]

        return [(PendingAdd(id=r[0], messages=r[1], scope=r[2], metadata=r[3],
                            status=r[5] if r[5] in ("failed", "discarded") else "interrupted",
                            error=r[6] or "the process stopped before this add finished",
                            created_at=r[7].astimezone(UTC)),
                 r[4] or {}) for r in self._run(read)]

    # --- lifecycle -----------------------------------------------------------------------

    @contextlib.contextmanager
    def scope_lock(self, scope: dict[str, str]) -> Iterator[None]:
        """A PostgreSQL advisory lock on the scope, on a connection of its own (the
        store's shared connection must stay free while the holder waits on the LLM)."""
        key = _key("scope:" + "|".join(f"{k}={v}" for k, v in sorted(scope.items())))
        try:
            conn = psycopg.connect(self.url, autocommit=True,
                                   connect_timeout=int(self.connect_timeout))
        except psycopg.Error as exc:
            raise StoreError(f"cannot lock a scope in the history database: {exc}") from exc
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            yield
        finally:
            conn.close()  # closing the session releases its advisory locks

    def begin_reset(self) -> None:
        """Record that a reset started: until `reset()` commits, the next open finishes it."""
        self._run(lambda conn: conn.execute(sql.SQL(
            "INSERT INTO {} (name, started_at) VALUES ('reset', now())"
            " ON CONFLICT (name) DO UPDATE SET started_at = EXCLUDED.started_at"
        ).format(self._maintenance)))

    def reset_started(self) -> bool:
        return self._run(lambda conn: conn.execute(sql.SQL(
            "SELECT 1 FROM {} WHERE name = 'reset'").format(self._maintenance)
        ).fetchone() is not None)

    def reset(self) -> None:
        def clear(conn: psycopg.Connection[Any]) -> None:
            conn.execute(sql.SQL("DELETE FROM {}").format(self._history))
            conn.execute(sql.SQL("DELETE FROM {}").format(self._pending))
            conn.execute(sql.SQL("DELETE FROM {} WHERE name = 'reset'").format(self._maintenance))

        self._transaction(clear)

    def drop_tables(self) -> None:
        """Remove this store's tables (tests and tear-down; `reset` keeps them)."""
        self._transaction(lambda conn: conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {}, {}, {}").format(
                self._history, self._pending, self._maintenance)))

    def ping(self) -> str:
        """The server's version string (raises `StoreError` when unreachable)."""
        row = self._run(lambda conn: conn.execute("SHOW server_version").fetchone())
        return str(row[0]) if row else "unknown"

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                # Release the owner lock now: the server would only notice the closed
                # socket a moment later, and a restarted process should recover at once.
                with contextlib.suppress(psycopg.Error):
                    self._conn.execute("SELECT pg_advisory_unlock_all()")
                self._conn.close()
            self._conn = None
