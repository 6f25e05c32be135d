"""Graph memory on the embedded graph and on a real Bolt server."""

from __future__ import annotations

import pytest

from mem_integrations import Event
from mem_integrations.core.pipeline.offline import relation_of, split_sentences
from mem_integrations.core.pipeline.prompts import read_numbered
from tests.conftest import facts


def graph_reply(fact_texts, relations, entities=()):
    reply = facts(*fact_texts)
    reply["entities"] = [{"name": n, "type": t} for n, t in entities]
    reply["relations"] = [{"source": s, "relation": r, "target": t} for s, r, t in relations]
    return reply


def triples(relations):
    return sorted((r.source, r.relationship, r.destination) for r in relations)


def test_offline_graph_supersedes_a_relation_after_a_move(make_graph_memory, uid, llm):
    memory = make_graph_memory(offline=True)
    alice = uid("alice")
    first = memory.add("I live in Paris. My sister is Anna.", user_id=alice)
    assert triples(first.relations) == [("user", "lives_in", "Paris"), ("user", "sister", "Anna")]
    moved = memory.add("I moved to Berlin last month.", user_id=alice)
    assert sorted((r.relationship, r.destination, r.event.value) for r in moved.relations) == [
        ("lives_in", "Berlin", "ADD"), ("lives_in", "Paris", "DELETE")]
    assert triples(memory.get_all(user_id=alice).relations) == [
        ("user", "lives_in", "Berlin"), ("user", "sister", "Anna")]
    assert llm.chat_calls == 0


def test_llm_calls_per_add_are_the_same_with_the_graph_on(make_graph_memory, uid, llm, tmp_path):
    def scenario(memory, user):
        llm.queue(graph_reply(["Lives in Paris"], [("user", "lives_in", "Paris")]))
        memory.add("I live in Paris", user_id=user)
        new_information = llm.chat_calls
        llm.queue(graph_reply(["Lives in Berlin"], [("user", "lives_in", "Berlin")]),
                  {"operations": [{"event": "UPDATE", "id": 0, "text": "Lives in Berlin"}],
                   "invalidate": [0]})
        memory.add("I moved to Berlin", user_id=user)
        return new_information, llm.chat_calls - new_information

    off = scenario(make_graph_memory(graph=False, data_dir=tmp_path / "off"), uid("off"))
    llm.reset_counts()
    on_memory = make_graph_memory(data_dir=tmp_path / "on")
    on = scenario(on_memory, uid("on"))
    assert off == on == (1, 2)
    # the extraction call asked for entities and relations in the same reply
    assert "relations" in llm.calls[0].body["response_format"]["json_schema"]["schema"]["properties"]
    reconcile = llm.calls[-1].user
    assert "RELATIONS" in reconcile and "user --lives_in--> Paris" in reconcile
    assert triples(on_memory.get_all(user_id=uid("on")).relations) == [
        ("user", "lives_in", "Berlin")]


def test_search_returns_relations_without_an_llm_call(make_graph_memory, uid, llm):
    memory = make_graph_memory()
    alice = uid("alice")
    llm.queue(graph_reply(
        ["Alice is Sensei's daughter", "Sensei teaches karate in Osaka"],
        [("Alice", "daughter_of", "Sensei"), ("Sensei", "teaches", "karate"),
         ("Sensei", "lives_in", "Osaka")],
        [("Alice", "person"), ("Sensei", "person"), ("karate", "sport"), ("Osaka", "city")]))
    memory.add("Alice is Sensei's daughter. Sensei teaches karate in Osaka.", user_id=alice)
    calls = llm.chat_calls
    found = memory.search("Who is Sensei?", user_id=alice)
    assert llm.chat_calls == calls
    assert ("Alice", "daughter_of", "Sensei") in triples(found.relations)
    assert {r.source for r in found.relations} <= {"Alice", "Sensei"}
    assert all(r.score and r.score > 0 for r in found.relations)
    assert memory.search("Who is Sensei?", user_id=uid("bob")).relations == []


def test_entities_resolve_by_name_within_the_scope(make_graph_memory, uid, llm):
    memory = make_graph_memory()
    alice = uid("alice")
    llm.queue(graph_reply(["Bob likes jazz"], [("Bob", "likes", "jazz")]))
    memory.add("Bob likes jazz", user_id=alice)
    llm.queue(graph_reply(["Bob plays the BASS"], [("bob", "plays", "bass")]),
              {"operations": [{"event": "ADD", "id": None, "text": "Bob plays the BASS"}],
               "invalidate": []})
    memory.add("bob plays the bass", user_id=alice)
    relations = memory.get_all(user_id=alice).relations
    assert {r.source for r in relations} == {"Bob"}  # one entity, named as first seen
    assert triples(relations) == [("Bob", "likes", "jazz"), ("Bob", "plays", "bass")]


def test_repeated_relation_is_not_added_twice(make_graph_memory, uid, llm):
    memory = make_graph_memory()
    alice = uid("alice")
    llm.queue(graph_reply(["Likes jazz"], [("user", "likes", "jazz")]))
    memory.add("I like jazz", user_id=alice)
    llm.queue(graph_reply(["Enjoys jazz a lot"], [("user", "likes", "jazz")]),
              {"operations": [{"event": "ADD", "id": None, "text": "Enjoys jazz a lot"}],
               "invalidate": []})
    memory.add("I enjoy jazz a lot", user_id=alice)
    assert triples(memory.get_all(user_id=alice).relations) == [("user", "likes", "jazz")]


def test_invalidated_relation_has_history(make_graph_memory, uid, llm):
    memory = make_graph_memory()
    alice = uid("alice")
    llm.queue(graph_reply(["Works at Acme"], [("user", "works_at", "Acme")]))
    memory.add("I work at Acme", user_id=alice)
    llm.queue(graph_reply(["Works at Globex"], [("user", "works_at", "Globex")]),
              {"operations": [{"event": "UPDATE", "id": 0, "text": "Works at Globex"}],
               "invalidate": [0, 0, 99]})  # repeated and unknown ids are ignored
    result = memory.add("I now work at Globex", user_id=alice)
    deleted = [r for r in result.relations if r.event == Event.DELETE]
    assert [(r.destination) for r in deleted] == ["Acme"]
    assert triples(memory.get_all(user_id=alice).relations) == [("user", "works_at", "Globex")]


def test_delete_all_removes_only_that_scope_and_reset_only_our_graph(
        make_graph_memory, uid, llm, graph_backend):
    memory = make_graph_memory(offline=True)
    alice, bob = uid("alice"), uid("bob")
    memory.add("I live in Paris", user_id=alice)
    memory.add("I live in Rome", user_id=bob)
    memory.delete_all(user_id=bob)
    assert memory.get_all(user_id=bob).relations == []
    assert triples(memory.get_all(user_id=alice).relations) == [("user", "lives_in", "Paris")]

    graph = memory.async_memory.graph
    if graph_backend == "ladybug":
        graph._run("CREATE NODE TABLE IF NOT EXISTS Other(id STRING PRIMARY KEY)")
        graph._run("CREATE (:Other {id: 'keep-me'})")
        survivors = "MATCH (o:Other) RETURN o.id AS id"
    else:
        graph._run("CREATE (:Other {id: 'keep-me'})")
        survivors = "MATCH (o:Other) RETURN o.id AS id"
    memory.reset()
    assert memory.get_all(user_id=alice).relations == []
    assert [r["id"] for r in graph._run(survivors)] == ["keep-me"]
    graph._run("MATCH (o:Other) DETACH DELETE o")


HOSTILE = [
    'O\'Brien "the" `tick`', "}) DETACH DELETE n //", "line\nbreak\r\ttab", "東京タワー",
    "🎸🔥 emoji", "x" * 5000, "$param {map: 1} MATCH (n) RETURN n", "back\\slash",
]


@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_names_are_stored_and_returned_intact(make_graph_memory, uid, llm, index):
    memory = make_graph_memory()
    alice, bob = uid("alice"), uid("bob")
    llm.queue(graph_reply(["Bob has a safe fact"], [("Bob", "knows", "Carol")]))
    memory.add("Bob knows Carol", user_id=bob)
    name = HOSTILE[index]
    relation = HOSTILE[(index + 1) % len(HOSTILE)]
    llm.queue(graph_reply([f"Fact {index}"], [(name, relation, "Target")],
                          [(name, "thing")]))
    result = memory.add("hostile", user_id=alice)
    [added] = result.relations
    assert added.source == " ".join(name.split())  # names are whitespace-normalised, nothing else
    stored = memory.get_all(user_id=alice).relations
    assert [(r.source, r.destination) for r in stored] == [(" ".join(name.split()), "Target")]
    assert stored[0].relationship == "_".join(relation.lower().split())
    # nothing else was touched
    assert triples(memory.get_all(user_id=bob).relations) == [("Bob", "knows", "Carol")]


def test_graph_writes_left_unapplied_by_a_crash_are_replayed(make_graph_memory, uid, llm,
                                                            tmp_path, monkeypatch):
    memory = make_graph_memory(offline=True, data_dir=tmp_path / "crash")
    alice = uid("alice")
    graph = memory.async_memory.graph

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-write")

    real_write = graph.write
    monkeypatch.setattr(graph, "write", crash)
    with pytest.raises(RuntimeError):
        memory.add("I live in Paris", user_id=alice)
    monkeypatch.setattr(graph, "write", real_write)
    # the next call replays the journal before doing anything else
    assert triples(memory.get_all(user_id=alice).relations) == [("user", "lives_in", "Paris")]
    assert [m.memory for m in memory.get_all(user_id=alice)] == ["I live in Paris"]


@pytest.mark.parametrize("graph_backend", ["ladybug"])
def test_a_journal_written_by_an_earlier_version_replays(make_graph_memory, uid, tmp_path):
    """Rows exactly as earlier versions journaled them (a "kind" string in the payload,
    relation ends without their own scope) are applied when a crash left them."""
    import uuid

    from mem_integrations.core.history.base import JournalOp

    data = tmp_path / "old"
    first = make_graph_memory(offline=True, data_dir=data)
    alice, bob = uid("alice"), uid("bob")
    first.add("I live in Paris", user_id=alice)
    first.add("I live in Rome", user_id=bob)
    [paris] = first.async_memory.graph.all_relations({"user_id": alice})
    acme, works_at, note = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    history = first.async_memory.history_store
    history.journal([
        JournalOp(works_at, Event.ADD, None, "user --works_at--> Acme", {
            "kind": "relation", "relation": "works_at", "scope": {"user_id": alice},
            "source": {"id": paris.source_id, "name": "user", "type": "person"},
            "target": {"id": acme, "name": "Acme", "type": "organization"}}),
        JournalOp(paris.id, Event.DELETE, paris.describe(), None, {"kind": "invalidate"}),
        JournalOp(note, Event.ADD, None, "Works at Acme", {
            "data": "Works at Acme", "hash": "h", "user_id": alice,
            "created_at": "2026-01-01T00:00:00+00:00"}),
    ], {"user_id": alice})
    history.journal([JournalOp(f"wipe:{uuid.uuid4().hex}", Event.DELETE, None, None,
                               {"kind": "wipe_scope", "scope": {"user_id": bob}})],
                    {"user_id": bob})
    first.close()  # as if the process had died before applying them

    second = make_graph_memory(offline=True, data_dir=data)
    assert triples(second.get_all(user_id=alice).relations) == [("user", "works_at", "Acme")]
    assert [e.event for e in second.history(paris.id)] == [Event.ADD, Event.DELETE]
    assert sorted(m.memory for m in second.get_all(user_id=alice)) == [
        "I live in Paris", "Works at Acme"]
    assert second.get_all(user_id=bob).relations == []
    assert second.async_memory.history_store.unapplied() == []


def test_entity_lookup_uses_a_vector_index_only_where_the_server_has_one(
        make_graph_memory, uid, graph_backend):
    """Neo4j 5 gets a vector index; ArcadeDB's Bolt plugin (no CREATE VECTOR INDEX) and the
    embedded graph fall back to a cosine scan over the scope's entities. Both find the
    entity by meaning, not only by name."""
    memory = make_graph_memory(offline=True)
    alice = uid("alice")
    memory.add("My sister is Anna. I live in Paris.", user_id=alice)
    graph = memory.async_memory.graph
    assert getattr(graph, "vector_index", False) is (graph_backend == "neo4j")
    found = memory.search("the capital of France", user_id=alice).relations
    assert ("user", "lives_in", "Paris") in triples(found)


def test_relations_never_link_entities_of_two_scopes(make_graph_memory, uid):
    """An add for {run_id} alone must not reuse the entities of {user_id, run_id}: else a
    relation links two scopes and delete_all(user_id) cuts the other scope's graph."""
    memory = make_graph_memory(offline=True)
    alice, run = uid("alice"), uid("run")
    memory.add("I live in Paris", user_id=alice, run_id=run)
    memory.add("I work at Acme", run_id=run)
    memory.delete_all(user_id=alice)
    assert triples(memory.get_all(run_id=run).relations) == [("user", "works_at", "Acme")]
    graph = memory.async_memory.graph
    rows = graph._run(
        "MATCH (a:MemIntEntity)-[r:MEMINT_REL]->(b:MemIntEntity) "
        "RETURN a.user_id AS au, a.run_id AS ar, b.user_id AS bu, b.run_id AS br, "
        "r.user_id AS ru, r.run_id AS rr")
    mine = [r for r in rows if run in (r["ar"], r["br"], r["rr"])]
    assert mine and all(r["au"] == r["bu"] == r["ru"] and r["ar"] == r["br"] == r["rr"]
                        for r in mine)


def _mover(body):
    """A model for the graph's single-call add: each "I live in / moved to / like ..."
    sentence is a fact and a relation, and a new address supersedes the known
    relations shown as lives_in."""
    user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
    if body["response_format"]["json_schema"]["name"] == "reconcile":
        return {"operations": [], "invalidate": []}
    transcript, _, shown = user.removeprefix("Conversation:\nuser: ").partition("\n\nKNOWN:\n")
    sentences = split_sentences(transcript)
    new = [found[0] for found in (relation_of(s.rstrip(".")) for s in sentences) if found]
    reply = graph_reply(sentences, [(t.source, t.relation, t.target) for t in new])
    if shown:
        moved = any(t.relation == "lives_in" for t in new)
        known = read_numbered(shown.partition("KNOWN_RELATIONS:\n")[2])
        reply["invalidate"] = [i for i, text in known if moved and "--lives_in-->" in text]
        for fact in reply["facts"]:
            fact.update(event="ADD", id=None)
    return reply


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "single_call"])
def test_a_move_supersedes_the_old_address_however_many_relations_came_since(
        make_graph_memory, uid, llm, offline):
    """The relations a new one may supersede are chosen by kind first: a user with more
    relations than are shown still has the old address replaced."""
    llm.responder = _mover
    memory = make_graph_memory(offline=offline)
    alice = uid("alice")
    memory.add("I live in Paris.", user_id=alice)
    memory.add(" ".join(f"I like dish number {n}." for n in range(45)), user_id=alice)
    moved = memory.add("I moved to Berlin.", user_id=alice)
    assert ("lives_in", "Paris", "DELETE") in [
        (r.relationship, r.destination, r.event.value) for r in moved.relations]
    valid = triples(memory.get_all(user_id=alice).relations)
    assert ("user", "lives_in", "Berlin") in valid and ("user", "lives_in", "Paris") not in valid
    assert len(valid) == 46
