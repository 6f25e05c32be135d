"""Cross-scope isolation at volume: thousands of random adds (verbatim and inferred, graph
memory on), updates, deletes, delete_alls and searches across users, agents and runs with
look-alike ids. After every operation the touched scope and a random other one are read
back and compared with a model; now and then every scope and every history is checked.
A leak is any memory, history entry or relation that a scope's call returns or changes
while it does not belong to that scope."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from mem_integrations import Memory
from mem_integrations.core.models import Event
from mem_integrations.core.records import content_hash
from stress.common import (
    HashEmbedder,
    check_snapshot,
    graph_relations,
    memory_config,
    snapshot,
)

KEYS = ("user_id", "agent_id", "run_id")
USERS = ["alice", "Alice", "alice ", "bob", "o'brien\"; DROP TABLE history; --", "ålice 🙂",
         "../../etc", "*"]
AGENTS = ["alice", "helper", "bob"]
RUNS = ["r1", "r2", "R1"]
SHAPES = [("user_id",), ("user_id", "run_id"), ("agent_id",), ("user_id", "agent_id"),
          ("run_id",), ("user_id", "agent_id", "run_id"), ("agent_id", "run_id")]
SENTENCES = ["I live in Paris.", "I moved to Rome now.", "I like jazz.", "I no longer like jazz.",
             "My sister is Anna.", "I work at Acme.", "I work at Paris.",
             "I switched to drinking tea these days.", "I keep my passport in the desk."]
NOTES = ["Allergic to peanuts", "Bank PIN hint is the dog's name", "Prefers window seats",
         "Takes insulin at 8am", "Likes jazz", "Home address is 12 Elm Street"]


def matches(item: dict[str, Any], scope: dict[str, str]) -> bool:
    return all(item.get(k) == v for k, v in scope.items())


def run_isolation(workdir: Path, *, ops: int = 1500, seed: int = 0, full_every: int = 100,
                  progress: Any = None) -> dict[str, Any]:
    rng = random.Random(seed)
    ns = uuid.uuid4().hex[:4]
    counts: Counter[str] = Counter()
    leaks: Counter[str] = Counter()
    other: Counter[str] = Counter()
    examples: list[str] = []
    items: dict[str, tuple[str, dict[str, str]]] = {}
    memory = Memory(memory_config(workdir / f"isolation-{seed}", graph=True),
                    embedder=HashEmbedder())
    started = time.monotonic()

    def scope() -> dict[str, str]:
        shape = rng.choice(SHAPES)
        values = {"user_id": rng.choice(USERS), "agent_id": rng.choice(AGENTS),
                  "run_id": rng.choice(RUNS)}
        return {k: f"{ns}:{values[k]}" for k in shape}

    def expected(s: dict[str, str]) -> dict[str, str]:
        return {i: t for i, (t, sc) in items.items() if matches(sc, s)}

    def leak(kind: str, detail: Any) -> None:
        leaks[kind] += 1
        if len(examples) < 10:
            examples.append(f"{kind}: {detail}")

    def check_scope(s: dict[str, str]) -> None:
        counts["scope_reads_checked"] += 1
        got = memory.get_all(**s)
        want = expected(s)
        for item in got.results:
            if not matches(item.model_dump(), s):
                leak("get_all_returned_another_scope", (s, item.memory))
            elif item.id not in want:
                other["get_all_returned_unexpected"] += 1
        if {m.id for m in got.results} != set(want):
            missing = set(want) - {m.id for m in got.results}
            if missing:
                other["get_all_missing_memories"] += len(missing)

    def apply(events: list[Any], s: dict[str, str]) -> None:
        for e in events:
            if e.event is Event.ADD:
                items[e.id] = (e.memory, s)
            elif e.event in (Event.UPDATE, Event.DELETE):
                target = items.get(e.id)
                if target is None:
                    other["change_of_unknown_memory"] += 1
                    continue
                if not matches(target[1], s):
                    leak("add_changed_a_memory_of_another_scope", (s, target))
                if e.event is Event.UPDATE:
                    items[e.id] = (e.memory, target[1])
                else:
                    del items[e.id]

    for n in range(ops):
        s = scope()
        roll = rng.random()
        if roll < 0.3:
            texts = rng.sample(NOTES, rng.randint(1, 2))
            result = memory.add([{"role": "user", "content": t} for t in texts], infer=False, **s)
            known = {content_hash(t) for t in expected(s).values()}
            if any(content_hash(e.memory) in known for e in result.results):
                other["verbatim_duplicate_added"] += 1
            apply(result.results, s)
            counts["adds_verbatim"] += 1
        elif roll < 0.6:
            result = memory.add(" ".join(rng.sample(SENTENCES, rng.randint(1, 2))), **s)
            apply(result.results, s)
            counts["adds_inferred"] += 1
        elif roll < 0.7 and items:
            memory_id = rng.choice(list(items))
            text = rng.choice(NOTES) + f" (v{n})"
            memory.update(memory_id, text=text)
            items[memory_id] = (text, items[memory_id][1])
            counts["updates"] += 1
        elif roll < 0.8 and items:
            memory_id = rng.choice(list(items))
            memory.delete(memory_id)
            del items[memory_id]
            counts["deletes"] += 1
        elif roll < 0.85:
            doomed = expected(s)
            result = memory.delete_all(**s)
            if result.count != len(doomed):
                leak("delete_all_count_differs", (s, result.count, len(doomed)))
            for memory_id in doomed:
                del items[memory_id]
            after = memory.get_all(**s)
            if after.results:
                leak("delete_all_left_memories", s)
            if after.relations:
                leak("delete_all_left_relations", (s, after.relations[:2]))
            counts["delete_alls"] += 1
        else:
            allowed = expected(s)
            for hit in memory.search(rng.choice(["where do I live", "passport", "jazz", "PIN"]),
                                     limit=20, **s).results:
                if not matches(hit.model_dump(), s) or hit.id not in allowed:
                    leak("search_returned_another_scope", (s, hit.memory))
            counts["searches"] += 1
        counts["operations"] += 1
        check_scope(s)
        check_scope(scope())
        if (n + 1) % full_every == 0 or n == ops - 1:
            full_check(memory, items, counts, leaks, other, examples, ns)
            if progress:
                progress(n + 1, ops)
    counts["memories_at_end"] = len(items)
    counts["seconds"] = round(time.monotonic() - started)
    memory.close()
    return {"counts": dict(counts), "leaks": dict(leaks), "other": dict(other),
            "examples": examples}


def full_check(memory: Memory, items: dict[str, tuple[str, dict[str, str]]],
               counts: Counter[str], leaks: Counter[str], other: Counter[str],
               examples: list[str], ns: str) -> None:
    """Every history entry and every relation against its owner's scope; the stores'
    agreement rules."""
    counts["full_checks"] += 1
    state = memory.run(snapshot(memory.async_memory))
    findings = check_snapshot(state)
    for kind, n in findings.counts.items():
        if kind in ("history_crosses_scope", "graph_crosses_scope"):
            leaks[kind] += n
            if len(examples) < 10:
                examples.append(f"{kind}: {findings.examples[kind][:1]}")
        elif kind == "duplicates":
            counts["duplicates_made_by_update_calls"] += n  # update(text=...) may do that
        else:
            other[f"store_disagreement_{kind}"] += n
            if len(examples) < 10:
                examples.append(f"{kind}: {findings.examples[kind][:1]}")
    for memory_id, (_, scope) in items.items():
        counts["history_entries_checked"] += 1
        for entry in memory.history(memory_id):
            for key in KEYS:
                value = getattr(entry, key)
                if value is not None and value != scope.get(key):
                    leaks["history_entry_of_another_scope"] += 1
    relations = memory.run(_relations(memory))
    counts["relations_checked"] += len(relations)
    for rel in relations:
        if not rel["user_id"] and not rel["agent_id"] and not rel["run_id"]:
            leaks["relation_without_scope"] += 1
        if any(v is not None and not str(v).startswith(f"{ns}:")
               for v in (rel["user_id"], rel["agent_id"], rel["run_id"])):
            leaks["relation_of_a_foreign_namespace"] += 1


async def _relations(memory: Memory) -> list[dict[str, Any]]:
    import asyncio

    return await asyncio.to_thread(graph_relations, memory.async_memory.graph)
