"""The history-store contract, run on SQLite and on a real PostgreSQL server: the journal
is one transaction, history comes oldest first, pending adds survive restarts, and the
mark of a reset in progress lasts until the reset commits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from mem_integrations.core.history.base import HistoryStore
from mem_integrations.core.history.sqlite import JournalOp
from mem_integrations.core.models import Event

SCOPE = {"user_id": "alice"}


def add_op(memory_id: str, text: str) -> JournalOp:
    return JournalOp(memory_id, Event.ADD, None, text, {"data": text, "user_id": "alice"})


def test_store_implements_the_protocol(open_store: Callable[[], Any]) -> None:
    assert isinstance(open_store(), HistoryStore)


def test_journal_is_unapplied_until_marked_then_history_oldest_first(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    ops = [add_op("m1", "Lives in Paris"), add_op("m2", "Likes tea")]
    batch = store.journal(ops, SCOPE, actor_id="a1", role="user")
    assert all(op.id for op in ops) and ops[0].seq < ops[1].seq

    unapplied = store.unapplied()
    assert [(b, op.memory_id, op.payload) for b, op in unapplied] == [
        (batch, "m1", {"data": "Lives in Paris", "user_id": "alice"}),
        (batch, "m2", {"data": "Likes tea", "user_id": "alice"})]
    assert store.history("m1") == []  # not history until applied

    store.mark_applied(batch)
    assert store.unapplied() == []
    update = store.journal([JournalOp("m1", Event.UPDATE, "Lives in Paris", "Lives in Berlin",
                                      {"data": "Lives in Berlin"})], SCOPE)
    store.mark_applied(update)
    delete = store.journal([JournalOp("m1", Event.DELETE, "Lives in Berlin", None, None)], SCOPE)
    store.mark_applied(delete)

    entries = store.history("m1")
    assert [e.event for e in entries] == [Event.ADD, Event.UPDATE, Event.DELETE]
    assert [(e.old_memory, e.new_memory) for e in entries] == [
        (None, "Lives in Paris"), ("Lives in Paris", "Lives in Berlin"), ("Lives in Berlin", None)]
    assert [e.is_deleted for e in entries] == [False, False, True]
    assert entries[0].user_id == "alice" and entries[0].actor_id == "a1"
    assert entries[0].role == "user" and entries[0].id == ops[0].id
    assert entries[0].created_at <= entries[1].created_at <= entries[2].created_at
    assert entries[0].created_at.utcoffset() is not None  # timezone-aware
    assert [e.memory_id for e in store.history("m2")] == ["m2"]


def test_scope_history_lists_every_applied_change_of_a_scope_deleted_ones_included(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    store.mark_applied(store.journal([add_op("m1", "Lives in Paris")], SCOPE))
    store.mark_applied(store.journal(
        [JournalOp("m1", Event.DELETE, "Lives in Paris", None, None)], SCOPE))
    bob = {"user_id": "bob", "agent_id": "bot"}
    store.mark_applied(store.journal([JournalOp("m2", Event.ADD, None, "Plays chess",
                                                {"data": "Plays chess", **bob})], bob))
    store.journal([add_op("m3", "Not applied yet")], SCOPE)
    assert [(e.memory_id, e.event) for e in store.scope_history(SCOPE)] == [
        ("m1", Event.ADD), ("m1", Event.DELETE)]
    assert [e.memory_id for e in store.scope_history({"user_id": "bob"})] == ["m2"]
    assert store.scope_history({"user_id": "bob", "agent_id": "other"}) == []
    assert [e.memory_id for e in store.scope_history(None)] == ["m1", "m1", "m2"]
    assert store.scope_history({"user_id": "x' OR '1'='1"}) == []  # values are parameters


def test_journal_removes_its_pending_add_in_the_same_transaction(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    pending = store.save_pending([{"role": "user", "content": "I live in Paris"}], SCOPE,
                                 None, {"infer": True})
    assert [p.id for p in store.list_pending()] == [pending]
    store.journal([add_op("m1", "Lives in Paris")], SCOPE, done_pending=pending)
    assert store.list_pending() == []
    assert store.get_pending(pending) is None


def test_a_failing_journal_writes_nothing_and_keeps_the_pending_add(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    pending = store.save_pending([{"role": "user", "content": "hi"}], SCOPE, None, {})
    unserialisable = JournalOp("m2", Event.ADD, None, "bad", {"data": object()})
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own type
        store.journal([add_op("m1", "fine"), unserialisable], SCOPE, done_pending=pending)
    assert store.unapplied() == []
    assert [p.id for p in store.list_pending()] == [pending]
    # and the store still works afterwards
    store.mark_applied(store.journal([add_op("m3", "after")], SCOPE))
    assert [e.new_memory for e in store.history("m3")] == ["after"]


def test_pending_adds_keep_messages_scope_metadata_options_and_failure(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    messages = [{"role": "user", "content": "Je m'appelle Zoë 🌍"},
                {"role": "assistant", "content": "Enchanté"}]
    first = store.save_pending(messages, {"user_id": "zoe", "run_id": "r1"}, {"lang": "fr"},
                               {"infer": True, "memory_type": None, "prompt": "only names"})
    second = store.save_pending([{"role": "user", "content": "second"}], SCOPE, None, {})
    store.fail_pending(first, "the LLM reply was not JSON")

    listed = store.list_pending()
    assert [p.id for p in listed] == [first, second]  # oldest first
    kept, options = store.get_pending(first)
    assert kept.messages == messages and kept.scope == {"user_id": "zoe", "run_id": "r1"}
    assert kept.metadata == {"lang": "fr"}
    assert kept.status == "failed" and kept.error == "the LLM reply was not JSON"
    assert options == {"infer": True, "memory_type": None, "prompt": "only names"}
    assert store.get_pending(second)[0].status == "interrupted"

    store.drop_pending(first)
    assert [p.id for p in store.list_pending()] == [second]
    assert store.get_pending("no-such-id") is None


def test_everything_survives_a_restart_and_an_unapplied_batch_is_replayable(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    applied = store.journal([add_op("m1", "kept")], SCOPE)
    store.mark_applied(applied)
    crashed = store.journal([add_op("m2", "in flight")], SCOPE)
    pending = store.save_pending([{"role": "user", "content": "x"}], SCOPE, None, {})
    store.close()  # the process stops between journaling and applying

    reopened = open_store()
    assert [e.new_memory for e in reopened.history("m1")] == ["kept"]
    assert [(b, op.memory_id) for b, op in reopened.unapplied()] == [(crashed, "m2")]
    assert [p.id for p in reopened.list_pending()] == [pending]
    reopened.mark_applied(crashed)
    assert reopened.unapplied() == []
    assert [e.new_memory for e in reopened.history("m2")] == ["in flight"]


def test_reset_clears_history_journal_and_pending(open_store: Callable[[], Any]) -> None:
    store = open_store()
    store.mark_applied(store.journal([add_op("m1", "a")], SCOPE))
    store.journal([add_op("m2", "b")], SCOPE)
    store.save_pending([{"role": "user", "content": "x"}], SCOPE, None, {})
    store.reset()
    assert store.history("m1") == [] and store.unapplied() == [] and store.list_pending() == []


def test_a_reset_mark_survives_a_restart_until_the_reset_commits(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    assert store.reset_started() is False
    store.mark_applied(store.journal([add_op("m1", "a")], SCOPE))
    store.begin_reset()
    store.begin_reset()  # a reset retried before it finished
    assert store.reset_started() is True
    store.close()  # the process stops half way through the reset

    reopened = open_store()
    assert reopened.reset_started() is True
    assert [e.new_memory for e in reopened.history("m1")] == ["a"]  # nothing cleared yet
    reopened.reset()
    assert reopened.reset_started() is False
    assert reopened.history("m1") == []
    reopened.close()
    assert open_store().reset_started() is False


def test_a_reset_without_a_mark_leaves_none(open_store: Callable[[], Any]) -> None:
    store = open_store()
    store.reset()
    assert store.reset_started() is False


def test_concurrent_journals_from_threads_all_land(open_store: Callable[[], Any]) -> None:
    store = open_store()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                store.mark_applied(store.journal([add_op(f"t{n}", f"{n}-{i}")], SCOPE))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n in range(4):
        assert [e.new_memory for e in store.history(f"t{n}")] == [f"{n}-{i}" for i in range(10)]


def test_applied_rows_keep_their_payloads_for_a_rebuild_and_page_in_seq_order(
        open_store: Callable[[], Any]) -> None:
    store = open_store()
    first = store.journal([add_op("m1", "Lives in Paris"), add_op("m2", "Likes tea")], SCOPE)
    store.mark_applied(first)
    store.journal([add_op("m3", "Not confirmed")], SCOPE)  # unapplied: not history yet
    delete = store.journal([JournalOp("m2", Event.DELETE, "Likes tea", None, None)],
                           {"user_id": "alice", "run_id": "r1"})
    store.mark_applied(delete)

    rows = store.applied_rows()
    assert [(r.op.memory_id, r.op.event, r.op.payload) for r in rows] == [
        ("m1", Event.ADD, {"data": "Lives in Paris", "user_id": "alice"}),
        ("m2", Event.ADD, {"data": "Likes tea", "user_id": "alice"}),
        ("m2", Event.DELETE, None)]
    assert [r.scope for r in rows] == [SCOPE, SCOPE, {"user_id": "alice", "run_id": "r1"}]
    assert all(r.created_at.utcoffset() is not None for r in rows)
    assert rows[0].op.seq < rows[1].op.seq < rows[2].op.seq
    assert rows[0].op.new_memory == "Lives in Paris" and rows[2].op.old_memory == "Likes tea"

    page = store.applied_rows(after=rows[0].op.seq, limit=1)
    assert [r.op.id for r in page] == [rows[1].op.id]
    assert store.applied_rows(after=rows[2].op.seq) == []
