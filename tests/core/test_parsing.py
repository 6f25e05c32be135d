"""Tolerant reading of LLM replies."""

from __future__ import annotations

import pytest

from mem_integrations.core.models import Event
from mem_integrations.core.pipeline.parsing import UnparseableReply, parse_json_object
from mem_integrations.core.pipeline.schema import read_facts, read_operations


@pytest.mark.parametrize("reply", [
    '{"facts": []}',
    '```json\n{"facts": []}\n```',
    '<think>hmm {"facts": ["no"]}</think>{"facts": []}',
    'Here you go: {"facts": [],} and that is all.',
    "{'facts': []}",
    '{"facts": [] ',
])
def test_parses_near_json(reply):
    assert parse_json_object(reply) == {"facts": []}


@pytest.mark.parametrize("reply", ["", "   ", "no json at all", "[1, 2]", "<think>{\"a\": 1}"])
def test_rejects_replies_without_an_object(reply):
    with pytest.raises(UnparseableReply):
        parse_json_object(reply)


def test_facts_are_read_leniently():
    facts = read_facts({"facts": ["  Lives   in Paris ", {"text": "Has a cat", "categories": "pets"},
                                  {"text": ""}, 42, None]})
    assert [(f.text, f.categories) for f in facts] == [("Lives in Paris", []),
                                                       ("Has a cat", ["pets"])]


def test_missing_or_wrong_fact_list_is_unparseable():
    with pytest.raises(UnparseableReply):
        read_facts({"answer": []})
    with pytest.raises(UnparseableReply):
        read_facts({"facts": "Lives in Paris"})


def test_operations_are_read_leniently():
    operations = read_operations({"operations": [
        {"event": "update", "id": "3", "text": "x"}, {"event": "DELETE", "id": 1},
        {"event": "MAYBE", "id": 1}, {"id": 2}, "junk"]})
    assert [(o.event, o.id) for o in operations] == [(Event.UPDATE, 3), (Event.DELETE, 1)]
