"""What only the PostgreSQL history does: several processes share it, it survives lost
connections, and it is configured with `history.url` without leaking the password."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")

from mem_integrations.core.config import load_config  # noqa: E402
from mem_integrations.core.errors import ConfigurationError  # noqa: E402
from mem_integrations.core.factory import build_history  # noqa: E402
from mem_integrations.core.history.postgres import PostgresHistory  # noqa: E402
from mem_integrations.core.history.sqlite import JournalOp  # noqa: E402
from mem_integrations.core.models import Event  # noqa: E402
from mem_integrations.core.redaction import redact_url  # noqa: E402

SCOPE = {"user_id": "alice"}


def add_op(memory_id: str, text: str) -> JournalOp:
    return JournalOp(memory_id, Event.ADD, None, text, {"data": text})


def test_a_live_process_in_flight_batch_is_not_replayed_by_another(
        postgres_url: str, table_prefix: str) -> None:
    """Two servers share the history: one's in-flight write must not be replayed by the
    other (that could resurrect a memory deleted meanwhile); once its process is gone,
    its unapplied batch is recovered by whoever opens next."""
    worker = PostgresHistory(postgres_url, table_prefix=table_prefix)
    other = PostgresHistory(postgres_url, table_prefix=table_prefix)
    try:
        batch = worker.journal([add_op("m1", "in flight")], SCOPE)
        busy = worker.save_pending([{"role": "user", "content": "being processed"}], SCOPE,
                                   None, {})
        failed = worker.save_pending([{"role": "user", "content": "failed"}], SCOPE, None, {})
        worker.fail_pending(failed, "bad reply")

        assert other.unapplied() == []
        assert [p.id for p in other.list_pending()] == [failed]  # a failed add is anyone's
        assert other.get_pending(busy) is None
        assert [b for b, _ in worker.unapplied()] == [batch]  # its own, for its own recovery
        assert {p.id for p in worker.list_pending()} == {busy, failed}

        worker.close()  # the process dies: PostgreSQL releases its lock
        assert [(b, op.memory_id) for b, op in other.unapplied()] == [(batch, "m1")]
        assert {p.id for p in other.list_pending()} == {busy, failed}
    finally:
        worker.close()
        other.close()


def test_a_lost_connection_is_replaced_transparently(postgres_url: str, table_prefix: str
                                                     ) -> None:
    store = PostgresHistory(postgres_url, table_prefix=table_prefix)
    try:
        store.mark_applied(store.journal([add_op("m1", "before")], SCOPE))
        backend = store._conn.info.backend_pid  # type: ignore[union-attr]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        assert [e.new_memory for e in store.history("m1")] == ["before"]  # reconnected
        assert store._conn.info.backend_pid != backend  # type: ignore[union-attr]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)",
                          (store._conn.info.backend_pid,))  # type: ignore[union-attr]
        store.mark_applied(store.journal([add_op("m2", "after")], SCOPE))  # a transaction too
        assert [e.new_memory for e in store.history("m2")] == ["after"]
    finally:
        store.close()


def test_two_stores_create_the_schema_at_once(postgres_url: str, table_prefix: str) -> None:
    import threading

    stores: list[PostgresHistory] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(PostgresHistory(postgres_url, table_prefix=table_prefix))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == [] and len(stores) == 4


def test_history_url_builds_a_postgres_store_and_hides_the_password(
        postgres_url: str, table_prefix: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config({"data_dir": str(tmp_path),
                          "history": {"url": postgres_url, "table_prefix": table_prefix}})
    store = build_history(config)
    try:
        assert isinstance(store, PostgresHistory)
        assert store.ping()
    finally:
        store.close()

    secret = "postgresql://memint:hunter2@db.example:5432/memint"
    assert "hunter2" not in repr(load_config({"history": {"url": secret}}))
    assert redact_url(secret) == "postgresql://memint:***@db.example:5432/memint"
    assert redact_url("postgresql://db/m?user=u&password=hunter2&sslmode=require") == \
        "postgresql://db/m"
    monkeypatch.setenv("MEMINT_HISTORY__URL", secret)
    assert load_config().history.url.get_secret_value() == secret


@pytest.mark.parametrize("history", [
    {"url": "mysql://x@y/z"},
    {"url": "postgresql://x@y/z", "path": "history.db"},
    {"url": "postgresql://x@y/z", "table_prefix": "bad-prefix;"},
])
def test_invalid_history_settings_are_configuration_errors(history: dict) -> None:
    with pytest.raises(ConfigurationError):
        load_config({"history": history})


def test_an_unreachable_server_is_a_store_error() -> None:
    from mem_integrations.core.errors import StoreError

    with pytest.raises(StoreError, match=r"cannot connect.*\*\*\*"):
        PostgresHistory("postgresql://memint:pw@127.0.0.1:1/none", connect_timeout=2)


def test_reconnecting_while_the_old_session_lingers_takes_a_new_owner(
        postgres_url: str, table_prefix: str) -> None:
    """After a network failure the server may keep the old session (and its lock) for a
    while: the store must not wait for it, nor pretend to be that owner."""
    store = PostgresHistory(postgres_url, table_prefix=table_prefix)
    try:
        in_flight = store.journal([add_op("m1", "in flight")], SCOPE)
        old_key = store.owner_key
        with psycopg.connect(postgres_url, autocommit=True) as lingering:
            lingering.execute("SELECT pg_terminate_backend(%s)",
                              (store._conn.info.backend_pid,))  # type: ignore[union-attr]
            lingering.execute("SELECT pg_advisory_lock(%s)", (old_key,))  # "still alive"
            assert store.unapplied() == []  # reconnected as a new owner, did not block
            assert store.owner_key != old_key
            lingering.execute("SELECT pg_advisory_unlock_all()")
        # the lingering session ended: the old owner's batch is now recoverable
        assert [b for b, _ in store.unapplied()] == [in_flight]
    finally:
        store.close()
