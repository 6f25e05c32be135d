"""Relations carry event time like memories: valid from the add that learned them, closed
(not removed) when superseded, read now or as of a time; on the embedded graph and on a
real Bolt server, through a replay and a repair."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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


@pytest.mark.parametrize("graph_backend", ["ladybug"])  # a Bolt graph declares no schema
def test_a_graph_made_before_event_time_opens_and_gains_it(make_graph_memory, tmp_path,
                                                            uid) -> None:
    """An embedded graph whose relation table has no valid_from / valid_to columns (every
    version before event time) opens; its edges count from created_at to invalidated_at."""
    import ladybug

    data = tmp_path / "old"
    data.mkdir()
    db = ladybug.Database(str(data / "graph"))
    conn = ladybug.Connection(db)
    conn.execute("CREATE NODE TABLE MemIntEntity(id STRING PRIMARY KEY, name STRING, "
                 "name_key STRING, type STRING, user_id STRING, agent_id STRING, "
                 "run_id STRING, mentions INT64, created_at STRING, updated_at STRING, "
                 "embedding FLOAT[384])")
    conn.execute("CREATE REL TABLE MEMINT_REL(FROM MemIntEntity TO MemIntEntity, id STRING, "
                 "relation STRING, valid BOOLEAN, user_id STRING, agent_id STRING, "
                 "run_id STRING, created_at STRING, updated_at STRING, "
                 "invalidated_at STRING)")
    alice = uid("alice")
    for key, name in (("a", "user"), ("b", "Paris")):
        conn.execute("CREATE (:MemIntEntity {id: $id, name: $name, name_key: $key, "
                     "type: 'entity', user_id: $user, mentions: 1, created_at: $t, "
                     "updated_at: $t, embedding: $v})",
                     {"id": key, "name": name, "key": name.lower(), "user": alice,
                      "t": "2023-01-01T00:00:00+00:00", "v": [0.1] * 384})
    conn.execute("MATCH (a:MemIntEntity {id: 'a'}), (b:MemIntEntity {id: 'b'}) "
                 "CREATE (a)-[:MEMINT_REL {id: 'r', relation: 'lives_in', valid: false, "
                 "user_id: $user, created_at: '2023-01-01T00:00:00+00:00', "
                 "updated_at: '2024-01-01T00:00:00+00:00', "
                 "invalidated_at: '2024-01-01T00:00:00+00:00'}]->(b)", {"user": alice})
    conn.close()
    db.close()
    graph = make_graph_memory(offline=True, data_dir=data).async_memory.graph
    graph.open(384)
    assert graph.all_relations({"user_id": alice}) == []
    [old] = graph.all_relations({"user_id": alice}, as_of="2023-06-01T00:00:00+00:00")
    assert (old.target, old.valid_from, old.valid_to) == (
        "Paris", "2023-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00")
    assert graph.all_relations({"user_id": alice}, as_of="2024-06-01T00:00:00+00:00") == []
