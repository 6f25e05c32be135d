"""The add pipeline over real HTTP to a scripted OpenAI-compatible LLM, on every backend."""

from __future__ import annotations

import pytest

from mem_integrations import Event, LLMResponseError
from mem_integrations.testing import Fault
from tests.conftest import facts, ops


def test_move_updates_the_memory_and_history_says_add_then_update(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Lives in Paris"))
    first = memory.add("I live in Paris", user_id="alice")
    assert llm.chat_calls == 1  # new information: extraction only
    [added] = first.results
    assert added.event == Event.ADD

    llm.queue(facts("Lives in Berlin"), ops({"event": "UPDATE", "id": 0, "text": "Lives in Berlin"}))
    second = memory.add("I moved to Berlin", user_id="alice")
    assert llm.chat_calls == 3  # touched what is known: extraction + reconcile

    [updated] = second.results
    assert updated.event == Event.UPDATE and updated.id == added.id
    assert updated.previous_memory == "Lives in Paris"
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["Lives in Berlin"]
    history = memory.history(added.id)
    assert [h.event for h in history] == [Event.ADD, Event.UPDATE]
    assert history[1].old_memory == "Lives in Paris" and history[1].new_memory == "Lives in Berlin"


def test_reconcile_call_shows_existing_memories_under_integer_ids(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Lives in Paris"))
    stored = memory.add("I live in Paris", user_id="alice").results[0]
    llm.queue(facts("Lives in Berlin"), ops({"event": "NONE", "id": 0}))
    memory.add("I moved to Berlin", user_id="alice")
    reconcile = llm.calls[-1]
    assert '"id": 0' in reconcile.user and "Lives in Paris" in reconcile.user
    assert stored.id not in reconcile.user  # UUIDs never reach the LLM
    assert "response_format" in reconcile.body  # structured output requested


def test_contradiction_deletes(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Loves cheese pizza"))
    loved = memory.add("I love cheese pizza", user_id="bob").results[0]
    llm.queue(facts("Hates cheese pizza"), ops({"event": "DELETE", "id": 0}))
    result = memory.add("Actually I hate cheese pizza", user_id="bob")
    assert [(e.event, e.id) for e in result.results] == [(Event.DELETE, loved.id)]
    assert memory.get_all(user_id="bob").results == []
    assert [h.event for h in memory.history(loved.id)] == [Event.ADD, Event.DELETE]
    assert memory.history(loved.id)[-1].is_deleted


def test_exact_repeat_adds_nothing_and_skips_reconcile(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Lives in Paris"))
    memory.add("I live in Paris", user_id="alice")
    llm.queue(facts("Lives in Paris."))  # same content: case, spacing, end punctuation ignored
    again = memory.add("I live in Paris!", user_id="alice")
    assert again.results == []
    assert llm.chat_calls == 2  # two extractions, no reconcile
    assert len(memory.get_all(user_id="alice")) == 1


def test_unrelated_fact_is_added_without_reconcile(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Lives in Paris"))
    memory.add("I live in Paris", user_id="alice")
    llm.queue(facts("Works as a nurse"))
    result = memory.add("I work as a nurse", user_id="alice")
    assert [e.event for e in result.results] == [Event.ADD]
    assert llm.chat_calls == 2


def test_one_add_with_new_and_related_facts_costs_two_calls(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Lives in Paris"))
    memory.add("I live in Paris", user_id="alice")
    llm.reset_counts()
    llm.queue(facts("Lives in Berlin", "Works as a nurse"),
              ops({"event": "UPDATE", "id": 0, "text": "Lives in Berlin"}))
    result = memory.add("I moved to Berlin and I work as a nurse", user_id="alice")
    assert llm.chat_calls == 2
    assert sorted(e.event.value for e in result.results) == ["ADD", "UPDATE"]
    # only the related fact is sent to the reconcile call
    assert "nurse" not in llm.calls[-1].user
    assert sorted(m.memory for m in memory.get_all(user_id="alice")) == [
        "Lives in Berlin", "Works as a nurse"]


def test_unknown_and_repeated_ids_in_reconcile_are_ignored(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("Lives in Paris"))
    memory.add("I live in Paris", user_id="alice")
    llm.queue(facts("Lives in Berlin"), ops(
        {"event": "UPDATE", "id": 7, "text": "hallucinated"},
        {"event": "DELETE", "id": "abc"},
        {"event": "UPDATE", "id": "0", "text": "Lives in Berlin"},
        {"event": "DELETE", "id": 0},  # second decision on the same memory: ignored
        {"event": "EXPLODE", "id": 0},  # unknown event: dropped
    ))
    result = memory.add("I moved to Berlin", user_id="alice")
    assert [e.event for e in result.results] == [Event.UPDATE]
    assert [m.memory for m in memory.get_all(user_id="alice")] == ["Lives in Berlin"]


def test_unparseable_reply_raises_and_loses_nothing(make_memory, llm):
    memory = make_memory()
    llm.queue("I am sorry, I cannot help with that.", "still no JSON here")
    with pytest.raises(LLMResponseError) as caught:
        memory.add("I live in Paris", user_id="alice", metadata={"source": "chat"})
    error = caught.value
    assert error.pending_id and "reprocess" in str(error)
    assert llm.chat_calls == 2  # one re-ask, then give up
    assert memory.get_all(user_id="alice").results == []

    [kept] = memory.pending()
    assert kept.id == error.pending_id and kept.status == "failed"
    assert kept.messages == [{"role": "user", "content": "I live in Paris"}]
    assert kept.scope == {"user_id": "alice"} and kept.metadata == {"source": "chat"}

    llm.queue(facts("Lives in Paris"))
    result = memory.reprocess(error.pending_id)
    assert [e.memory for e in result.results] == ["Lives in Paris"]
    assert memory.get_all(user_id="alice").results[0].metadata == {"source": "chat"}
    assert memory.pending() == []


def test_tolerant_parsing_of_fenced_think_and_trailing_text(make_memory, llm):
    memory = make_memory()
    llm.queue('<think>the user lives somewhere</think>\nSure!\n```json\n'
              '{"facts": [{"text": "Lives in Paris", "categories": [],},]}\n```\nHope it helps')
    assert [e.memory for e in memory.add("I live in Paris", user_id="a").results] == [
        "Lives in Paris"]


def test_bare_string_facts_and_missing_categories_are_accepted(make_memory, llm):
    memory = make_memory()
    llm.queue({"facts": ["Lives in Paris", {"text": "Has a cat"}, {"nope": 1}, ""]})
    result = memory.add("I live in Paris with my cat", user_id="a")
    assert sorted(e.memory for e in result.results) == ["Has a cat", "Lives in Paris"]


def test_server_errors_are_retried_then_succeed(make_memory, llm):
    memory = make_memory()
    llm.queue(Fault(status=429), Fault(status=503), facts("Lives in Paris"))
    result = memory.add("I live in Paris", user_id="alice")
    assert [e.memory for e in result.results] == ["Lives in Paris"]
    assert llm.faults_served == 2


def test_persistent_provider_failure_keeps_the_messages(make_memory, llm):
    from mem_integrations import ProviderError

    memory = make_memory(llm={"max_retries": 1})
    llm.queue(Fault(status=500), Fault(status=500))
    with pytest.raises(ProviderError) as caught:
        memory.add("I live in Paris", user_id="alice")
    assert caught.value.pending_id in [p.id for p in memory.pending()]
    assert memory.get_all(user_id="alice").results == []


def test_structured_output_falls_back_when_rejected(make_memory, llm):
    memory = make_memory()
    llm.queue(Fault(status=400, message="response_format json_schema is not supported"),
              facts("Lives in Paris"))
    assert len(memory.add("I live in Paris", user_id="a").results) == 1
    assert llm.calls[-1].body["response_format"] == {"type": "json_object"}


def test_custom_prompt_rules_and_categories_reach_the_extraction_call(make_memory, llm):
    memory = make_memory(extraction={
        "include": "food preferences", "exclude": "locations",
        "categories": {"food": "what the user eats", "travel": "trips"}})
    llm.queue({"facts": [{"text": "Likes sushi", "categories": ["food"]}]})
    memory.add("I like sushi", user_id="a")
    system = llm.calls[-1].system
    assert "food preferences" in system and "locations" in system and "- travel: trips" in system
    assert memory.get_all(user_id="a").results[0].categories == ["food"]

    llm.queue(facts("Custom fact"))
    memory.add("whatever", user_id="a", prompt="ONLY EXTRACT CUSTOM THINGS")
    assert llm.calls[-1].system.startswith("ONLY EXTRACT CUSTOM THINGS")


def test_infer_false_stores_messages_verbatim_without_llm(make_memory, llm):
    memory = make_memory()
    result = memory.add([{"role": "user", "content": "Remember the code 1234"},
                         {"role": "assistant", "content": "Noted."},
                         {"role": "system", "content": "ignored"}], user_id="a", infer=False)
    assert [e.memory for e in result.results] == ["Remember the code 1234", "Noted."]
    assert llm.chat_calls == 0
    roles = {m.memory: m.role for m in memory.get_all(user_id="a")}
    assert roles == {"Remember the code 1234": "user", "Noted.": "assistant"}


def test_procedural_memory_is_one_summary(make_memory, llm):
    memory = make_memory()
    llm.queue("1. Opened the ticket. 2. Reset the password. Outcome: solved.")
    result = memory.add([{"role": "user", "content": "reset my password"},
                         {"role": "assistant", "content": "done"}],
                        agent_id="support-bot", memory_type="procedural_memory")
    [event] = result.results
    assert event.memory.startswith("1. Opened the ticket")
    [item] = memory.get_all(agent_id="support-bot").results
    assert item.memory_type == "procedural_memory"
    assert llm.chat_calls == 1
