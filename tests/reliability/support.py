"""Helpers of the reliability tests: reading what a `Memory` holds, and hypothesis
strategies for hostile LLM replies (the fault-injecting server lives in `stress.llm`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from mem_integrations import Memory
from stress.child import scenario_entry
from stress.common import Findings, HashEmbedder, check_snapshot, memory_config, snapshot
from stress.crash import context
from stress.llm import FaultyServer, schema_name, sensible_llm

__all__ = ["FaultyServer", "schema_name", "sensible_llm", "state", "consistency",
           "scope_items", "crash_in", "replies", "extraction_payloads", "reconcile_payloads"]


def state(memory: Memory) -> dict[str, Any]:
    """Everything the memory's stores hold (all scopes), see `stress.common.snapshot`."""
    return memory.run(snapshot(memory.async_memory))


def consistency(memory: Memory, **kwargs: Any) -> Findings:
    return check_snapshot(state(memory), **kwargs)


def crash_in(tmp_path: Path, scenario: str, *, reopen: bool = True) -> Any:
    """Run `scenario` (see `stress.child.scenario_entry`) in a fresh process that SIGKILLs
    itself at the crash point, then reopen its data directory here, as the user would
    (or, with `reopen=False`, return its config)."""
    config = memory_config(tmp_path / scenario, graph=True)
    ctx = context()
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=scenario_entry, args=(writer, config, scenario))
    process.start()
    writer.close()
    process.join(120)
    assert process.exitcode == -9, f"the scenario process ended with {process.exitcode}"
    reader.close()
    return Memory(config, embedder=HashEmbedder()) if reopen else config


def scope_items(memory: Memory, **scope: str) -> dict[str, str]:
    """id -> text of the scope's memories."""
    return {m.id: m.memory for m in memory.get_all(**scope).results}


# --- hostile LLM replies ----------------------------------------------------------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**18),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_any = st.recursive(
    json_leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10)

fact_texts = st.one_of(
    st.sampled_from(["Lives in Berlin", "Likes green tea", "Has a cat named Tom",
                     "lives in berlin.", "  Likes   green tea  ", "Lives in Paris"]),
    st.text(max_size=60))

fact_item = st.one_of(
    fact_texts,
    st.fixed_dictionaries({"text": st.one_of(fact_texts, json_leaf)},
                          optional={"categories": st.one_of(
                              st.lists(st.text(max_size=10), max_size=3), json_any)}),
    json_any)

well_formed_fact = st.fixed_dictionaries(
    {"text": fact_texts}, optional={"categories": st.lists(st.text(max_size=10), max_size=2)})

extraction_payloads = st.one_of(
    st.fixed_dictionaries({"facts": st.lists(well_formed_fact, max_size=4)}),
    st.fixed_dictionaries({"facts": st.lists(st.one_of(well_formed_fact, fact_item), max_size=5)}),
    st.fixed_dictionaries({"facts": st.lists(fact_item, max_size=5)}),
    st.dictionaries(st.sampled_from(["facts", "memories", "memory", "entities", "relations",
                                     "extra"]), json_any, max_size=3),
    json_any)

operation_item = st.one_of(
    st.fixed_dictionaries(
        {"event": st.one_of(st.sampled_from(["ADD", "UPDATE", "DELETE", "NONE", "add",
                                              " Update ", "delete", "MERGE", ""]), json_leaf)},
        optional={"id": st.one_of(st.integers(-3, 9), st.sampled_from(["0", "1", " 2 ", "x", "-1"]),
                                  json_leaf),
                  "text": st.one_of(fact_texts, st.none(), json_leaf)}),
    json_any)

well_formed_operation = st.fixed_dictionaries({
    "event": st.sampled_from(["ADD", "UPDATE", "DELETE", "NONE", "update", "delete"]),
    "id": st.one_of(st.integers(0, 3), st.none(), st.integers(-2, 12)),
    "text": st.one_of(fact_texts, st.none())})

reconcile_payloads = st.one_of(
    st.fixed_dictionaries({"operations": st.lists(well_formed_operation, min_size=1, max_size=5)}),
    st.fixed_dictionaries({"operations": st.lists(st.one_of(well_formed_operation, operation_item),
                                                  max_size=6)}),
    st.fixed_dictionaries({"operations": st.lists(operation_item, max_size=6)}),
    st.dictionaries(st.sampled_from(["operations", "memory", "memories", "invalidate"]),
                    json_any, max_size=3),
    json_any)


@st.composite
def replies(draw: Any, payloads: Any) -> str:
    """A reply text carrying `payloads`: plain, fenced, after a think-block, inside prose,
    cut short anywhere, replaced by garbage, or empty."""
    payload = draw(payloads)
    text = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    how = draw(st.sampled_from(["plain"] * 6 + ["fence", "think", "prose", "truncate",
                                                 "truncate", "garbage", "empty"]))
    if how == "fence":
        return f"```json\n{text}\n```"
    if how == "think":
        return f"<think>{draw(st.text(max_size=30))}</think>\n{text}"
    if how == "prose":
        return f"Sure! Here is the JSON: {text} Let me know if you need more."
    if how == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if how == "garbage":
        return draw(st.text(max_size=200))
    if how == "empty":
        return ""
    return text
