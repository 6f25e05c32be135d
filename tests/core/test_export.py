"""Export: the scope's memories filled into a schema by one LLM call, and an exact JSONL
round trip of memories, history and relations that is idempotent on import."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from mem_integrations.core.errors import ConfigurationError, InvalidInputError
from tests.conftest import facts


@pytest.fixture
def backend() -> str:
    """One vector store: the store is not what these tests are about."""
    return "qdrant_edge"


class Profile(BaseModel):
    name: str | None = None
    city: str | None = None
    hobbies: list[str] = []


def test_export_fills_a_pydantic_model_in_one_call(make_memory, llm):
    memory = make_memory()
    llm.queue(facts("User's name is Alice", "User lives in Lyon"))
    memory.add("I'm Alice and I live in Lyon", user_id="alice")
    llm.reset_counts()

    llm.queue({"name": "Alice", "city": "Lyon", "hobbies": []})
    profile = memory.export(Profile, user_id="alice", instructions="Cities in English.")
    assert profile == Profile(name="Alice", city="Lyon")
    assert llm.chat_calls == 1
    call = llm.calls[0]
    assert "User lives in Lyon" in call.user and "Cities in English." in call.system
    assert call.body["response_format"]["json_schema"]["schema"] == Profile.model_json_schema()


def test_export_with_a_json_schema_returns_a_dict(make_memory, llm):
    memory = make_memory()
    schema = {"title": "Prefs", "type": "object",
              "properties": {"diet": {"type": "string"}}}
    llm.queue({"diet": "vegetarian"})
    assert memory.export(schema, user_id="bob") == {"diet": "vegetarian"}


def test_export_needs_a_scope_a_schema_and_an_llm(make_memory):
    memory = make_memory(offline=True)
    with pytest.raises(ConfigurationError, match="needs an LLM"):
        memory.export(Profile, user_id="alice")
    with pytest.raises(InvalidInputError, match="pydantic model class or a JSON schema"):
        memory.export("a profile", user_id="alice")


def test_jsonl_round_trip_is_exact_and_importing_twice_keeps_one_copy(make_memory, llm,
                                                                      tmp_path):
    source = make_memory(data_dir=tmp_path / "a")
    llm.queue(facts("User lives in Lyon", "User likes tea"))
    source.add("I live in Lyon and like tea", user_id="alice", metadata={"k": 1})
    [tea] = [m for m in source.get_all(user_id="alice") if m.memory == "User likes tea"]
    source.update(tea.id, "User likes green tea")
    llm.queue(facts("Bob plays chess"))
    source.add("Bob here, I play chess", user_id="bob")

    path = tmp_path / "backup.jsonl"
    assert source.export_jsonl(path, user_id="alice") == 2
    header = json.loads(path.read_text().splitlines()[0])
    assert header["type"] == "header" and header["format"] == "mem-integrations.jsonl"
    assert source.export_jsonl(tmp_path / "all.jsonl") == 3  # no scope: everything

    target = make_memory(data_dir=tmp_path / "b")
    first = target.import_jsonl(path)
    again = target.import_jsonl(path)
    assert (first.memories, first.history_new) == (2, 3)
    assert (again.history_new, again.history_present) == (0, 3)

    def snapshot(memory):
        items = sorted(memory.get_all(user_id="alice"), key=lambda m: m.id)
        return ([m.model_dump() for m in items],
                [[h.model_dump() for h in memory.history(m.id)] for m in items])

    assert snapshot(target) == snapshot(source)
    assert target.get_all(user_id="bob").results == []
    assert target.search("green tea", user_id="alice").results[0].memory == "User likes green tea"


def test_a_backup_keeps_the_history_of_deleted_memories(make_memory, llm, tmp_path):
    source = make_memory(data_dir=tmp_path / "a")
    llm.queue(facts("User lives in Lyon", "User likes tea"))
    source.add("I live in Lyon and like tea", user_id="alice")
    [tea] = [m for m in source.get_all(user_id="alice") if m.memory == "User likes tea"]
    source.delete(tea.id)
    path = tmp_path / "backup.jsonl"
    assert source.export_jsonl(path, user_id="alice") == 1
    target = make_memory(data_dir=tmp_path / "b")
    target.import_jsonl(path)
    assert [h.model_dump() for h in target.history(tea.id)] == \
        [h.model_dump() for h in source.history(tea.id)]
    assert [h.event.value for h in target.history(tea.id)] == ["ADD", "DELETE"]


def test_a_file_that_is_not_an_export_is_refused_before_writing(make_memory, tmp_path):
    memory = make_memory(offline=True)
    path = tmp_path / "other.jsonl"
    path.write_text('{"role": "user", "content": "hi"}\n')
    with pytest.raises(InvalidInputError, match="not a mem-integrations.jsonl file"):
        memory.import_jsonl(path)


def test_jsonl_round_trip_carries_the_graph_relations(make_memory, llm, tmp_path):
    graph = {"graph_store": {"provider": "ladybug"}}
    source = make_memory(data_dir=tmp_path / "a", **graph)
    reply = facts("User lives in Lyon")
    reply["entities"] = [{"name": "user", "type": "person"}, {"name": "Lyon", "type": "city"}]
    reply["relations"] = [{"source": "user", "relation": "lives_in", "target": "Lyon"}]
    llm.queue(reply)
    source.add("I live in Lyon", user_id="alice")
    path = tmp_path / "backup.jsonl"
    source.export_jsonl(path, user_id="alice")

    target = make_memory(data_dir=tmp_path / "b", **graph)
    assert target.import_jsonl(path).relations == 1
    target.import_jsonl(path)
    relations = target.get_all(user_id="alice").relations
    assert [(r.source, r.relationship, r.destination) for r in relations] == [
        ("user", "lives_in", "Lyon")]
