"""The journal's vocabulary: every typed operation is kept as a history row and read back
as itself, rows are laid out as earlier versions wrote them (so their data directories
replay), and a row that records nothing known is an error, not a silent skip."""

from __future__ import annotations

import pytest

from mem_integrations.core.graph.base import EntityRecord, RelationRecord
from mem_integrations.core.history.base import JournalOp
from mem_integrations.core.journal import (
    MemoryClose,
    MemoryDelete,
    MemoryUpsert,
    RelationAdd,
    RelationInvalidate,
    ScopeWipe,
    decode,
)
from mem_integrations.core.models import Event

ALICE = {"user_id": "alice"}
PAYLOAD = {"data": "Lives in Paris", "hash": "h1", "user_id": "alice",
           "created_at": "2026-01-01T00:00:00+00:00"}
USER = EntityRecord("e-user", "user", "person", {"user_id": "alice", "run_id": "r1"})
PARIS = EntityRecord("e-paris", "Paris", "city", ALICE)
LIVES_IN = RelationRecord("r1", "e-user", "user", "lives_in", "e-paris", "Paris", scope=ALICE)

OPERATIONS = [
    MemoryUpsert("m1", Event.ADD, None, PAYLOAD),
    MemoryUpsert("m1", Event.UPDATE, "Lived in Lyon", PAYLOAD),
    MemoryDelete("m2", "Likes tea"),
    RelationAdd(LIVES_IN, USER, PARIS),
    RelationInvalidate("r0", "user --lives_in--> Lyon"),
    ScopeWipe(ALICE, "wipe:1"),
]
CLOSED = {**PAYLOAD, "valid_to": "2026-02-01T00:00:00+00:00"}
# event time (core.validity): a closed memory, and relations with their times
EVENT_TIME_OPERATIONS = [
    MemoryClose("m3", CLOSED),
    RelationAdd(RelationRecord("r2", "e-user", "user", "lives_in", "e-paris", "Paris",
                               scope=ALICE, valid_from="2023-05-08T00:00:00+00:00"),
                USER, PARIS),
    RelationInvalidate("r1", "user --lives_in--> Paris", "2024-01-20T00:00:00+00:00"),
]


@pytest.mark.parametrize("op", OPERATIONS + EVENT_TIME_OPERATIONS,
                         ids=lambda op: type(op).__name__)
def test_every_operation_reads_back_as_itself(op) -> None:
    assert decode(op.row()) == op


def test_rows_keep_the_layout_earlier_versions_wrote() -> None:
    rows = [op.row() for op in OPERATIONS]
    assert [(r.memory_id, r.event, r.old_memory, r.new_memory) for r in rows] == [
        ("m1", Event.ADD, None, "Lives in Paris"),
        ("m1", Event.UPDATE, "Lived in Lyon", "Lives in Paris"),
        ("m2", Event.DELETE, "Likes tea", None),
        ("r1", Event.ADD, None, "user --lives_in--> Paris"),
        ("r0", Event.DELETE, "user --lives_in--> Lyon", None),
        ("wipe:1", Event.DELETE, None, None)]
    assert [r.payload for r in rows] == [
        PAYLOAD, PAYLOAD, None,
        {"kind": "relation", "relation": "lives_in", "scope": ALICE,
         "source": {"id": "e-user", "name": "user", "type": "person",
                    "scope": {"user_id": "alice", "run_id": "r1"}},
         "target": {"id": "e-paris", "name": "Paris", "type": "city", "scope": ALICE}},
        {"kind": "invalidate"},
        {"kind": "wipe_scope", "scope": ALICE}]


def test_event_time_rows() -> None:
    close, add, invalidate = (op.row() for op in EVENT_TIME_OPERATIONS)
    # a close shows in the history as the DELETE the reconcile step decided; the memory
    # stays, its payload replayed as the point
    assert (close.event, close.old_memory, close.new_memory) == \
        (Event.DELETE, "Lives in Paris", None)
    assert close.payload == {"kind": "close", "point": CLOSED}
    assert EVENT_TIME_OPERATIONS[0].texts() == {"m3": "Lives in Paris"}
    assert add.payload["valid_from"] == "2023-05-08T00:00:00+00:00"
    assert invalidate.payload == {"kind": "invalidate", "valid_to": "2024-01-20T00:00:00+00:00"}


def test_a_relation_row_from_before_entity_scopes_gives_its_ends_the_relation_scope() -> None:
    row = JournalOp("r1", Event.ADD, None, "user --lives_in--> Paris", {
        "kind": "relation", "relation": "lives_in", "scope": ALICE,
        "source": {"id": "e-user", "name": "user", "type": "person"},
        "target": {"id": "e-paris", "name": "Paris", "type": "city"}})
    op = decode(row)
    assert isinstance(op, RelationAdd)
    assert op.source.scope == op.target.scope == ALICE
    assert op.relation == LIVES_IN
    assert op.texts() == {"e-user": "user", "e-paris": "Paris"}


def test_what_a_replay_embeds() -> None:
    assert [op.texts() for op in OPERATIONS] == [
        {"m1": "Lives in Paris"}, {"m1": "Lives in Paris"}, {},
        {"e-user": "user", "e-paris": "Paris"}, {}, {}]


@pytest.mark.parametrize("row", [
    JournalOp("x", Event.ADD, None, "x", {"kind": "teleport"}),
    JournalOp("x", Event.ADD, None, "x", None),
    JournalOp("x", Event.UPDATE, None, "x", {"hash": "no text"}),
])
def test_a_row_that_records_no_known_operation_is_an_error(row) -> None:
    with pytest.raises(ValueError, match="no known operation"):
        decode(row)


def test_a_memory_upsert_is_an_add_or_an_update() -> None:
    with pytest.raises(ValueError):
        MemoryUpsert("m1", Event.DELETE, None, PAYLOAD)
