"""Provider faults over real HTTP: timeouts, 429 and 5xx from the LLM or the embedder are
retried a bounded number of times with backoff, then surface as a clear `ProviderError`;
nothing is half-written and the messages of an add are kept for `reprocess`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Event, LLMResponseError, Memory, ProviderError
from mem_integrations.core.history.sqlite import JournalOp
from mem_integrations.testing import Fault
from tests.conftest import facts, ops
from tests.reliability.support import FaultyServer, consistency, scope_items

RETRIES = 1  # so a call is tried twice (the backoff test uses 2 retries)


@pytest.fixture
def make_faulty(tmp_path: Path, faulty: FaultyServer) -> Iterator[Callable[..., Memory]]:
    """A memory whose LLM AND embedder are the faulty server, over HTTP."""
    made: list[Memory] = []

    def make(*, timeout: float = 5.0, data_dir: Path | None = None, open: bool = True,
             retries: int = RETRIES) -> Memory:
        memory = Memory({
            "data_dir": str(data_dir or tmp_path / "data"),
            "llm": {"base_url": faulty.base_url, "api_key": "sk-llm", "max_retries": retries,
                    "timeout": timeout},
            "embedder": {"provider": "openai", "base_url": faulty.base_url, "api_key": "sk-emb",
                         "model": "tiny", "dimensions": 64, "max_retries": retries,
                         "timeout": timeout},
        })
        made.append(memory)
        if open:
            memory.open()
        return memory

    yield make
    for memory in made:
        memory.close()


def assert_nothing_written(memory: Memory, user: str, before: dict[str, str]) -> None:
    assert scope_items(memory, user_id=user) == before
    assert memory.async_memory.history_store.unapplied() == []
    assert not +consistency(memory).counts


def test_llm_429_and_5xx_are_retried_with_backoff(make_faulty, faulty) -> None:
    memory = make_faulty(retries=2)
    faulty.queue(Fault(status=429), Fault(status=502), facts("Lives in Paris"))
    started = time.monotonic()
    result = memory.add("I live in Paris", user_id="alice")
    elapsed = time.monotonic() - started
    assert [e.memory for e in result.results] == ["Lives in Paris"]
    assert faulty.chat_calls == 3 and faulty.faults_served == 2
    # exponential backoff: ~0.5 s then ~1 s (less up to 25 % jitter) between attempts
    assert elapsed >= 1.0, elapsed


@pytest.mark.parametrize("status", [429, 500, 503])
def test_llm_faults_beyond_the_retry_budget_are_a_clear_error_and_write_nothing(
        make_faulty, faulty, status) -> None:
    memory = make_faulty()
    faulty.queue(*[Fault(status=status)] * (RETRIES + 1))
    with pytest.raises(ProviderError) as raised:
        memory.add("I live in Paris", user_id="alice")
    error = raised.value
    assert not isinstance(error, LLMResponseError)  # a provider fault, not a parse failure
    assert faulty.chat_calls == RETRIES + 1  # bounded: no retry storm
    assert f"after {RETRIES} retries" in str(error) and "reprocess" in str(error)
    assert_nothing_written(memory, "alice", {})
    [kept] = memory.pending()
    assert kept.id == error.pending_id and kept.status == "failed"
    assert kept.messages[0]["content"] == "I live in Paris"

    faulty.queue(facts("Lives in Paris"))
    memory.reprocess(error.pending_id)
    assert list(scope_items(memory, user_id="alice").values()) == ["Lives in Paris"]
    assert memory.pending() == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_is_said_so_after_one_call_not_after_retries(make_faulty, faulty,
                                                                    status) -> None:
    memory = make_faulty(retries=3)
    faulty.queue(Fault(status=status, message="invalid api key"))
    calls = faulty.chat_calls
    with pytest.raises(ProviderError) as raised:
        memory.add("I live in Paris", user_id="alice")
    assert faulty.chat_calls - calls == 1  # the client never retries a rejected key
    message = str(raised.value)
    assert f"HTTP {status}" in message and "api_key" in message
    assert "retries" not in message
    faulty.fail_embeddings(Fault(status=status))
    with pytest.raises(ProviderError, match=f"refused \\(HTTP {status}\\)") as raised:
        memory.search("Paris", user_id="alice")
    assert "retries" not in str(raised.value)


def test_llm_timeouts_are_retried_then_a_clear_error(make_faulty, faulty) -> None:
    memory = make_faulty(timeout=0.5)
    faulty.queue(*[Fault(status=200, delay=1.5)] * (RETRIES + 1))
    started = time.monotonic()
    with pytest.raises(ProviderError, match="(?i)time"):
        memory.add("I live in Paris", user_id="alice")
    elapsed = time.monotonic() - started
    assert faulty.chat_calls == RETRIES + 1
    assert 0.5 * (RETRIES + 1) <= elapsed < 30, elapsed  # each try times out, then it stops
    assert_nothing_written(memory, "alice", {})
    assert len(memory.pending()) == 1


def test_a_failing_reconcile_call_writes_none_of_the_facts(make_faulty, faulty) -> None:
    memory = make_faulty()
    memory.add("Lives in Paris", user_id="alice", infer=False)
    before = scope_items(memory, user_id="alice")
    # "Has a cat" needs no reconcile, "Lives in Paris now" does: the add is all or nothing
    faulty.queue(facts("Lives in Paris now", "Has a cat named Tom"),
                 *[Fault(status=500)] * (RETRIES + 1))
    with pytest.raises(ProviderError) as raised:
        memory.add("I still live in Paris. I have a cat named Tom.", user_id="alice")
    assert_nothing_written(memory, "alice", before)

    faulty.queue(facts("Lives in Paris now", "Has a cat named Tom"),
                 ops({"event": "UPDATE", "id": 0, "text": "Lives in Paris now"}))
    memory.reprocess(raised.value.pending_id)
    assert sorted(scope_items(memory, user_id="alice").values()) == [
        "Has a cat named Tom", "Lives in Paris now"]


def test_unparseable_then_valid_reply_is_re_asked_once(make_faulty, faulty) -> None:
    memory = make_faulty()
    faulty.queue("I'm sorry, I can't share that.", facts("Lives in Paris"))
    memory.add("I live in Paris", user_id="alice")
    assert faulty.chat_calls == 2
    assert list(scope_items(memory, user_id="alice").values()) == ["Lives in Paris"]


def test_a_reply_cut_by_the_token_limit_is_not_stored_half(make_faulty, faulty) -> None:
    """Was: json_repair completed the cut JSON and 'Lives in' was stored."""
    memory = make_faulty()
    faulty.cut_next_replies(1)
    faulty.queue('{"facts": [{"text": "Has a dog named Rex"}, {"text": "Lives in',
                 facts("Has a dog named Rex", "Lives in Paris"))
    memory.add("I have a dog named Rex and I live in Paris", user_id="alice")
    # re-asked (or failed with the messages kept), never the cut text
    assert "Lives in" not in scope_items(memory, user_id="alice").values()


def test_unparseable_replies_keep_the_messages_and_say_so(make_faulty, faulty) -> None:
    memory = make_faulty()
    faulty.queue("Sure! I'd be happy to help.", "<think>hmm")
    with pytest.raises(LLMResponseError) as raised:
        memory.add("I live in Paris", user_id="alice")
    assert raised.value.pending_id and "reprocess" in str(raised.value)
    assert raised.value.raw == "<think>hmm"
    assert_nothing_written(memory, "alice", {})
    faulty.queue(facts("Lives in Paris"))
    memory.reprocess(raised.value.pending_id)
    assert list(scope_items(memory, user_id="alice").values()) == ["Lives in Paris"]


@pytest.mark.parametrize("fault", [Fault(status=429), Fault(status=500), Fault(status=200, delay=1.5)],
                         ids=["429", "500", "timeout"])
def test_embedder_faults_are_retried_then_a_clear_error(make_faulty, faulty, fault) -> None:
    memory = make_faulty(timeout=0.5)
    faulty.fail_embeddings(*[fault] * (RETRIES + 1))
    faulty.queue(facts("Lives in Paris"))
    calls = faulty.embedding_calls
    with pytest.raises(ProviderError, match=f"after {RETRIES} retries") as raised:
        memory.add("I live in Paris", user_id="alice")
    assert faulty.embedding_calls - calls == RETRIES + 1
    assert_nothing_written(memory, "alice", {})
    faulty.queue(facts("Lives in Paris"))
    memory.reprocess(raised.value.pending_id)
    assert list(scope_items(memory, user_id="alice").values()) == ["Lives in Paris"]


def test_embedder_fault_within_the_budget_is_invisible(make_faulty, faulty) -> None:
    memory = make_faulty(retries=2)
    faulty.fail_embeddings(Fault(status=429), Fault(status=503))
    memory.add("I live in Paris", user_id="alice", infer=False)
    assert list(scope_items(memory, user_id="alice").values()) == ["I live in Paris"]


def test_embedder_fault_during_update_and_search_changes_nothing(make_faulty, faulty) -> None:
    memory = make_faulty()
    [added] = memory.add("I live in Paris", user_id="alice", infer=False).results
    faulty.fail_embeddings(*[Fault(status=500)] * (RETRIES + 1))
    with pytest.raises(ProviderError):
        memory.update(added.id, text="I live in Rome")
    assert memory.get(added.id).memory == "I live in Paris"
    assert [h.event for h in memory.history(added.id)] == [Event.ADD]
    faulty.fail_embeddings(*[Fault(status=500)] * (RETRIES + 1))
    with pytest.raises(ProviderError):
        memory.search("where?", user_id="alice")
    assert not +consistency(memory).counts


def test_embedder_down_while_replaying_the_journal_then_back(make_faulty, faulty,
                                                           tmp_path) -> None:
    data = tmp_path / "replay"
    first = make_faulty(data_dir=data)
    first.add("I have a dog named Rex", user_id="alice", infer=False)
    # what a process killed between journaling and writing leaves behind
    new_id = "0b6f3b4e-8a57-4bfb-9a4e-3c1f0f3c2a10"
    payload = {"data": "I have a cat named Tom", "hash": "h", "user_id": "alice",
               "created_at": "2026-01-01T00:00:00+00:00"}
    first.async_memory.history_store.journal(
        [JournalOp(new_id, Event.ADD, None, payload["data"], payload)], {"user_id": "alice"})
    first.close()

    second = make_faulty(data_dir=data, open=False)
    faulty.fail_embeddings(*[Fault(status=503)] * (RETRIES + 1))
    with pytest.raises(ProviderError):
        second.get_all(user_id="alice")  # the replay needs the embedder: a clear error
    assert len(second.async_memory.history_store.unapplied()) == 1  # still journaled
    items = sorted(m.memory for m in second.get_all(user_id="alice"))  # the embedder is back
    assert items == ["I have a cat named Tom", "I have a dog named Rex"]
    assert second.async_memory.history_store.unapplied() == []
    assert not +consistency(second).counts


def test_an_add_that_fails_while_replaying_the_journal_keeps_its_messages(
        make_faulty, faulty, monkeypatch) -> None:
    """Was: open() ran before the messages were kept: ProviderError with pending_id=None."""
    from mem_integrations import StoreError

    memory = make_faulty()
    store = memory.async_memory.store
    real_upsert = store.upsert
    failures = [1]

    def flaky(points: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise StoreError("the vector store is unavailable")
        real_upsert(points)

    monkeypatch.setattr(store, "upsert", flaky)
    faulty.queue(facts("Lives in Paris"))
    with pytest.raises(StoreError):  # journaled; replayed by the next call
        memory.add("I live in Paris", user_id="alice")
    faulty.fail_embeddings(*[Fault(status=503)] * (RETRIES + 1))  # the replay embeds
    faulty.queue(facts("Has a cat named Tom"))
    with pytest.raises(ProviderError) as raised:
        memory.add("I have a cat named Tom", user_id="alice")
    assert raised.value.pending_id, str(raised.value)
    assert [p.messages[0]["content"] for p in memory.pending()] == ["I have a cat named Tom"]


def test_an_add_that_meets_a_store_fault_while_replaying_keeps_its_messages(
        make_faulty, faulty, monkeypatch) -> None:
    from mem_integrations import StoreError

    memory = make_faulty()
    store = memory.async_memory.store
    real_upsert = store.upsert
    failures = [2]  # the first add's write, then the replay of it by the second add

    def flaky(points: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise StoreError("the vector store is unavailable")
        real_upsert(points)

    monkeypatch.setattr(store, "upsert", flaky)
    faulty.queue(facts("Lives in Paris"))
    with pytest.raises(StoreError):  # journaled; replayed by the next call
        memory.add("I live in Paris", user_id="alice")
    with pytest.raises(StoreError) as raised:  # the replay fails: this add never started
        memory.add("I have a cat named Tom", user_id="alice")
    kept = {p.id: p for p in memory.pending()}
    assert getattr(raised.value, "pending_id", None) in kept, str(raised.value)
    faulty.queue(facts("Has a cat named Tom"))
    memory.reprocess(raised.value.pending_id)  # the store is back: replay, then the add
    assert sorted(scope_items(memory, user_id="alice").values()) == [
        "Has a cat named Tom", "Lives in Paris"]
