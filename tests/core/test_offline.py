"""The offline extractor keeps the library usable with no LLM."""

from __future__ import annotations

from mem_integrations import Event


def test_offline_extracts_sentences_and_applies_update_and_delete_rules(make_memory, llm):
    memory = make_memory(offline=True)
    first = memory.add([{"role": "user", "content": "Hi! I live in Paris. I play tennis every "
                                                    "week. What time is it?"},
                        {"role": "assistant", "content": "It is noon."}], user_id="alice")
    assert sorted(e.memory for e in first.results) == ["I live in Paris",
                                                      "I play tennis every week"]
    moved = memory.add("I moved to Berlin last month.", user_id="alice")
    assert [(e.event, e.previous_memory) for e in moved.results] == [
        (Event.UPDATE, "I live in Paris")]
    stopped = memory.add("I no longer play tennis.", user_id="alice")
    assert sorted(e.event.value for e in stopped.results) == ["ADD", "DELETE"]
    assert sorted(m.memory for m in memory.get_all(user_id="alice")) == [
        "I moved to Berlin last month", "I no longer play tennis"]
    assert llm.chat_calls == 0
