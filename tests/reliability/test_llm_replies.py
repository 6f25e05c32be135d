"""Unparseable, truncated, wrongly typed or hallucinating LLM replies (property-based):
`add` either writes exactly what it reports, or raises a typed error having written
nothing and kept the messages for `reprocess` — never a stray exception, never a partial
write, never a memory of another scope touched."""

from __future__ import annotations

import os
import uuid
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings

from mem_integrations import Event, LLMResponseError, MemoryLayerError, ProviderError
from mem_integrations.core.pipeline.schema import read_decisions
from mem_integrations.core.records import content_hash
from tests.conftest import facts, ops
from tests.reliability.support import (
    consistency,
    extraction_payloads,
    reconcile_payloads,
    replies,
    schema_name,
    scope_items,
)

SEEDS = ["Lives in Paris", "Likes black tea", "Has a dog named Rex"]
SAID = "I moved to Berlin last month, and these days I like green tea."
# `python -m stress.run` runs these with many more examples and a random seed.
FUZZ = settings(max_examples=int(os.environ.get("RELIABILITY_EXAMPLES", "25")), deadline=None,
                derandomize=os.environ.get("RELIABILITY_RANDOM") != "1",
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
EDGE_ONLY = pytest.mark.parametrize("backend", ["qdrant_edge"])


def scripted(llm: Any, *, extraction: list[Any] | None = None,
             reconcile: list[Any] | None = None) -> None:
    """Answer extraction and reconcile calls from their own queues; when a queue is
    empty, a well-formed reply (the two facts of SAID; ADD both)."""
    queues = {"extraction": deque(extraction or []), "reconcile": deque(reconcile or [])}

    def responder(body: dict[str, Any]) -> Any:
        step = schema_name(body)
        queue = queues.get(step)
        if queue:
            return queue.popleft()
        if step == "extraction":
            return facts("Lives in Berlin", "Likes green tea")
        return ops({"event": "ADD", "text": "Lives in Berlin"},
                   {"event": "ADD", "text": "Likes green tea"})

    llm.responder = responder


def seeded(memory: Any) -> tuple[str, str]:
    """A fresh user with the SEEDS, and a second user with the same memories."""
    user = f"fz-{uuid.uuid4().hex[:10]}"
    for who in (user, f"{user}-other"):
        memory.add([{"role": "user", "content": s} for s in SEEDS], user_id=who, infer=False)
    return user, f"{user}-other"


def replayed(before: dict[str, str], events: list[Any]) -> dict[str, str]:
    after = dict(before)
    for e in events:
        if e.event in (Event.ADD, Event.UPDATE):
            after[e.id] = e.memory
        elif e.event is Event.DELETE:
            after.pop(e.id, None)
    return after


def duplicate_hashes(items: dict[str, str]) -> set[str]:
    hashes = [content_hash(t) for t in items.values()]
    return {h for h in hashes if hashes.count(h) > 1}


def stores_disagree(memory: Any) -> Any:
    """History, journal and vector store rules (duplicates included) over the whole memory."""
    return consistency(memory)


def check_outcome(memory: Any, llm: Any, user: str, other: str, before: dict[str, str],
                  other_before: dict[str, str], outcome: Any) -> None:
    after = scope_items(memory, user_id=user)
    assert scope_items(memory, user_id=other) == other_before, "another user's memories changed"
    if isinstance(outcome, BaseException):
        exc = outcome
        event(f"raised {type(exc).__name__}")
        assert isinstance(exc, (LLMResponseError, ProviderError)), \
            f"untyped error {type(exc).__name__}: {exc}"
        assert after == before, "a failed add wrote something"
        assert len(memory.async_memory.history_store.unapplied()) == 0
        kept = {p.id: p for p in memory.pending()}
        pending_id = exc.pending_id
        assert pending_id in kept, "the messages were not kept for reprocess"
        assert [m["content"] for m in kept[pending_id].messages] == [SAID]
        assert not +stores_disagree(memory).counts
        # The kept add goes through once the LLM answers properly.
        scripted(llm)
        memory.reprocess(pending_id)
        assert pending_id not in {p.id for p in memory.pending()}
        assert sorted(scope_items(memory, user_id=user).values()) == sorted(
            {*before.values(), "Lives in Berlin", "Likes green tea"})
    else:
        events = outcome.results
        event("wrote " + (", ".join(sorted({e.event.value for e in events})) or "nothing"))
        assert after == replayed(before, events), "the stores differ from what add reported"
        for e in events:
            if e.event in (Event.UPDATE, Event.DELETE):
                assert e.id in before, "an UPDATE/DELETE touched a memory not shown"
            assert e.event is Event.DELETE or e.memory.strip()
        findings = stores_disagree(memory)
        assert not duplicate_hashes(after), f"the same content twice: {after}"
        assert not +findings.counts, findings.as_dict()
        assert user not in {p.scope.get("user_id") for p in memory.pending()}
        assert len(memory.async_memory.history_store.unapplied()) == 0


def attempt(memory: Any, user: str) -> Any:
    try:
        return memory.add(SAID, user_id=user)
    except MemoryLayerError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - judged by check_outcome
        return exc


@EDGE_ONLY
@FUZZ
@given(first=replies(extraction_payloads), second=replies(extraction_payloads))
def test_any_extraction_reply_writes_what_it_reports_or_nothing(one_memory, llm, first,
                                                                second) -> None:
    memory = one_memory()
    user, other = seeded(memory)
    before, other_before = scope_items(memory, user_id=user), scope_items(memory, user_id=other)
    scripted(llm, extraction=[first, second])
    check_outcome(memory, llm, user, other, before, other_before, attempt(memory, user))


@EDGE_ONLY
@FUZZ
@given(first=replies(reconcile_payloads), second=replies(reconcile_payloads))
def test_any_reconcile_reply_writes_what_it_reports_or_nothing(one_memory, llm, first,
                                                               second) -> None:
    memory = one_memory()
    user, other = seeded(memory)
    before, other_before = scope_items(memory, user_id=user), scope_items(memory, user_id=other)
    scripted(llm, reconcile=[first, second])
    check_outcome(memory, llm, user, other, before, other_before, attempt(memory, user))


# --- regressions: core bugs these properties found (fixed in core since) ---------------------


@EDGE_ONLY
def test_non_list_categories_in_an_extraction_reply_are_tolerated(make_memory, llm) -> None:
    """Was: Fact._listify iterated `categories: 5` and add raised a bare TypeError."""
    memory = make_memory()
    llm.queue({"facts": [{"text": "Lives in Berlin", "categories": 5},
                         {"text": "Likes green tea", "categories": True}]})
    try:
        result = memory.add(SAID, user_id="alice")
    except MemoryLayerError:
        assert memory.get_all(user_id="alice").results == []  # typed, nothing written: fine
        return
    assert {e.memory for e in result.results} <= {"Lives in Berlin", "Likes green tea"}


def test_unicode_digit_ids_in_a_reconcile_reply_are_dropped() -> None:
    """Was: int('²') (str.isdigit() accepts it) raised a bare ValueError."""
    decisions = read_decisions({"operations": [{"event": "DELETE", "id": "²"}],
                                "invalidate": ["²", "1"]})
    assert decisions.invalidate == [1]


@EDGE_ONLY
def test_llm_update_to_the_text_of_another_memory_makes_no_duplicate(make_memory, llm) -> None:
    """Was: hash de-duplication covered ADD only; this UPDATE stored the content twice."""
    memory = make_memory()
    memory.add([{"role": "user", "content": s} for s in SEEDS], user_id="alice", infer=False)
    llm.queue(facts("Likes green tea"),
              # hallucinated: rewrite "Likes black tea" into the text of "Lives in Paris"
              ops({"event": "UPDATE", "id": 0, "text": "Lives in Paris"}))
    memory.add("I like green tea", user_id="alice")
    texts = [m.memory for m in memory.get_all(user_id="alice")]
    assert len(texts) == len({content_hash(t) for t in texts}), texts


@EDGE_ONLY
def test_llm_add_of_a_stored_text_that_was_not_shown_makes_no_duplicate(make_memory,
                                                                       llm) -> None:
    """Was: an ADD of a stored text that was not a neighbour was added again."""
    memory = make_memory()
    memory.add([{"role": "user", "content": s} for s in SEEDS], user_id="alice", infer=False)
    llm.queue(facts("Likes green tea"),
              ops({"event": "ADD", "text": "Has a dog named Rex"},   # not a neighbour of tea
                  {"event": "ADD", "text": "Likes green tea"}))
    memory.add("I like green tea", user_id="alice")
    texts = [m.memory for m in memory.get_all(user_id="alice")]
    assert len(texts) == len({content_hash(t) for t in texts}), texts
