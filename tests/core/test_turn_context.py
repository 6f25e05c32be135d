"""Turn context (`search.ranking.previous_turn_context`): a verbatim turn is embedded
after the turn before it — through `add(..., infer=False)` and `put_many` on the embedded
store, with the real default embedder — and what that means for deleting, repairing and
the text users read."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.models import PutItem
from mem_integrations.core.search.fusion import cosine

QUESTION = "Melanie: Did you end up going to the pottery workshop in Porto?"
REPLY = "Caroline: Yes! Last Saturday, and I made two bowls."
ASKED = "Did Caroline go to the pottery workshop in Porto?"
FILLER = [
    "Melanie: I spent the weekend repainting my kitchen.",
    "Caroline: My brother visited from Berlin for a week.",
    "Melanie: I finally finished the novel about lighthouses.",
    "Caroline: We went hiking near the coast on Sunday.",
    "Caroline: Should I go to the writing workshop at the library?",
    "Melanie: Caroline, did you go to the gym this week?",
]


def _memory(path: Path, embedder: Any, *, context: bool = True) -> Memory:
    # the other ranking steps off, so the embedded text alone decides
    return Memory({"data_dir": str(path), "llm": {"provider": "offline"},
                   "search": {"ranking": {"previous_turn_context": context,
                                          "neighbour_weight": 0, "speaker_weight": 0}}},
                  embedder=embedder)


def _turns(*texts: str, session: int = 1, first: int = 1) -> list[PutItem]:
    return [PutItem(id=str(uuid.uuid4()), text=text, user_id="c",
                    metadata={"session": session, "turn": first + n})
            for n, text in enumerate(texts)]


def _score(memory: Memory, memory_id: str, query: str) -> float:
    found = {r.id: r.score for r in memory.search(query, user_id="c", limit=50).results}
    return found[memory_id]


def _vector(embedder: Any, text: str) -> list[float]:
    [vector] = embedder.embed_sync([text])
    return vector


def _assert_embedded_as(memory: Memory, embedder: Any, memory_id: str, text: str, *,
                        query: str = ASKED) -> None:
    """The memory's score for `query` is the cosine to `text` embedded: its vector."""
    assert _score(memory, memory_id, query) == pytest.approx(
        cosine(_vector(embedder, query), _vector(embedder, text)), abs=1e-4)


def test_a_reply_is_found_by_the_words_of_the_turn_it_answers(tmp_path, embedder):
    ranks = {}
    for context in (False, True):
        with _memory(tmp_path / str(context), embedder, context=context) as memory:
            items = _turns(QUESTION, REPLY) + _turns(*FILLER, session=2)
            memory.put_many(items)
            order = [r.id for r in memory.search(ASKED, user_id="c").results]
            reply = memory.get(items[1].id)
        ranks[context] = order.index(items[1].id)
        assert reply.memory == REPLY  # what users read is the turn as it was said
        assert not set(reply.metadata or {}) - {"session", "turn"}
    assert ranks[True] < ranks[False]
    assert ranks[True] <= 1  # right with (or after) the question it answers


def test_the_vector_is_the_turn_after_the_one_before_it_in_the_same_thread(tmp_path,
                                                                          embedder):
    with _memory(tmp_path, embedder) as memory:
        question, reply = _turns(QUESTION, REPLY)
        other_thread = _turns(FILLER[0], session=2, first=2)[0]
        memory.put_many([question, reply, other_thread])
        _assert_embedded_as(memory, embedder, reply.id, f"{QUESTION}\n{REPLY}")
        _assert_embedded_as(memory, embedder, question.id, QUESTION)
        _assert_embedded_as(memory, embedder, other_thread.id, FILLER[0])


def test_an_add_of_several_messages_embeds_each_after_the_one_before(tmp_path, embedder):
    with _memory(tmp_path, embedder) as memory:
        result = memory.add([{"role": "user", "content": QUESTION},
                             {"role": "assistant", "content": REPLY}],
                            user_id="c", infer=False)
        first, second = (e.id for e in result.results)
        _assert_embedded_as(memory, embedder, second, f"{QUESTION}\n{REPLY}")
        _assert_embedded_as(memory, embedder, first, QUESTION)


def test_one_speakers_messages_in_a_row_are_each_embedded_alone(tmp_path, embedder):
    with _memory(tmp_path, embedder) as memory:
        facts = ["Alice has a cat named Miso", "The quarterly tax form is due in April"]
        result = memory.add([{"role": "user", "content": t} for t in facts], user_id="c",
                            infer=False)
        for event, text in zip(result.results, facts, strict=True):
            _assert_embedded_as(memory, embedder, event.id, text, query="pet cat")


def test_deleting_a_turn_re_embeds_the_one_after_it_alone(tmp_path, embedder):
    """A forgotten text must not live on in another memory's vector."""
    with _memory(tmp_path, embedder) as memory:
        question, reply = _turns(QUESTION, REPLY)
        memory.put_many([question, reply])
        memory.delete(question.id)
        _assert_embedded_as(memory, embedder, reply.id, REPLY)
        assert memory.get(reply.id).memory == REPLY
        events = [h.event for h in memory.history(reply.id)]
        assert events[-1] == "UPDATE"  # its stored form changed; its text did not


def test_a_repair_embeds_the_same_text_again(tmp_path, embedder):
    with _memory(tmp_path, embedder) as memory:
        question, reply = _turns(QUESTION, REPLY)
        memory.put_many([question, reply])
        before = _score(memory, reply.id, ASKED)
        memory.repair()
        assert _score(memory, reply.id, ASKED) == pytest.approx(before, abs=1e-4)


def test_off_every_turn_is_embedded_alone(tmp_path, embedder):
    with _memory(tmp_path, embedder, context=False) as memory:
        question, reply = _turns(QUESTION, REPLY)
        memory.put_many([question, reply])
        _assert_embedded_as(memory, embedder, reply.id, REPLY)
