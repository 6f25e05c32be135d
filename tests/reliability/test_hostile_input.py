"""Input the stores cannot hold is refused at the edge, typed, with nothing written — on
every backend. The worst case found from outside: ~1 KB of metadata nested 127+ levels
passed the size check, then broke qdrant-edge's payload decoder for every user, and the
embedded store refused to open after a restart."""

from __future__ import annotations

import math

import pytest

from mem_integrations import InvalidInputError, Memory
from mem_integrations.core.models import PutItem


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


POISON = [
    ("metadata nested 130 deep (the payload decoder's limit is 128)", {"metadata": nested(130)}),
    ("metadata nested 10,000 deep (Python's recursion limit)", {"metadata": nested(10_000)}),
    ("metadata nested just past our own limit", {"metadata": nested(17)}),
    ("a lone surrogate in metadata", {"metadata": {"note": "\ud800"}}),
    ("a lone surrogate in a nested metadata key", {"metadata": {"a": {"\udfff": 1}}}),
    ("an integer beyond 64 bits", {"metadata": {"big": 2**70}}),
    ("a NUL in the text", {"messages": "I live in\x00 Paris"}),
    ("a lone surrogate in the text", {"messages": "I live in \ud800 Paris"}),
    ("a lone surrogate in user_id", {"user_id": "al\ud800ice"}),
    ("a 5 MB user_id", {"user_id": "a" * 5_000_000}),
    ("a 1 MB role", {"messages": [{"role": "u" * 1_000_000, "content": "hi there"}]}),
    ("a non-string prompt", {"prompt": 123}),
    ("a lone surrogate in the prompt", {"prompt": "Only \ud800 food"}),
]


@pytest.mark.parametrize("case,change", POISON, ids=[c for c, _ in POISON])
def test_add_refuses_what_the_stores_cannot_hold(make_memory, case, change) -> None:
    memory = make_memory(offline=True)
    call = {"messages": "I live in Paris", "user_id": "alice", **change}
    with pytest.raises(InvalidInputError):
        memory.add(call.pop("messages"), **call)
    assert memory.pending() == []  # nothing kept that could never succeed
    assert memory.get_all(user_id="alice").results == []


def test_every_other_write_path_refuses_poisoned_metadata(make_memory) -> None:
    memory = make_memory(offline=True)
    [kept] = memory.add("I live in Paris", user_id="alice").results
    with pytest.raises(InvalidInputError, match="nested"):
        memory.update(kept.id, metadata=nested(200))
    with pytest.raises(InvalidInputError, match="nested"):
        memory.put_many([PutItem(id="7e2d1a5c-8f0e-4a58-9c61-0c3f1c8f9a01", text="x",
                                 user_id="alice", metadata=nested(200))])
    assert memory.get(kept.id).metadata is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.5"])
def test_search_refuses_a_threshold_that_is_not_a_finite_number(make_memory, bad) -> None:
    memory = make_memory(offline=True)
    with pytest.raises(InvalidInputError, match="finite"):
        memory.search("where?", user_id="alice", threshold=bad)


def test_search_refuses_unsafe_queries(make_memory) -> None:
    memory = make_memory(offline=True)
    for query in ("\ud800", "x" * 30_000, "a\x00b"):
        with pytest.raises(InvalidInputError):
            memory.search(query, user_id="alice")


def test_after_refusing_poison_every_user_survives_a_restart(make_memory, tmp_path) -> None:
    memory = make_memory(offline=True)
    for user in ("alice", "bob", "carol"):
        memory.add(f"My name is {user} and I like tea.", user_id=user)
    with pytest.raises(InvalidInputError):
        memory.add("I like coffee.", user_id="mallory", metadata=nested(130))
    memory.close()
    reopened: Memory = make_memory(offline=True)
    for user in ("alice", "bob", "carol"):
        assert [m.memory for m in reopened.search("tea", user_id=user)] == \
            [f"My name is {user} and I like tea"]
    assert reopened.get_all(user_id="mallory").results == []


def test_the_limits_leave_ordinary_metadata_alone(make_memory) -> None:
    memory = make_memory(offline=True)
    metadata = {"topic": "health", "tags": ["a", "b"], "score": 0.5, "n": 2**62,
                "nested": nested(15), "note": "中文 ok", "ok": None}
    [kept] = memory.add("I am allergic to peanuts.", user_id="alice", metadata=metadata).results
    assert memory.get(kept.id).metadata == metadata


def nested_filter(depth: int) -> dict:
    value: dict = {"topic": "x"}
    for _ in range(depth):
        value = {"AND": [value]}
    return value


@pytest.mark.parametrize("filters", [nested_filter(10_000), nested_filter(9),
                                     {"n": 2**70}, {"n": {"in": [1, -(2**64)]}},
                                     {"note": "\ud800"}],
                         ids=["10,000 deep", "just past the limit", "an integer beyond 64 bits",
                              "a huge integer in a list", "a lone surrogate"])
def test_filters_the_stores_cannot_hold_are_refused_typed(make_memory, filters) -> None:
    memory = make_memory(offline=True)
    memory.add("I live in Paris.", user_id="alice")
    for call in (lambda: memory.search("Paris", user_id="alice", filters=filters),
                 lambda: memory.get_all(user_id="alice", filters=filters)):
        with pytest.raises(InvalidInputError):
            call()
    # still serving, and ordinary nesting is fine
    assert memory.get_all(user_id="alice", filters=nested_filter(4)).results == []
    assert len(memory.search("Paris", user_id="alice").results) == 1


@pytest.mark.parametrize("items", [[1], ["not an item"], [{"id": "x", "text": "y"}]])
def test_put_many_refuses_what_is_not_a_put_item(make_memory, items) -> None:
    memory = make_memory(offline=True)
    with pytest.raises(InvalidInputError, match="PutItem"):
        memory.put_many(items)
