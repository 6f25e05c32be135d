"""The public API on every backend: reading, changing, filters, isolation, bad input."""

from __future__ import annotations

import pytest

from mem_integrations import (
    Event,
    FilterError,
    InvalidInputError,
    MemoryNotFoundError,
    MissingScopeError,
)


def remember(memory, texts, **scope):
    """Store texts verbatim (no LLM) and return their ids in order."""
    return [e.id for e in memory.add([{"role": "user", "content": t} for t in texts],
                                     infer=False, **scope).results]


@pytest.fixture
def memory(make_memory):
    return make_memory()


def test_search_ranks_relevant_memories_first(memory):
    remember(memory, ["Alice lives in Paris", "Alice works as a nurse at the city hospital",
                      "Alice has a cat named Miso", "Alice plays tennis on Sundays"],
             user_id="alice")
    results = memory.search("What is the name of her cat?", user_id="alice", limit=2).results
    assert results[0].memory == "Alice has a cat named Miso"
    assert len(results) == 2
    assert all(0 < r.score <= 1 for r in results)


def test_lexical_signal_finds_rare_exact_terms(memory):
    texts = [f"Alice noted a weekly chore number {i}" for i in range(30)]
    texts.append("The wifi password is XK42-ZEBRA")
    remember(memory, texts, user_id="alice")
    top = memory.search("XK42-ZEBRA", user_id="alice", limit=1).results
    assert top[0].memory == "The wifi password is XK42-ZEBRA"


def test_threshold_drops_weak_matches(memory):
    remember(memory, ["Alice has a cat named Miso", "The quarterly tax form is due in April"],
             user_id="alice")
    everything = memory.search("pet cat", user_id="alice", limit=5).results
    assert len(everything) == 2
    strong = memory.search("pet cat", user_id="alice", limit=5, threshold=0.3).results
    assert [r.memory for r in strong] == ["Alice has a cat named Miso"]


def test_scopes_are_isolated(memory):
    remember(memory, ["Alice's secret is blue"], user_id="alice")
    remember(memory, ["Bob's secret is red"], user_id="bob")
    remember(memory, ["Run note for alice"], user_id="alice", run_id="r1")
    remember(memory, ["Agent rule"], agent_id="helper")
    assert {m.memory for m in memory.search("secret", user_id="bob").results} == {
        "Bob's secret is red"}
    assert {m.memory for m in memory.get_all(user_id="alice")} == {
        "Alice's secret is blue", "Run note for alice"}
    assert {m.memory for m in memory.get_all(user_id="alice", run_id="r1")} == {
        "Run note for alice"}
    assert {m.memory for m in memory.get_all(agent_id="helper")} == {"Agent rule"}
    memory.delete_all(user_id="bob")
    assert memory.get_all(user_id="bob").results == []
    assert len(memory.get_all(user_id="alice")) == 2
    users = {(u.type, u.id): u.total_memories for u in memory.users().results}
    assert users == {("user", "alice"): 2, ("run", "r1"): 1, ("agent", "helper"): 1}


def test_get_update_delete_and_history(memory):
    [memory_id] = remember(memory, ["Likes green tea"], user_id="alice")
    item = memory.get(memory_id)
    assert item.memory == "Likes green tea" and item.user_id == "alice"

    memory.update(memory_id, text="Likes jasmine tea", metadata={"source": "manual"})
    updated = memory.get(memory_id)
    assert updated.memory == "Likes jasmine tea" and updated.metadata == {"source": "manual"}
    assert updated.created_at == item.created_at and updated.updated_at is not None
    assert memory.search("jasmine", user_id="alice").results[0].id == memory_id

    memory.update(memory_id, metadata={"source": "import"})
    assert memory.get(memory_id).memory == "Likes jasmine tea"

    assert memory.delete(memory_id).id == memory_id
    with pytest.raises(MemoryNotFoundError):
        memory.get(memory_id)
    events = [(h.event, h.new_memory) for h in memory.history(memory_id)]
    assert events == [(Event.ADD, "Likes green tea"), (Event.UPDATE, "Likes jasmine tea"),
                      (Event.UPDATE, "Likes jasmine tea"), (Event.DELETE, None)]


def test_get_all_pages_past_any_internal_page_size(memory):
    remember(memory, [f"Fact number {i}" for i in range(600)], user_id="alice")
    everything = memory.get_all(user_id="alice").results
    assert len(everything) == 600
    assert len({m.id for m in everything}) == 600
    assert len(memory.get_all(user_id="alice", limit=250).results) == 250


def test_metadata_filters_with_operators(memory):
    for text, meta in [("Trip to Rome", {"kind": "travel", "year": 2023, "tags": ["eu", "city"]}),
                       ("Trip to Kyoto", {"kind": "travel", "year": 2025, "tags": ["asia"]}),
                       ("Likes ramen", {"kind": "food", "year": 2025}),
                       ("Likes pasta", {"kind": "food", "year": 2021, "note": "home made pasta"})]:
        memory.add(text, user_id="a", infer=False, metadata=meta)

    def names(filters):
        return sorted(m.memory for m in memory.get_all(user_id="a", filters=filters))

    assert names({"kind": "travel"}) == ["Trip to Kyoto", "Trip to Rome"]
    assert names({"kind": {"ne": "travel"}}) == ["Likes pasta", "Likes ramen"]
    assert names({"year": {"gte": 2025}}) == ["Likes ramen", "Trip to Kyoto"]
    assert names({"year": {"gt": 2021, "lt": 2025}}) == ["Trip to Rome"]
    assert names({"year": {"lte": 2021}}) == ["Likes pasta"]
    assert names({"kind": {"in": ["food"]}, "year": {"nin": [2021]}}) == ["Likes ramen"]
    assert names({"tags": {"contains": "asia"}}) == ["Trip to Kyoto"]
    assert names({"note": {"contains": "pasta"}}) == ["Likes pasta"]
    assert names({"OR": [{"year": 2023}, {"kind": "food", "year": 2021}]}) == [
        "Likes pasta", "Trip to Rome"]
    assert names({"NOT": [{"kind": "food"}]}) == ["Trip to Kyoto", "Trip to Rome"]
    assert names({"AND": [{"kind": "travel"}, {"NOT": [{"year": 2023}]}]}) == ["Trip to Kyoto"]
    assert names({"kind": "food", "year": {"ne": 2025}}) == ["Likes pasta"]
    assert names({"created_at": {"gte": "2000-01-01T00:00:00Z"}}) == [
        "Likes pasta", "Likes ramen", "Trip to Kyoto", "Trip to Rome"]
    found = memory.search("travel", user_id="a", filters={"year": 2025}).results
    assert [m.memory for m in found] == ["Trip to Kyoto", "Likes ramen"] or \
        sorted(m.memory for m in found) == ["Likes ramen", "Trip to Kyoto"]


def test_boolean_metadata_filters(memory):
    memory.add("Done task", user_id="a", infer=False, metadata={"done": True})
    memory.add("Open task", user_id="a", infer=False, metadata={"done": False})
    assert [m.memory for m in memory.get_all(user_id="a", filters={"done": True})] == ["Done task"]
    assert [m.memory for m in memory.get_all(user_id="a", filters={"done": False})] == ["Open task"]
    assert [m.memory for m in memory.get_all(user_id="a", filters={"done": {"ne": True}})] == [
        "Open task"]


@pytest.mark.parametrize("bad", [
    {"year": {"between": [1, 2]}}, {"year": {"in": "2025"}}, {"year": {"gt": "soon"}},
    {"bad key!": 1}, {"OR": "x"}, "kind=food", {"year": {"eq": 1.5}}, {"x": {}},
])
def test_malformed_filters_raise_filter_error(memory, bad):
    with pytest.raises(FilterError):
        memory.search("anything", user_id="a", filters=bad)


def test_bad_input_raises_typed_errors_and_changes_nothing(memory, llm):
    remember(memory, ["Existing memory"], user_id="a")
    cases = [
        (MissingScopeError, lambda: memory.add("hello there friend")),
        (MissingScopeError, lambda: memory.search("x")),
        (MissingScopeError, lambda: memory.get_all()),
        (MissingScopeError, lambda: memory.delete_all()),
        (InvalidInputError, lambda: memory.add("", user_id="a")),
        (InvalidInputError, lambda: memory.add([], user_id="a")),
        (InvalidInputError, lambda: memory.add([{"role": "system", "content": "x"}], user_id="a")),
        (InvalidInputError, lambda: memory.add({"role": "user"}, user_id="a")),
        (InvalidInputError, lambda: memory.add(42, user_id="a")),
        (InvalidInputError, lambda: memory.add("hi there you", user_id="")),
        (InvalidInputError, lambda: memory.add("hi there you", user_id="a", metadata="x")),
        (InvalidInputError, lambda: memory.add("hi there you", user_id="a",
                                               metadata={"bad.key": 1})),
        (InvalidInputError, lambda: memory.add("hi there you", user_id="a",
                                               metadata={"v": object()})),
        (InvalidInputError, lambda: memory.add("hi there you", user_id="a",
                                               memory_type="procedural_memory")),
        (InvalidInputError, lambda: memory.add("hi there you", user_id="a", memory_type="x")),
        (InvalidInputError, lambda: memory.search("", user_id="a")),
        (InvalidInputError, lambda: memory.search("x", user_id="a", limit=0)),
        (InvalidInputError, lambda: memory.get("not-a-uuid")),
        (MemoryNotFoundError, lambda: memory.get("00000000-0000-0000-0000-000000000000")),
        (MemoryNotFoundError, lambda: memory.update("00000000-0000-0000-0000-000000000000",
                                                    text="x")),
        (MemoryNotFoundError, lambda: memory.delete("00000000-0000-0000-0000-000000000000")),
        (InvalidInputError, lambda: memory.update("00000000-0000-0000-0000-000000000000")),
        (InvalidInputError, lambda: memory.reprocess("nope")),
    ]
    for error, call in cases:
        with pytest.raises(error):
            call()
    assert [m.memory for m in memory.get_all(user_id="a")] == ["Existing memory"]
    assert llm.chat_calls == 0
    assert memory.pending() == []


def test_errors_do_not_shadow_builtins():
    import builtins

    import mem_integrations

    assert mem_integrations.MemoryLayerError is not builtins.MemoryError
    assert issubclass(mem_integrations.MissingScopeError, mem_integrations.MemoryLayerError)
    assert issubclass(mem_integrations.InvalidInputError, ValueError)


def test_results_dump_to_mem0_shape(memory):
    [memory_id] = remember(memory, ["Likes tea"], user_id="alice")
    dumped = memory.search("tea", user_id="alice").model_dump()
    assert set(dumped) == {"results"}
    [hit] = dumped["results"]
    assert hit["id"] == memory_id and hit["memory"] == "Likes tea"
    assert hit["user_id"] == "alice" and "score" in hit and "agent_id" not in hit
    event = memory.add("Likes coffee", user_id="alice", infer=False).model_dump()
    assert event["results"][0]["event"] == "ADD"
    assert memory.history(memory_id)[0].model_dump()["event"] == "ADD"


def test_reset_removes_everything(memory):
    [memory_id] = remember(memory, ["Likes tea"], user_id="alice")
    memory.reset()
    assert memory.get_all(user_id="alice").results == []
    assert memory.history(memory_id) == []
    remember(memory, ["Works after reset"], user_id="alice")
    assert len(memory.get_all(user_id="alice")) == 1


def test_data_persists_across_reopen(make_memory, tmp_path, backend):
    first = make_memory(data_dir=tmp_path / "persist")
    [memory_id] = remember(first, ["Persistent fact"], user_id="alice")
    first.close()
    second = make_memory(data_dir=tmp_path / "persist")
    assert second.get(memory_id).memory == "Persistent fact"
    assert [h.event for h in second.history(memory_id)] == [Event.ADD]


def test_integrations_read_by_filter_across_scopes(memory):
    """scan / vector_search / fetch: what the LangGraph store reads with, so that no
    adapter touches the vector store, the embedder or the payload layout."""
    import uuid

    from mem_integrations.core.filters import Condition, all_of, scope_filter
    from mem_integrations.core.records import METADATA

    def put(text, user):
        return memory.add([{"role": "user", "content": text}], infer=False, user_id=user,
                          metadata={"topic": "drinks"}).results[0].id

    green, coffee = put("Alice likes green tea", "alice"), put("Bob drinks black coffee", "bob")
    [cat] = remember(memory, ["Alice has a cat named Miso"], user_id="alice")
    drinks = Condition(f"{METADATA}.topic", "eq", "drinks")

    assert sorted(m.id for m in memory.scan(drinks)) == sorted([green, coffee])
    assert [m.id for m in memory.scan(all_of(drinks, scope_filter({"user_id": "alice"})))] == [
        green]

    nearest = memory.vector_search("green tea", drinks, limit=2)
    assert [m.id for m in nearest] == [green, coffee]
    assert 0 < nearest[1].score < nearest[0].score <= 1
    assert [m.id for m in memory.vector_search("green tea", drinks, limit=5, offset=1)] == [
        coffee]

    fetched = memory.fetch([cat, green, str(uuid.uuid4()), cat])
    assert [(m.id, m.score) for m in fetched] == [(cat, None), (green, None)]
    assert fetched[1].memory == "Alice likes green tea" and fetched[1].metadata == {
        "topic": "drinks"}
    ranked = {m.id: m.score for m in memory.fetch([cat, green], query="green tea")}
    assert ranked[green] == pytest.approx(nearest[0].score, abs=1e-4)
    assert ranked[green] > ranked[cat]

    with pytest.raises(InvalidInputError):
        memory.scan({"topic": "drinks"})  # the caller's dict syntax is `filters=`, not this
    with pytest.raises(InvalidInputError):
        memory.vector_search("tea", drinks, limit=0)
    with pytest.raises(InvalidInputError):
        memory.fetch(["not-a-uuid"])
