"""The ranking steps after fusion (`search.ranking`), each on its own: neighbouring turns
as context, pseudo-relevance query expansion, MMR and recency — through `search` on the
embedded store where the step needs stored data, and on ranked lists for the arithmetic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.config import MemoryConfig, load_config
from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.models import PutItem
from mem_integrations.core.records import CREATED_AT, DATA
from mem_integrations.core.search.diversity import diversified
from mem_integrations.core.search.expansion import expanded_query, rescored
from mem_integrations.core.search.fusion import Ranked, cosine
from mem_integrations.core.search.neighbours import with_neighbours
from mem_integrations.core.search.recency import with_recency
from mem_integrations.core.search.speaker import named_speakers, with_speakers, without_names
from mem_integrations.core.stores.base import Hit
from tests.conftest import vector_store_config


def _ranked(fused: float, *, vector: list[float] | None = None, **payload: Any) -> Ranked:
    return Ranked(Hit(str(uuid.uuid4()), fused, payload, vector), fused, fused)


def _memory(tmp_path: Path, embedder: Any, **ranking: Any) -> Memory:
    return Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"},
                   "search": {"ranking": ranking}}, embedder=embedder)


CHAT = [  # (session, turn, text): the answer turn shares no word with the question
    (1, 1, "Melanie: Did you end up going to the pottery workshop in Porto?"),
    (1, 2, "Caroline: Yes! Last Saturday, and I made two bowls."),
    (1, 3, "Melanie: I spent the weekend repainting my kitchen."),
    (2, 1, "Caroline: My brother visited from Berlin for a week."),
    (2, 2, "Melanie: I finally finished the novel about lighthouses."),
    (2, 3, "Caroline: We went hiking near the coast on Sunday."),
    (3, 1, "Caroline: Should I go to the writing workshop at the library?"),
    (3, 2, "Melanie: Caroline, did you go to the gym this week?"),
    (3, 3, "Caroline: I did go, my workshop friends came too."),
]


def _fill_chat(memory: Memory) -> dict[tuple[int, int], str]:
    ids = {(s, t): str(uuid.uuid5(uuid.NAMESPACE_URL, f"{s}:{t}")) for s, t, _ in CHAT}
    memory.put_many([PutItem(id=ids[s, t], text=text, user_id="c",
                             metadata={"session": s, "turn": t}) for s, t, text in CHAT])
    return ids


def test_a_reply_is_found_through_the_turn_before_it(tmp_path, embedder):
    query = "Did Caroline go to the pottery workshop in Porto?"
    answer = str(uuid.uuid5(uuid.NAMESPACE_URL, "1:2"))
    ranks = {}
    for weight in (0.0, 0.6):
        # each turn embedded alone: the neighbour step is what is measured
        memory = _memory(tmp_path / str(weight), embedder, neighbour_weight=weight,
                         previous_turn_context=False)
        try:
            _fill_chat(memory)
            order = [r.id for r in memory.search(query, user_id="c").results]
        finally:
            memory.close()
        ranks[weight] = order.index(answer)
    assert ranks[0.0] > 2  # alone, the reply is not near the top
    assert ranks[0.6] == 1  # with its question as context, right after it


def test_neighbours_are_same_thread_adjacent_turns_only():
    question = _ranked(1.0, metadata={"session": 1, "turn": 1})
    reply = _ranked(0.1, metadata={"session": 1, "turn": 2})
    other_thread = _ranked(0.1, metadata={"session": 2, "turn": 2})
    far = _ranked(0.1, metadata={"session": 1, "turn": 4})
    no_place = _ranked(0.1, metadata={"session": 1, "turn": "2"})
    out = {id(r.hit): r.fused for r in with_neighbours(
        [question, reply, other_thread, far, no_place], weight=0.5, thread_key="session",
        position_key="turn")}
    assert out[id(reply.hit)] == pytest.approx(0.6)
    assert out[id(question.hit)] == pytest.approx(1.05)  # its reply is a neighbour too
    assert [out[id(r.hit)] for r in (other_thread, far, no_place)] == [0.1, 0.1, 0.1]


def test_expansion_moves_the_query_towards_the_best_candidates():
    query = [1.0, 0.0, 0.0]
    top = [_ranked(0.9, vector=[0.0, 1.0, 0.0]), _ranked(0.8, vector=[0.0, 0.0, 1.0])]
    moved = expanded_query(query, top, weight=1.0, docs=1)
    assert sum(v * v for v in moved) == pytest.approx(1.0)
    assert moved[1] > 0 and moved[2] == pytest.approx(0.0)  # only the best one counted
    hits = rescored(moved, top)
    assert [h.id for h in hits] == [top[0].hit.id, top[1].hit.id]
    assert hits[0].score == pytest.approx(cosine(moved, [0.0, 1.0, 0.0]))


def test_expansion_keeps_the_users_score_the_cosine_to_the_query(tmp_path, embedder):
    memory = _memory(tmp_path, embedder, expansion_weight=0.8, previous_turn_context=False)
    try:
        _fill_chat(memory)
        [query_vector] = embedder.embed_sync(["pottery bowls"])
        for item in memory.search("pottery bowls", user_id="c").results:
            [vector] = embedder.embed_sync([item.memory])
            assert item.score == pytest.approx(cosine(query_vector, vector), abs=1e-4)
    finally:
        memory.close()


def test_a_memory_only_its_words_found_shows_its_cosine_as_score(tmp_path, embedder,
                                                                 backend):
    """The dense side returns one candidate here; the others come from BM25 alone and
    are scored by the store over their ids (no vectors travel)."""
    memory = Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"},
                     "vector_store": vector_store_config(backend, tmp_path),
                     "search": {"candidates": 1}}, embedder=embedder)
    try:
        for text in ("pottery bowls on Saturday", "the bowls were blue", "I bought bowls",
                     "a trip to Porto"):
            memory.add(text, user_id="c", infer=False)
        [query_vector] = embedder.embed_sync(["bowls"])
        found = memory.search("bowls", user_id="c").results
        assert len(found) >= 3
        for item in found:
            [vector] = embedder.embed_sync([item.memory])
            assert item.score == pytest.approx(cosine(query_vector, vector), abs=1e-4)
    finally:
        memory.close()


def test_mmr_moves_a_near_duplicate_below_a_different_result():
    same = [1.0, 0.0]
    ranked = [_ranked(1.0, vector=same), _ranked(0.95, vector=[0.99, 0.01]),
              _ranked(0.9, vector=[0.0, 1.0])]
    assert diversified(ranked, lambda_=1.0, limit=3) == ranked  # pure relevance
    reordered = diversified(ranked, lambda_=0.7, limit=3)
    assert [r.hit.id for r in reordered] == [ranked[0].hit.id, ranked[2].hit.id,
                                             ranked[1].hit.id]


def test_mmr_through_search_keeps_every_result(tmp_path, embedder):
    memory = _memory(tmp_path, embedder, mmr_lambda=0.5)
    try:
        ids = _fill_chat(memory)
        found = memory.search("hiking on the coast", user_id="c", limit=9).results
        assert sorted(r.id for r in found) == sorted(ids.values())
    finally:
        memory.close()


def test_recency_lifts_the_newer_of_two_equal_memories():
    now = datetime(2026, 1, 31, tzinfo=UTC)
    old = _ranked(0.5, **{CREATED_AT: (now - timedelta(days=300)).isoformat(), DATA: "a"})
    new = _ranked(0.5, **{CREATED_AT: (now - timedelta(days=1)).isoformat(), DATA: "b"})
    undated = _ranked(0.5, **{DATA: "c"})
    out = with_recency([old, undated, new], weight=0.2, half_life_days=30, now=now)
    assert out[0] is not new and out[0].hit is new.hit
    assert out[0].fused == pytest.approx(0.5 * (1 + 0.2 * 2 ** (-1 / 30)))
    assert {r.hit.id: r.fused for r in out}[undated.hit.id] == 0.5


@pytest.mark.parametrize("ranking", [{"neighbour_weight": -1}, {"mmr_lambda": 0},
                                     {"mmr_lambda": 1.5}, {"recency_half_life_days": 0},
                                     {"neighbours": 1}])
def test_bad_ranking_settings_are_refused_naming_the_key(ranking):
    with pytest.raises(ConfigurationError, match=f"search.ranking.{next(iter(ranking))}"):
        load_config({"search": {"ranking": ranking}})


def test_steps_that_did_not_help_on_locomo_dev_are_off_by_default():
    ranking = MemoryConfig().search.ranking
    assert (ranking.expansion_weight, ranking.mmr_lambda, ranking.recency_weight) == (0, None, 0)


def test_a_memory_said_by_the_person_the_query_names_gains():
    said = _ranked(0.5, metadata={"speaker": "Caroline"}, data="I research adoption agencies")
    told = _ranked(0.55, metadata={"speaker": "Melanie"}, data="Caroline, you research a lot")
    by_actor = _ranked(0.5, actor_id="Caroline", data="adoption, finally")
    full_name = _ranked(0.5, metadata={"speaker": "Caroline Smith"}, data="agencies")
    unnamed = _ranked(0.5, data="no speaker")
    out = {r.hit.id: r.fused for r in with_speakers(
        "What did caroline research?", [said, told, by_actor, full_name, unnamed],
        weight=0.2, speaker_key="speaker")}
    assert out[said.hit.id] == pytest.approx(0.6) and out[told.hit.id] == 0.55
    assert out[by_actor.hit.id] == pytest.approx(0.6)  # the message's name, without metadata
    assert out[full_name.hit.id] == out[unnamed.hit.id] == 0.5  # "Smith" is not asked


def test_speaker_weight_through_search(tmp_path, embedder):
    query = "What did Caroline say about the coast?"
    said = str(uuid.uuid5(uuid.NAMESPACE_URL, "2:3"))  # "Caroline: We went hiking near the coast"
    for weight in (0.0, 0.5):
        memory = _memory(tmp_path / str(weight), embedder, speaker_weight=weight,
                         neighbour_weight=0.0)
        try:
            ids = _fill_chat(memory)
            memory.put_many([PutItem(id=str(uuid.uuid4()), text=text, user_id="c",
                                     metadata={"speaker": speaker}) for speaker, text in [
                ("Melanie", "Melanie: Caroline, the coast was lovely in your photos!"),
                ("Melanie", "Melanie: Caroline, tell me about the coast trip.")]])
            memory.put_many([PutItem(id=ids[s, t], text=text, user_id="c",
                                     metadata={"session": s, "turn": t,
                                               "speaker": text.split(":")[0]})
                             for s, t, text in CHAT])
            order = [r.id for r in memory.search(query, user_id="c").results]
        finally:
            memory.close()
        if weight:
            assert order[0] == said
        else:
            assert order[0] != said  # Melanie's turns, which name Caroline, lead without it


def test_the_speakers_a_query_names_are_taken_out_of_the_text_searched():
    speakers = ["Caroline", "Melanie", "Caroline Smith", "小明", "明"]
    query = "What is Caroline's identity, and what did caroline research?"
    assert named_speakers(query, speakers) == ["Caroline"]  # "Smith" is not asked
    assert without_names(query, ["Caroline"]) == "What is identity, and what did research?"
    full = "When did Caroline Smith meet Melanie?"
    assert named_speakers(full, speakers) == ["Caroline", "Melanie", "Caroline Smith"]
    assert without_names(full, named_speakers(full, speakers)) == "When did meet ?"
    # CJK has no spaces between words: a name of two characters or more is found inside
    assert named_speakers("小明喜欢什么？", speakers) == ["小明"]
    assert without_names("小明喜欢什么？", ["小明"]) == "喜欢什么？"
    # nothing but the name: the query is searched as it is
    assert without_names("Caroline?", ["Caroline"]) == "Caroline?"


def test_a_chinese_speaker_is_named_without_spaces():
    said = _ranked(0.5, metadata={"speaker": "小明"}, data="我养了一只橘猫")
    other = _ranked(0.55, metadata={"speaker": "小红"}, data="小明的猫很可爱")
    out = {r.hit.id: r.fused for r in with_speakers(
        "小明养了什么宠物？", [said, other], weight=0.2, speaker_key="speaker")}
    assert out[said.hit.id] == pytest.approx(0.6) and out[other.hit.id] == 0.55


GREETINGS = [("Caroline", "My two cats, Oscar and Luna, sleep on my bed."),
             ("Melanie", "Caroline, how have you been, Caroline?"),
             ("Melanie", "Hi Caroline, long time no see!"),
             ("Melanie", "We got a new puppy last week.")]


@pytest.mark.parametrize("strip", [True, False])
def test_a_question_about_a_person_searches_for_the_subject_not_the_name(
        tmp_path, embedder, backend, strip):
    memory = Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"},
                     "vector_store": vector_store_config(backend, tmp_path),
                     "search": {"ranking": {"strip_speaker_names": strip}}}, embedder=embedder)
    with memory:
        memory.put_many([PutItem(id=str(uuid.uuid4()), text=f"{speaker}: {text}", user_id="c",
                                 metadata={"speaker": speaker}) for speaker, text in GREETINGS])
        found = memory.search("What pets does Caroline have?", user_id="c").results
        order = [r.memory.split(": ", 1)[1] for r in found]
        assert order[0] == GREETINGS[0][1]
        if strip:  # the turns that only say her name fall below the other one about pets
            assert order[1] == GREETINGS[3][1]
        else:
            assert order[1] == GREETINGS[1][1]
        # a result's score is the cosine to the text searched
        searched = "What pets does have?" if strip else "What pets does Caroline have?"
        [same] = memory.fetch([found[0].id], query=searched)
        assert found[0].score == pytest.approx(same.score, abs=1e-5)


def test_names_stay_in_the_query_where_the_speaker_match_cannot_tell_speakers_apart(
        tmp_path, embedder):
    people = ["Bob", "Carol", "Dan", "Erin", "Frank", "Alice", "Heidi"]
    jobs = ["nurse", "pilot", "chef", "judge", "baker", "teacher", "tailor"]
    with _memory(tmp_path, embedder) as memory:
        # facts Alice stated about everyone: her message name is every fact's actor_id,
        # which is not a turn's speaker, so her name stays what finds her own fact
        for person, job in zip(people, jobs, strict=True):
            memory.add([{"role": "user", "content": f"{person} works as a {job}",
                         "name": "Alice"}], user_id="a", infer=False)
        # turns of a diary, one speaker: every turn gains alike, the name is kept
        memory.put_many([PutItem(id=str(uuid.uuid4()), text=text, user_id="d",
                                 metadata={"speaker": "Alice"}) for text in (
            "Alice: Bob came over for tea.", "Alice: I planted tomatoes today.")])
        found = memory.search("What is Alice's job?", user_id="a").results
        assert found[0].memory == "Alice works as a teacher"
        query = "What did Alice plant?"
        top = memory.search(query, user_id="d").results[0]
        [same] = memory.fetch([top.id], query=query)
        assert top.score == pytest.approx(same.score, abs=1e-5)


def test_a_speaker_key_chosen_after_the_store_was_made_is_counted(tmp_path, embedder,
                                                                    backend):
    def memory(**ranking: Any) -> Memory:
        return Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"},
                       "vector_store": vector_store_config(backend, tmp_path),
                       "search": {"ranking": ranking}}, embedder=embedder)

    with memory() as first:
        first.add("I keep bees on the roof.", user_id="c", infer=False)
    with memory(speaker_key="author") as reopened:  # its index is made on this open
        reopened.put_many([PutItem(id=str(uuid.uuid4()), text=f"{speaker}: {text}",
                                   user_id="c", metadata={"author": speaker})
                           for speaker, text in GREETINGS])
        order = [r.memory for r in reopened.search("What pets does Caroline have?",
                                                   user_id="c").results]
        assert order[:2] == [f"{s}: {t}" for s, t in (GREETINGS[0], GREETINGS[3])]


def test_locomo_turns_carry_their_place_and_speaker(tmp_path):
    from mem_integrations.evals import load_locomo

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([{"sample_id": "s1", "conversation": {
        "speaker_a": "Ann", "speaker_b": "Bo", "session_1_date_time": "1 May 2023",
        "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "Hi Bo"},
                      {"speaker": "Bo", "dia_id": "D1:2", "text": "Hi"},
                      {"speaker": "Bo", "dia_id": "D:1:3", "text": "a malformed id"}]},
        "qa": [{"question": "Who said hi?", "evidence": ["D1:2"], "category": 4}]}]))
    facts, questions = load_locomo(path)
    assert [f.metadata for f in facts] == [
        {"dia_id": "D1:1", "session": 1, "turn": 1, "speaker": "Ann"},
        {"dia_id": "D1:2", "session": 1, "turn": 2, "speaker": "Bo"},
        {"dia_id": "D:1:3", "speaker": "Bo"}]  # no place for a malformed id: no neighbours
    assert questions[0].expected == ("D1:2",)


def test_a_memory_naming_an_entity_the_graph_found_gains():
    from mem_integrations.core.models import Relation
    from mem_integrations.core.search.graph_boost import with_graph_hits

    states = _ranked(0.5, data="She moved to Lyon last year")
    other = _ranked(0.55, data="Alice likes long walks")
    partial = _ranked(0.5, data="New York is big")  # new_york, named by its two words
    relations = [Relation(source="alice", relationship="lives_in", destination="lyon",
                          score=0.9),
                 Relation(source="bob", relationship="visited", destination="new_york",
                          score=0.4)]
    out = with_graph_hits([other, states, partial], relations, weight=0.5)
    fused = {r.hit.id: r.fused for r in out}
    assert fused[states.hit.id] == pytest.approx(0.5 * 1.45)  # Lyon, at 0.9 relevance
    assert fused[other.hit.id] == pytest.approx(0.55 * 1.45)  # Alice is an entity too
    assert fused[partial.hit.id] == pytest.approx(0.5 * 1.2)  # "new york" matches new_york
    assert with_graph_hits([other], [], weight=0.5) == [other]  # no graph hits: unchanged
