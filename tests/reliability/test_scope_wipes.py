"""Crashes inside scope-wide operations: `delete_all` with graph memory and `reset`. Each
test SIGKILLs a real process inside the operation and reopens its data directory: the
stores must agree again (the graph wipe is journaled with the memories' DELETEs; an
interrupted reset is finished by the next open; the embedded shard is renamed before it
is removed). These found the gaps fixed in core by "Reliability fixes found by the fault,
concurrency and crash tests"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from stress.common import graph_relations
from tests.reliability.support import consistency, crash_in


@pytest.fixture
def reopened(tmp_path: Path) -> Any:
    opened: list[Memory] = []

    def reopen(scenario: str) -> Memory:
        memory = crash_in(tmp_path, scenario)
        opened.append(memory)
        return memory

    yield reopen
    for memory in opened:
        memory.close()


def test_a_crash_inside_delete_all_leaves_no_relation_behind(reopened) -> None:
    """Was: the graph wipe ran outside the journal; killed in between, all relations stayed."""
    memory = reopened("delete_all_graph")
    everything = memory.get_all(user_id="alice")
    assert everything.results == []  # the journaled part was replayed
    assert everything.relations == [], "the graph half of delete_all was never finished"


def test_a_crash_inside_reset_leaves_no_history_of_dropped_memories(reopened) -> None:
    """Was: killed between dropping the stores and clearing history: history of memories no store held."""
    memory = reopened("reset_history")
    assert memory.get_all(user_id="alice").results == []
    assert not +consistency(memory).counts


def test_a_crash_while_reset_removes_the_store_leaves_all_or_nothing(reopened) -> None:
    """Was: a half-deleted qdrant-edge shard loaded without error and served 1 of 14 memories."""
    memory = reopened("reset_rmtree")
    left = memory.get_all(user_id="alice").results
    assert len(left) in (0, 14), f"{len(left)} of 14 memories survived"
    assert not +consistency(memory).counts


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_delete_all_closes_the_history_of_its_relations(make_memory) -> None:
    """Was: delete_all removed relations without a DELETE in their history."""
    memory = make_memory(offline=True, graph_store={"provider": "ladybug"})
    memory.add("I live in Paris. I work at Acme.", user_id="alice")
    relations = memory.run(_relations(memory))
    assert len(relations) == 2
    memory.delete_all(user_id="alice")
    for relation in relations:
        events = [h.event.value for h in memory.history(relation["id"])]
        assert events[-1] == "DELETE", (relation, events)


async def _relations(memory: Memory) -> list[dict[str, Any]]:
    import asyncio

    return await asyncio.to_thread(graph_relations, memory.async_memory.graph)
