"""`discard_pending` on both history stores (SQLite and PostgreSQL): a pending add given
up on leaves `list_pending` / `get_pending` and is never retried, but its row stays —
messages, scope, metadata and the failure — marked discarded, across a reopen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCOPE = {"user_id": "alice"}


def test_a_discarded_add_is_kept_as_a_record(open_store: Callable[[], Any]) -> None:
    store = open_store()
    messages = [{"role": "user", "content": "I love opera"}]
    given_up = store.save_pending(messages, SCOPE, {"lang": "en"}, {"infer": True})
    other = store.save_pending([{"role": "user", "content": "hi"}], SCOPE, None, {})
    store.fail_pending(given_up, "the LLM reply was not JSON")

    assert store.discard_pending(given_up) is True
    assert store.discard_pending(given_up) is False  # once only
    assert store.discard_pending("no-such-add") is False
    assert [p.id for p in store.list_pending()] == [other]
    assert store.get_pending(given_up) is None  # so reprocess cannot pick it up
    [record] = store.list_discarded()
    assert (record.id, record.status, record.messages, record.scope, record.metadata) == (
        given_up, "discarded", messages, SCOPE, {"lang": "en"})
    assert record.error.startswith("discarded at ")
    assert "it had failed: the LLM reply was not JSON" in record.error
    store.close()

    again = open_store()  # durable
    assert [p.id for p in again.list_discarded()] == [given_up]
    assert [p.id for p in again.list_pending()] == [other]
    again.reset()  # reset deletes everything, the records too
    assert again.list_discarded() == [] and again.list_pending() == []
    again.close()
