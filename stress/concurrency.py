"""Concurrency at volume: rounds of many asyncio tasks (on `AsyncMemory`) or many threads
(on the blocking `Memory`) adding overlapping facts for a few users through a scripted
LLM over HTTP, deleting and searching at the same time. Counted: duplicate memories in a
scope, acknowledged deletes undone, history/store disagreements, unexpected errors."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mem_integrations import AsyncMemory, Memory
from mem_integrations.core.errors import MemoryNotFoundError
from mem_integrations.testing import ScriptedLLMServer
from stress.common import HashEmbedder, check_snapshot, snapshot
from stress.llm import sensible_llm

FACTS = ["Lives in Paris", "Lives in Rome", "Has a dog named Rex", "Works as a nurse",
         "Works as a doctor", "Likes green tea", "Plays chess on Sundays",
         "Speaks three languages", "Is allergic to peanuts", "Drives a red car"]


def _op(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return "add"
    if roll < 0.7:
        return "add_verbatim"
    if roll < 0.85:
        return "delete"
    return "search"


def run_concurrency(workdir: Path, *, rounds: int = 6, workers: int = 32, ops: int = 6,
                    users: int = 3, seed: int = 0, progress: Any = None) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    examples: list[str] = []
    started = time.monotonic()
    with ScriptedLLMServer(responder=sensible_llm, delay=0.003) as llm:
        for r in range(rounds):
            mode = "async" if r % 2 == 0 else "threads"
            config = {"data_dir": str(workdir / f"concurrency-{seed}-{r}"),
                      "llm": {"base_url": llm.base_url, "api_key": "sk-stress"}}
            rng = random.Random(seed * 1000 + r)
            plans = [[(_op(rng), f"user{w % users}",
                       ". ".join(rng.sample(FACTS, rng.randint(1, 3))) + ".")
                      for _ in range(ops)] for w in range(workers)]
            if mode == "async":
                state, deleted, errors = asyncio.run(_async_round(config, plans))
            else:
                state, deleted, errors = _thread_round(config, plans, workers)
            counts[f"rounds_{mode}"] += 1
            counts["operations"] += workers * ops
            counts["concurrent_workers"] = max(counts["concurrent_workers"], workers)
            for e in errors:
                violations["unexpected_error"] += 1
                if len(examples) < 10:
                    examples.append(e)
            findings = check_snapshot(state)
            for kind, n in findings.counts.items():
                violations[kind] += n
                if len(examples) < 10:
                    examples.append(f"{kind}: {findings.examples[kind][:1]}")
            alive = {m["id"] for m in state["memories"]}
            undone = set(deleted) & alive
            if undone:
                violations["acknowledged_delete_undone"] += len(undone)
            counts["memories_at_end"] += len(alive)
            counts["deletes_acknowledged"] += len(deleted)
            if progress:
                progress(r + 1, rounds)
    counts["seconds"] = round(time.monotonic() - started)
    return {"counts": dict(counts), "violations": dict(violations), "examples": examples}


async def _async_round(config: dict[str, Any], plans: list[list[tuple[str, str, str]]]
                       ) -> tuple[dict[str, Any], list[str], list[str]]:
    deleted: list[str] = []
    errors: list[str] = []
    async with AsyncMemory(config, embedder=HashEmbedder()) as memory:
        async def worker(plan: list[tuple[str, str, str]]) -> None:
            for op, user, text in plan:
                try:
                    if op == "add":
                        await memory.add(text, user_id=user)
                    elif op == "add_verbatim":
                        await memory.add([{"role": "user", "content": t.strip()}
                                          for t in text.rstrip(".").split(". ")],
                                         user_id=user, infer=False)
                    elif op == "delete":
                        items = (await memory.get_all(user_id=user)).results
                        if items:
                            try:
                                await memory.delete(items[0].id)
                                deleted.append(items[0].id)
                            except MemoryNotFoundError:
                                pass  # another worker deleted it first
                    else:
                        await memory.search(text, user_id=user, limit=5)
                except Exception as exc:  # noqa: BLE001 - counted
                    errors.append(f"{op}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*[worker(p) for p in plans])
        state = await snapshot(memory)
    return state, deleted, errors


def _thread_round(config: dict[str, Any], plans: list[list[tuple[str, str, str]]],
                  workers: int) -> tuple[dict[str, Any], list[str], list[str]]:
    deleted: list[str] = []
    errors: list[str] = []
    memory = Memory(config, embedder=HashEmbedder())

    def worker(plan: list[tuple[str, str, str]]) -> None:
        for op, user, text in plan:
            try:
                if op == "add":
                    memory.add(text, user_id=user)
                elif op == "add_verbatim":
                    memory.add([{"role": "user", "content": t.strip()}
                                for t in text.rstrip(".").split(". ")], user_id=user, infer=False)
                elif op == "delete":
                    items = memory.get_all(user_id=user).results
                    if items:
                        try:
                            memory.delete(items[0].id)
                            deleted.append(items[0].id)
                        except MemoryNotFoundError:
                            pass
                else:
                    memory.search(text, user_id=user, limit=5)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{op}: {type(exc).__name__}: {exc}")

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(worker, plans))
        state = memory.run(snapshot(memory.async_memory))
    finally:
        memory.close()
    return state, deleted, errors

