"""Isolation, property-based: random adds (verbatim and inferred), updates, deletes and
delete_alls across users, agents and runs — with look-alike ids ("alice", "Alice",
"alice ", an agent called "alice", quotes, emoji) — never let a memory, a history entry
or a graph relation cross its scope. A scope's calls see and change exactly the memories
whose ids match every id the call sets."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mem_integrations import Event, Memory, MemoryNotFoundError
from mem_integrations.core.records import content_hash
from tests.reliability.support import consistency

SCOPE_KEYS = ("user_id", "agent_id", "run_id")
USERS = ["alice", "Alice", "alice ", "bob", "o'brien\"; DROP TABLE history; --", "ålice 🙂"]
AGENTS = ["alice", "helper"]
RUNS = ["r1", "r2"]
SHAPES = [("user_id",), ("user_id", "run_id"), ("agent_id",), ("user_id", "agent_id"),
          ("run_id",), ("user_id", "agent_id", "run_id")]
SENTENCES = ["I live in Paris.", "I moved to Rome now.", "I like jazz.", "I no longer like jazz.",
             "My sister is Anna.", "I work at Acme.", "I work at Paris.",
             "I switched to drinking tea these days.", "I keep my passport in the desk."]
NOTES = ["Allergic to peanuts", "Bank PIN hint is the dog's name", "Prefers window seats",
         "allergic to peanuts.", "Takes insulin at 8am", "Likes jazz"]


def matches(item_scope: dict[str, Any], scope: dict[str, str]) -> bool:
    return all(item_scope.get(k) == v for k, v in scope.items())


scopes = st.builds(
    lambda shape, u, a, r: {k: {"user_id": u, "agent_id": a, "run_id": r}[k] for k in shape},
    st.sampled_from(SHAPES), st.sampled_from(USERS), st.sampled_from(AGENTS),
    st.sampled_from(RUNS))


class IsolationMachine(RuleBasedStateMachine):
    memory: Memory  # set by the test (one memory for every run; each run its own ids)

    def __init__(self) -> None:
        super().__init__()
        self.ns = uuid.uuid4().hex[:6]
        self.items: dict[str, tuple[str, dict[str, str]]] = {}  # id -> (text, scope)
        self.ops = 0

    def real(self, scope: dict[str, str]) -> dict[str, str]:
        return {k: f"{self.ns}:{v}" for k, v in scope.items()}

    def expected(self, scope: dict[str, str]) -> dict[str, str]:
        return {i: t for i, (t, s) in self.items.items() if matches(s, scope)}

    def apply(self, events: list[Any], scope: dict[str, str], *, inferred: bool) -> None:
        for e in events:
            if e.event is Event.ADD:
                assert e.id not in self.items
                self.items[e.id] = (e.memory, scope)
            elif e.event in (Event.UPDATE, Event.DELETE):
                assert inferred, "a verbatim add changed an existing memory"
                assert e.id in self.items, "an add changed a memory that does not exist"
                target = self.items[e.id][1]
                assert matches(target, scope), f"add({scope}) changed a memory of {target}"
                if e.event is Event.UPDATE:
                    self.items[e.id] = (e.memory, target)
                else:
                    del self.items[e.id]

    @rule(scope=scopes, texts=st.lists(st.sampled_from(NOTES), min_size=1, max_size=3))
    def add_verbatim(self, scope: dict[str, str], texts: list[str]) -> None:
        scope = self.real(scope)
        known = {content_hash(t) for t in self.expected(scope).values()}
        result = self.memory.add([{"role": "user", "content": t} for t in texts],
                                 infer=False, **scope)
        fresh = list(dict.fromkeys(content_hash(t) for t in texts if content_hash(t) not in known))
        assert [content_hash(e.memory) for e in result.results] == fresh
        self.apply(result.results, scope, inferred=False)

    @rule(scope=scopes, sentences=st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=2))
    def add_inferred(self, scope: dict[str, str], sentences: list[str]) -> None:
        scope = self.real(scope)
        result = self.memory.add(" ".join(sentences), **scope)
        self.apply(result.results, scope, inferred=True)

    @precondition(lambda self: self.items)
    @rule(data=st.data(), text=st.sampled_from(NOTES + ["Moved the passport to the safe"]))
    def update(self, data: Any, text: str) -> None:
        memory_id = data.draw(st.sampled_from(list(self.items)))  # order of creation
        self.memory.update(memory_id, text=text)
        self.items[memory_id] = (text, self.items[memory_id][1])

    @precondition(lambda self: self.items)
    @rule(data=st.data())
    def delete(self, data: Any) -> None:
        memory_id = data.draw(st.sampled_from(list(self.items)))  # order of creation
        self.memory.delete(memory_id)
        del self.items[memory_id]
        with pytest.raises(MemoryNotFoundError):
            self.memory.get(memory_id)

    @rule(scope=scopes)
    def delete_all(self, scope: dict[str, str]) -> None:
        scope = self.real(scope)
        doomed = self.expected(scope)
        result = self.memory.delete_all(**scope)
        assert result.count == len(doomed)
        for memory_id in doomed:
            del self.items[memory_id]
        after = self.memory.get_all(**scope)
        assert after.results == []
        assert not after.relations, f"relations of {scope} survived delete_all"

    @rule(scope=scopes, query=st.sampled_from(["where does the user live", "passport",
                                               "allergies", "music"]))
    def search(self, scope: dict[str, str], query: str) -> None:
        scope = self.real(scope)
        allowed = self.expected(scope)
        for hit in self.memory.search(query, limit=20, **scope).results:
            assert hit.id in allowed, f"search({scope}) returned {hit.memory!r} of another scope"
            assert matches(hit.model_dump(), scope)

    @invariant()
    def every_scope_sees_exactly_its_memories(self) -> None:
        self.ops += 1
        for shape in SHAPES:
            for u, a, r in ((USERS[0], AGENTS[0], RUNS[0]), (USERS[1], AGENTS[1], RUNS[1]),
                            (USERS[2], AGENTS[0], RUNS[1])):
                scope = self.real({k: {"user_id": u, "agent_id": a, "run_id": r}[k]
                                   for k in shape})
                got = self.memory.get_all(**scope)
                assert {m.id: m.memory for m in got.results} == self.expected(scope), scope
                for item in got.results:
                    assert matches(item.model_dump(), scope)

    @invariant()
    def history_entries_stay_in_their_memory_scope(self) -> None:
        for memory_id, (_, scope) in list(self.items.items())[-3:]:
            for entry in self.memory.history(memory_id):
                for key in SCOPE_KEYS:
                    value = getattr(entry, key)
                    assert value is None or value == scope.get(key), (entry, scope)


EXAMPLES = int(os.environ.get("RELIABILITY_EXAMPLES", "12"))


@pytest.mark.parametrize("backend", ["qdrant_edge"])
@pytest.mark.parametrize("graph", [False, True], ids=["vectors", "vectors+graph"])
def test_no_memory_history_or_relation_crosses_scope(make_memory, graph) -> None:
    extra = {"graph_store": {"provider": "ladybug"}} if graph else {}
    IsolationMachine.memory = make_memory(offline=True, **extra)
    run_state_machine_as_test(IsolationMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=12, deadline=None,
        derandomize=os.environ.get("RELIABILITY_RANDOM") != "1",
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
    findings = consistency(IsolationMachine.memory)
    # update(id, text=...) may set the text of another memory on purpose: de-duplication
    # is the add pipeline's job, so the `update` rule can make legitimate duplicates.
    findings.counts.pop("duplicates", None)
    assert not +findings.counts, findings.as_dict()


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_delete_all_removes_every_relation_of_the_user(make_memory) -> None:
    """Was: a {run_id} add re-scoped alice's (alice, run) entities; delete_all(user_id='alice') then missed her relation."""
    memory = make_memory(offline=True, graph_store={"provider": "ladybug"})
    memory.add("I live in Paris", user_id="alice", run_id="r1")
    memory.add("I work at Paris", run_id="r1")  # another scope, same entity names
    memory.delete_all(user_id="alice")
    assert memory.get_all(user_id="alice").relations == []


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_delete_all_of_a_user_keeps_the_relations_of_other_scopes(make_memory) -> None:
    """Was: a {run_id} write resolved entity names to alice's (alice, run) entities, and
    delete_all(user_id='alice') DETACH-deleted the run's own relations with them."""
    memory = make_memory(offline=True, graph_store={"provider": "ladybug"})
    memory.add("I live in Paris", user_id="alice", run_id="r1")
    memory.add("I like jazz", run_id="r1")  # the run's own relation, no user
    memory.delete_all(user_id="alice")
    left = [(r.source, r.relationship, r.destination)
            for r in memory.get_all(run_id="r1").relations]
    assert left == [("user", "likes", "jazz")]
    assert not +consistency(memory).counts
