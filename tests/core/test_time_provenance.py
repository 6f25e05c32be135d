"""Event time and provenance over the scripted LLM on real HTTP and both embedded Qdrant
engines: supersede instead of overwrite, reads as of a time, the history chain, sources
and delete_source, timestamps on messages, and the journal/repair path of past versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mem_integrations import Memory
from mem_integrations.core.errors import FilterError, InvalidInputError, MemoryLayerError
from tests.conftest import facts, ops

T1 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
T2 = datetime(2024, 1, 20, 9, 0, tzinfo=UTC)
BETWEEN = "2023-09-01T00:00:00+00:00"


def _quoted(*items: tuple[str, str]) -> dict:
    """An extraction reply whose facts name their quotes."""
    return {"facts": [{"text": t, "categories": [], "quote": q} for t, q in items]}


@pytest.fixture
def moved(make_memory, llm) -> tuple[Memory, dict]:
    """Paris at T1, then Berlin at T2 (the reconcile call updates the Paris memory)."""
    memory = make_memory()
    llm.queue(_quoted(("User lives in Paris", "I live in Paris")))
    first = memory.add("I live in Paris", user_id="alice", timestamp=T1)
    llm.queue(_quoted(("User lives in Berlin", "I moved to Berlin")),
              ops({"event": "UPDATE", "id": 0, "text": "User lives in Berlin"}))
    second = memory.add([{"role": "user", "content": "Guess what: I moved to Berlin"}],
                        user_id="alice", timestamp=T2.isoformat())
    return memory, {"first": first, "second": second}


def test_search_now_finds_berlin_and_as_of_between_finds_paris(moved) -> None:
    memory, adds = moved
    now = memory.search("where does the user live?", user_id="alice")
    assert [r.memory for r in now] == ["User lives in Berlin"]
    assert now.results[0].valid_from == T2 and now.results[0].valid_to is None
    then = memory.search("where does the user live?", user_id="alice", as_of=BETWEEN)
    assert [r.memory for r in then] == ["User lives in Paris"]
    paris = then.results[0]
    assert paris.valid_from == T1 and paris.valid_to == T2
    assert paris.superseded_by == adds["second"].results[0].id
    before = memory.search("where does the user live?", user_id="alice", as_of="2020-01-01")
    assert before.results == []
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["User lives in Berlin"]
    assert [m.memory for m in memory.get_all(user_id="alice", as_of=BETWEEN)] == \
        ["User lives in Paris"]
    # users() counts what is valid now, not the past version
    assert [(u.id, u.total_memories) for u in memory.users().results] == [("alice", 1)]


def test_the_update_keeps_the_id_and_the_history_shows_the_chain(moved) -> None:
    memory, adds = moved
    [event] = adds["second"].results
    assert event.event == "UPDATE" and event.previous_memory == "User lives in Paris"
    current = memory.get(event.id, user_id="alice")
    assert current.memory == "User lives in Berlin" and current.supersedes
    chain = memory.history(event.id)
    assert [(e.event, e.old_memory, e.new_memory) for e in chain] == [
        ("ADD", None, "User lives in Paris"),
        ("UPDATE", "User lives in Paris", "User lives in Berlin")]
    past = memory.get(current.supersedes)
    # the past version's history is the chain of the memory that superseded it
    assert memory.history(past.id) == chain


def test_the_paris_memory_quotes_the_first_message(moved) -> None:
    memory, adds = moved
    paris = memory.search("Paris", user_id="alice", as_of=BETWEEN, include_sources=True)
    [source] = paris.results[0].sources
    assert source.add_id == adds["first"].add_id
    assert (source.message, source.role, source.quote, source.at) == (0, "user",
                                                                       "I live in Paris", T1)
    berlin = memory.search("Berlin", user_id="alice", include_sources=True).results[0]
    assert [s.quote for s in berlin.sources] == ["I moved to Berlin"]
    assert berlin.sources[0].add_id == adds["second"].add_id
    plain = memory.search("Berlin", user_id="alice").results[0]
    assert plain.sources is None and "sources" not in plain.model_dump()


def test_the_reconcile_prompt_sees_only_current_facts(moved, llm) -> None:
    memory, _ = moved
    llm.queue(_quoted(("User lives in a flat in Berlin", "a flat in Berlin")),
              ops({"event": "NONE", "id": 0}))
    memory.add("I rent a flat in Berlin", user_id="alice")
    shown = llm.calls[-1].user
    assert "User lives in Berlin" in shown and "Paris" not in shown


def test_a_fact_true_again_is_a_new_memory_not_a_repeat_of_the_past(moved, llm) -> None:
    memory, _ = moved
    # same text as the closed Paris memory: not dropped as an exact repeat
    llm.queue(_quoted(("User lives in Paris", "back in Paris")),
              ops({"event": "DELETE", "id": 0}, {"event": "ADD", "text": "User lives in Paris"}))
    memory.add("I am back in Paris", user_id="alice", timestamp="2025-03-01")
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["User lives in Paris"]
    assert {m.memory for m in memory.get_all(user_id="alice", as_of="2024-06-01")} == \
        {"User lives in Berlin"}


def test_a_reconcile_delete_closes_the_memory_and_keeps_it_for_the_past(make_memory,
                                                                         llm) -> None:
    memory = make_memory()
    llm.queue(facts("User is vegetarian"))
    [veg] = memory.add("I am vegetarian", user_id="bo", timestamp=T1).results
    llm.queue(facts("User eats fish"),
              ops({"event": "DELETE", "id": 0}, {"event": "ADD", "text": "User eats fish"}))
    result = memory.add("I eat fish now", user_id="bo", timestamp=T2)
    assert ("DELETE", veg.id) in [(e.event, e.id) for e in result.results]
    assert [m.memory for m in memory.get_all(user_id="bo")] == ["User eats fish"]
    kept = memory.get(veg.id)
    assert kept.memory == "User is vegetarian" and kept.valid_to == T2
    assert [e.event for e in memory.history(veg.id)] == ["ADD", "DELETE"]
    # the user's explicit delete still removes it, leaving only its history
    memory.delete(veg.id)
    with pytest.raises(MemoryLayerError):
        memory.get(veg.id)
    assert [e.event for e in memory.history(veg.id)] == ["ADD", "DELETE", "DELETE"]
    assert memory.get_all(user_id="bo", as_of="2023-06-01").results == []


def test_include_sources_gives_every_fact_of_a_multi_message_add_its_quote(make_memory,
                                                                             llm) -> None:
    memory = make_memory()
    messages = [
        {"role": "user", "content": "My sister Ana lives in Lisbon.", "timestamp": "2023-05-01"},
        {"role": "assistant", "content": "Nice! Do you visit her?"},
        {"role": "user", "content": "Yes, every summer. Also I started learning the cello."},
    ]
    # one quote given exactly, one with other spacing and case, one missing (located by
    # the words the fact shares with a message)
    llm.queue({"facts": [
        {"text": "User's sister Ana lives in Lisbon", "quote": "My sister Ana lives in Lisbon"},
        {"text": "User visits Ana every summer", "quote": "yes,  every   summer"},
        {"text": "User is learning the cello"}]})
    result = memory.add(messages, user_id="cy", timestamp="2023-05-02T10:00:00Z")
    got = {r.memory: r.sources for r in
           memory.search("sister cello summer", user_id="cy", include_sources=True)}
    assert {k: [(s.message, s.quote) for s in v] for k, v in got.items()} == {
        "User's sister Ana lives in Lisbon": [(0, "My sister Ana lives in Lisbon")],
        "User visits Ana every summer": [(2, "yes,  every   summer")],
        "User is learning the cello": [
            (2, "Yes, every summer. Also I started learning the cello.")]}
    # a message's own time dates its facts; the add's timestamp dates the others
    dates = {r.memory: r.valid_from for r in memory.get_all(user_id="cy")}
    assert dates["User's sister Ana lives in Lisbon"] == datetime(2023, 5, 1, tzinfo=UTC)
    assert dates["User is learning the cello"] == datetime(2023, 5, 2, 10, tzinfo=UTC)
    assert all(s.add_id == result.add_id for v in got.values() for s in v)


def test_relative_dates_are_resolved_against_the_message_time(make_memory, llm) -> None:
    memory = make_memory()
    llm.queue(facts("User went to a support group on 2023-05-07"))
    memory.add("I went to a support group yesterday", user_id="dee", timestamp=T1)
    system = llm.calls[0].body["messages"][0]["content"]
    assert "Today is 2023-05-08." in system
    assert "[2023-05-08 13:56]\nuser: I went to a support group yesterday" in llm.calls[0].user


def test_delete_source_removes_exactly_the_facts_only_that_add_said(make_memory, llm) -> None:
    memory = make_memory()
    llm.queue(facts("User likes tea", "User has a cat"))
    first = memory.add("I like tea and I have a cat", user_id="ed")
    llm.queue(facts("User plays chess"))
    second = memory.add("I play chess", user_id="ed")
    # the third add says "tea" again in other words: the reconcile call keeps the memory
    # (NONE), and this add becomes one more of its sources
    tea = next(e.id for e in first.results if e.memory == "User likes tea")
    llm.queue(facts("User enjoys tea"), ops({"event": "NONE", "id": 0}))
    third = memory.add("I enjoy tea", user_id="ed")
    assert third.results == []
    assert [s.add_id for s in memory.get(tea).sources] == [first.add_id, third.add_id]
    report = memory.delete_source(first.add_id, user_id="ed")
    left = {m.memory for m in memory.get_all(user_id="ed")}
    assert left == {"User plays chess", "User likes tea"}
    cat = next(e.id for e in first.results if e.memory == "User has a cat")
    assert (report.deleted, report.kept) == ([cat], [tea])
    assert [s.quote for s in memory.get(tea).sources] == ["I enjoy tea"]
    assert report.message.startswith("deleted 1 memory that came only from add")
    assert "1 memory that other adds said too kept" in report.message
    assert memory.delete_source(second.add_id).deleted == [second.results[0].id]
    assert memory.delete_source(second.add_id).deleted == []  # said once: nothing left


def test_bad_time_input_is_refused_and_changes_nothing(make_memory, llm) -> None:
    memory = make_memory()
    for bad in ("last tuesday", True, float("nan"), object()):
        with pytest.raises(InvalidInputError, match="timestamp"):
            memory.add("I live in Rome", user_id="fy", timestamp=bad)
    with pytest.raises(InvalidInputError, match="timestamp"):
        memory.add([{"role": "user", "content": "hi", "timestamp": "soon"}], user_id="fy")
    with pytest.raises(InvalidInputError, match="as_of"):
        memory.search("Rome", user_id="fy", as_of="yesterday-ish")
    with pytest.raises(InvalidInputError, match="add_id"):
        memory.delete_source("  ")
    with pytest.raises(FilterError):
        memory.get_all(user_id="fy", filters={"valid_from": {"gte": "soon"}})
    assert llm.chat_calls == 0 and memory.pending() == []
    assert memory.get_all(user_id="fy").results == []


def test_filters_on_event_time_and_unix_timestamps(make_memory, llm) -> None:
    memory = make_memory()
    llm.queue(facts("User adopted a dog"))
    memory.add("I adopted a dog", user_id="gi", timestamp=int(T1.timestamp()))
    llm.queue(facts("User ran a marathon"))
    memory.add("I ran a marathon", user_id="gi", timestamp=T2.date())
    found = memory.get_all(user_id="gi", filters={"valid_from": {"lt": "2024-01-01"}})
    assert [m.memory for m in found] == ["User adopted a dog"]
    found = memory.get_all(user_id="gi", filters={"valid_from": {"gte": "2024-01-20"}})
    assert [m.memory for m in found] == ["User ran a marathon"]
    recorded = memory.get_all(user_id="gi", filters={"created_at": {"gte": "2025-01-01"}})
    assert len(recorded) == 2  # stored today, said in the past


def test_past_versions_survive_a_replay_and_a_repair(moved) -> None:
    memory, _ = moved
    report = memory.repair()
    assert report.memories == 2
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["User lives in Berlin"]
    assert [m.memory for m in memory.get_all(user_id="alice", as_of=BETWEEN)] == \
        ["User lives in Paris"]
    paris = memory.search("Paris", user_id="alice", as_of=BETWEEN, include_sources=True)
    assert paris.results[0].sources[0].quote == "I live in Paris"


def test_memories_written_before_event_time_are_valid_since_they_were_stored(
        make_memory, tmp_path) -> None:
    """A store written without the new fields (as every earlier version wrote it) opens,
    and reads treat its memories as valid since created_at."""
    memory = make_memory(offline=True)
    [old] = memory.add("I like jazz", user_id="hu", infer=False).results
    point = memory.async_memory.store.retrieve([old.id])[0]
    legacy = {k: v for k, v in point.payload.items()
              if k not in ("valid_from", "sources", "source_adds")}
    from mem_integrations.core.stores.base import Point
    memory.async_memory.store.upsert([Point(old.id, memory.async_memory.store.retrieve(
        [old.id], with_vectors=True)[0].vector, legacy)])
    item = memory.get(old.id)
    assert item.valid_from == item.created_at and item.sources is None
    assert [m.id for m in memory.get_all(user_id="hu")] == [old.id]
    assert [m.id for m in memory.get_all(user_id="hu", as_of=datetime.now(UTC))] == [old.id]
    assert memory.get_all(user_id="hu", as_of="2000-01-01").results == []
    assert json.loads(item.model_dump_json())["valid_from"]


def test_an_export_and_import_keep_the_timeline_and_the_sources(moved, make_memory, backend,
                                                                 tmp_path) -> None:
    memory, adds = moved
    path = tmp_path / "backup.jsonl"
    assert memory.export_jsonl(path, user_id="alice") == 2  # the past version too
    store = {"collection": "copy"}
    if backend == "qdrant_client_local":  # its directory admits one open memory
        store["path"] = str(tmp_path / "copy_qdrant")
    copy = make_memory(data_dir=tmp_path / "copy", vector_store=store)
    copy.import_jsonl(path)
    assert [m.memory for m in copy.get_all(user_id="alice")] == ["User lives in Berlin"]
    [paris] = copy.get_all(user_id="alice", as_of=BETWEEN).results
    assert (paris.memory, paris.valid_from, paris.valid_to) == ("User lives in Paris", T1, T2)
    assert [s.quote for s in copy.get(paris.id).sources] == ["I live in Paris"]
    assert copy.delete_source(adds["first"].add_id).deleted == [paris.id]


def test_a_locomo_style_replay_dates_facts_by_their_session(make_memory, llm) -> None:
    """Sessions of an imported conversation, each added with its own date: the facts are
    dated by their session, not by today, and a relative date counts from the session."""
    memory = make_memory()
    sessions = [("1:56 pm on 8 May, 2023",
                 [("Caroline", "I went to a LGBTQ support group yesterday.")],
                 "Caroline went to a LGBTQ support group on 7 May 2023"),
                ("1:14 pm on 25 May, 2023",
                 [("Melanie", "I ran a charity race last Saturday!")],
                 "Melanie ran a charity race on 20 May 2023")]
    for when, turns, fact in sessions:
        llm.queue(facts(fact))
        memory.add([{"role": "user", "name": speaker, "content": text}
                    for speaker, text in turns], user_id="conv-26",
                   timestamp=datetime.strptime(when, "%I:%M %p on %d %B, %Y"))
    dated = {m.memory: m.valid_from.date().isoformat()
             for m in memory.get_all(user_id="conv-26")}
    assert dated == {"Caroline went to a LGBTQ support group on 7 May 2023": "2023-05-08",
                     "Melanie ran a charity race on 20 May 2023": "2023-05-25"}
    assert ["Today is 2023-05-08." in c.body["messages"][0]["content"] for c in llm.calls] \
        == [True, False]
    [race] = memory.search("charity race", user_id="conv-26", include_sources=True).results[:1]
    assert race.sources[0].actor_id == "Melanie"


def test_delete_all_removes_the_past_versions_too(moved) -> None:
    memory, _ = moved
    assert memory.delete_all(user_id="alice").count == 1  # the memories get_all showed
    assert memory.get_all(user_id="alice", as_of=BETWEEN).results == []
    assert memory.async_memory.store.count(None) == 0


def test_delete_forgets_the_past_versions_too(moved) -> None:
    """The right to be forgotten: an explicit delete leaves no version of the fact
    findable, only the history rows."""
    memory, adds = moved
    [berlin] = adds["second"].results
    memory.delete(berlin.id, user_id="alice")
    assert memory.get_all(user_id="alice").results == []
    assert memory.get_all(user_id="alice", as_of=BETWEEN).results == []
    assert memory.search("Paris", user_id="alice", as_of=BETWEEN).results == []
    assert memory.async_memory.store.count(None) == 0
    assert memory.history(berlin.id)[-1].event == "DELETE"


def test_a_close_a_crash_left_unapplied_is_replayed_on_open(make_memory, llm) -> None:
    from mem_integrations.core.journal import MemoryClose
    from mem_integrations.core.validity import closed

    memory = make_memory()
    llm.queue(facts("User is vegetarian"))
    [veg] = memory.add("I am vegetarian", user_id="bo", timestamp=T1).results
    engine = memory.async_memory
    payload = closed(engine.store.retrieve([veg.id])[0].payload, at=T2)
    # journaled and never applied: what a process killed in between leaves
    engine.history_store.journal([MemoryClose(veg.id, payload).row()], {"user_id": "bo"})
    memory.close()
    reopened = make_memory()
    assert reopened.get(veg.id).valid_to == T2
    assert reopened.get_all(user_id="bo").results == []
    assert [e.event for e in reopened.history(veg.id)] == ["ADD", "DELETE"]
