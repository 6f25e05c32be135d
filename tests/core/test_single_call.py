"""The single-call add (`reconcile.mode = "single_call"`, the default): the memories the
messages may touch are found before the LLM call and shown in it under small ids, and its
reply decides; a second, small call only for a fact whose close neighbour was not shown.
The same scripted model decides by the same rules in both modes, and the modes end with
the same memories."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mem_integrations import Memory
from mem_integrations.core.pipeline.prompts import read_numbered
from mem_integrations.core.pipeline.single_call import MAX_QUERIES, sentences_and_queries
from mem_integrations.testing import ScriptedLLMServer
from tests.conftest import ops
from tests.reliability.support import sensible_llm


def known_shown(call: Any) -> list[tuple[int, str]]:
    """The KNOWN list of a single-call extraction request, as (id, text) ([] when none
    was shown)."""
    _, sep, shown = call.user.partition("\n\nKNOWN:\n")
    return read_numbered(shown.split("\n\n")[0]) if sep else []


def decided(*facts: tuple[str, str, int | None]) -> dict[str, Any]:
    """A single-call extraction reply: (text, event, id) per fact."""
    return {"facts": [{"text": t, "categories": [], "event": e, "id": i} for t, e, i in facts]}


def test_an_update_of_a_known_memory_is_one_call(make_memory: Callable[..., Memory],
                                                 llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    memory.add("I live in Paris.", user_id="alice", infer=False)
    memory.add("I have a dog named Rex.", user_id="alice", infer=False)
    llm.queue(decided(("I live in Berlin", "UPDATE", 0)))
    result = memory.add("I moved, I live in Berlin now.", user_id="alice")
    assert llm.chat_calls == 1
    shown = known_shown(llm.calls[0])
    assert shown[0] == (0, "I live in Paris.")  # closest first, small ids
    assert "\nKNOWN:\n[0] I live in Paris." in llm.calls[0].user  # the shortest form
    schema = llm.calls[0].body["response_format"]["json_schema"]["schema"]
    assert {"event", "id"} <= set(schema["properties"]["facts"]["items"]["properties"])
    assert [(e.event.value, e.memory, e.previous_memory) for e in result.results] == [
        ("UPDATE", "I live in Berlin", "I live in Paris.")]
    assert sorted(m.memory for m in memory.get_all(user_id="alice")) == [
        "I have a dog named Rex.", "I live in Berlin"]


def test_a_memory_is_shown_on_one_line_under_its_id(make_memory: Callable[..., Memory],
                                                   llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    memory.add("Shopping list:\nmilk, eggs\nand bread", user_id="alice", infer=False)
    llm.responder = sensible_llm
    memory.add("My shopping list has milk and eggs.", user_id="alice")
    assert known_shown(llm.calls[0]) == [(0, "Shopping list: milk, eggs and bread")]
    # only what is shown is on one line: the memory keeps its own line breaks
    assert "Shopping list:\nmilk, eggs\nand bread" in [
        m.memory for m in memory.get_all(user_id="alice")]


def test_the_search_before_the_call_uses_each_sentence_and_each_longer_message() -> None:
    messages = [{"role": "user", "content": "I moved. I live in Berlin now."},
                {"role": "assistant", "content": "Nice!"},
                {"role": "user", "content": "I moved."}]
    assert sentences_and_queries(messages)[1] == [
        "I moved.", "I live in Berlin now.", "I moved. I live in Berlin now.", "Nice!"]
    many = [{"role": "user", "content": f"Fact {i}. More {i}."} for i in range(40)]
    assert len(sentences_and_queries(many)[1]) == MAX_QUERIES


def test_a_new_user_s_add_shows_nothing_and_is_one_call(make_memory: Callable[..., Memory],
                                                       llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    llm.responder = sensible_llm
    memory.add("I live in Paris.", user_id="alice")
    assert llm.chat_calls == 1 and "KNOWN" not in llm.calls[0].user
    assert "event" not in json.dumps(llm.calls[0].body["response_format"])


def test_unknown_ids_and_events_are_ignored_not_crashed_on(make_memory: Callable[..., Memory],
                                                           llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    memory.add("I live in Paris.", user_id="alice", infer=False)
    llm.queue(decided(("I live in Rome", "UPDATE", 7), ("I like tea", "DELETE", None),
                      ("I live in Paris.", "NONE", 0)))
    result = memory.add("I live in Rome. I like tea. I live in Paris.", user_id="alice")
    assert llm.chat_calls == 1
    assert result.results == []  # nothing the reply asked for could be done: nothing written
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["I live in Paris."]


def test_an_added_fact_whose_close_neighbour_was_not_shown_gets_a_second_call(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer) -> None:
    memory = make_memory(reconcile={"max_shown": 1, "close_neighbour": 0.3})
    memory.add("Alice works as a nurse in Lyon.", user_id="alice", infer=False)
    memory.add("Alice lives in Paris.", user_id="alice", infer=False)
    # one memory shown (max_shown=1); the LLM ADDs a fact close to the one not shown
    llm.queue(decided(("Alice lives in Berlin", "ADD", None), ("Alice works in Lyon", "NONE", 0)),
              ops({"event": "UPDATE", "id": 0, "text": "Alice lives in Berlin"}))
    result = memory.add("Alice works in Lyon. Alice lives in Berlin.", user_id="alice")
    assert len(known_shown(llm.calls[0])) == 1
    assert llm.chat_calls == 2 and "EXISTING" in llm.calls[1].user
    reconciled = llm.calls[1].user
    assert "Alice lives in Paris." in reconciled and "Alice lives in Berlin" in reconciled
    assert [(e.event.value, e.memory) for e in result.results] == [
        ("UPDATE", "Alice lives in Berlin")]


def test_unseen_neighbours_add_never_makes_a_second_call(make_memory: Callable[..., Memory],
                                                        llm: ScriptedLLMServer) -> None:
    memory = make_memory(reconcile={"max_shown": 1, "close_neighbour": 0.3,
                                    "unseen_neighbours": "add"})
    memory.add("Alice works as a nurse in Lyon.", user_id="alice", infer=False)
    memory.add("Alice lives in Paris.", user_id="alice", infer=False)
    llm.queue(decided(("Alice lives in Berlin", "ADD", None), ("Alice works in Lyon", "NONE", 0)))
    memory.add("Alice works in Lyon. Alice lives in Berlin.", user_id="alice")
    assert llm.chat_calls == 1
    assert "Alice lives in Berlin" in {m.memory for m in memory.get_all(user_id="alice")}


def test_an_llm_that_ignores_the_decisions_falls_back_to_reconcile(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer) -> None:
    memory = make_memory()
    memory.add("I live in Paris.", user_id="alice", infer=False)
    llm.queue({"facts": [{"text": "I live in Berlin", "categories": []}]},  # no event/id
              ops({"event": "UPDATE", "id": 0, "text": "I live in Berlin"}))
    result = memory.add("I live in Berlin now.", user_id="alice")
    assert llm.chat_calls == 2
    assert [e.event.value for e in result.results] == ["UPDATE"]


CONVERSATION = [
    "Alice lives in Paris. Alice works as a nurse.",
    "Bob is Alice's brother. Alice likes green tea.",
    "Alice lives in Berlin now.",
    "Alice likes green tea. Alice works as a doctor.",
    "Alice plays chess on Sundays. Bob lives in Rome.",
    "Bob lives in Madrid.",
]


def replay(memory: Memory, llm: ScriptedLLMServer, user: str
           ) -> tuple[list[str], dict[str, int], int]:
    llm.responder = sensible_llm
    llm.reset_counts()
    events: dict[str, int] = {}
    for said in CONVERSATION:
        for event in memory.add(said, user_id=user).results:
            events[event.event.value] = events.get(event.event.value, 0) + 1
    texts = sorted(m.memory for m in memory.get_all(user_id=user))
    memory.close()  # qdrant-client's local mode holds its path: one memory at a time
    return texts, events, llm.chat_calls


def test_both_modes_end_with_the_same_memories_and_decisions(
        make_memory: Callable[..., Memory], llm: ScriptedLLMServer, tmp_path: Any) -> None:
    single = replay(make_memory(data_dir=tmp_path / "one"), llm, "alice-one")
    two = replay(make_memory(data_dir=tmp_path / "two", reconcile={"mode": "two_calls"}),
                 llm, "alice-two")
    assert single[0] == two[0] and single[1] == two[1]
    assert single[1].get("UPDATE", 0) >= 2  # the replay does update what is known
    assert single[2] == len(CONVERSATION) < two[2]  # one call per add


def test_the_offline_extractor_keeps_working(make_memory: Callable[..., Memory]) -> None:
    memory = make_memory(offline=True)
    memory.add("I live in Paris.", user_id="alice")
    memory.add("I live in Paris. I like tea.", user_id="alice")
    assert sorted(m.memory for m in memory.get_all(user_id="alice")) == [
        "I like tea", "I live in Paris"]

