"""Relations carry event time like memories: valid from the add that learned them, closed
(not removed) when superseded, read now or as of a time; on the embedded graph and on a
real Bolt server, through a replay and a repair."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.graph.test_graph_memory import graph_reply, triples

T1 = datetime(2023, 5, 8, tzinfo=UTC)
T2 = datetime(2024, 1, 20, tzinfo=UTC)


def _moved(memory, alice, llm) -> None:
    llm.queue(graph_reply(["Lives in Paris"], [("user", "lives_in", "Paris")]))
    memory.add("I live in Paris", user_id=alice, timestamp=T1)
    llm.queue(graph_reply(["Lives in Berlin"], [("user", "lives_in", "Berlin")]),
              {"operations": [{"event": "UPDATE", "id": 0, "text": "Lives in Berlin"}],
               "invalidate": [0]})
    memory.add("I moved to Berlin", user_id=alice, timestamp=T2)


def test_relations_are_read_now_or_as_of_a_time(make_graph_memory, uid, llm) -> None:
    memory = make_graph_memory()
    alice = uid("alice")
    _moved(memory, alice, llm)
    assert triples(memory.get_all(user_id=alice).relations) == [("user", "lives_in", "Berlin")]
    assert triples(memory.get_all(user_id=alice, as_of="2023-09-01").relations) == \
        [("user", "lives_in", "Paris")]
    assert memory.get_all(user_id=alice, as_of="2020-01-01").relations == []
    then = memory.search("where does the user live?", user_id=alice, as_of="2023-09-01")
    assert triples(then.relations) == [("user", "lives_in", "Paris")]
    assert [r.memory for r in then] == ["Lives in Paris"]
    now = memory.search("where does the user live?", user_id=alice)
    assert triples(now.relations) == [("user", "lives_in", "Berlin")]
    [paris, berlin] = sorted(memory.async_memory.graph.all_relations(
        {"user_id": alice}, as_of="2030-01-01") + memory.async_memory.graph.all_relations(
        {"user_id": alice}, as_of="2023-09-01"), key=lambda r: r.target)[::-1]
    assert (berlin.target, berlin.valid_from[:10]) == ("Berlin", "2024-01-20")
    assert (paris.target, paris.valid_from[:10], paris.valid_to[:10]) == \
        ("Paris", "2023-05-08", "2024-01-20")


def test_relation_validity_survives_a_repair(make_graph_memory, uid, llm) -> None:
    memory = make_graph_memory()
    alice = uid("alice")
    _moved(memory, alice, llm)
    memory.repair()
    assert triples(memory.get_all(user_id=alice).relations) == [("user", "lives_in", "Berlin")]
    assert triples(memory.get_all(user_id=alice, as_of="2023-09-01").relations) == \
        [("user", "lives_in", "Paris")]
