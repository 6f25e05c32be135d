"""Provider and store faults, at volume: many adds for many users while the scripted LLM
and embeddings endpoints (over real HTTP) answer 429 / 5xx, time out, or reply with
text that is not JSON, and the vector store fails writes now and then. Every add either
succeeds, or raises a typed error having written nothing (its messages kept); a store
fault leaves a journal that the next call replays. At the end every kept add is
re-processed and the stores are checked: every fact stored exactly once, history, vector
store and journal in agreement."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mem_integrations import Memory
from mem_integrations.core.errors import MemoryLayerError, ProviderError, StoreError
from mem_integrations.core.records import content_hash
from mem_integrations.testing import Fault
from stress.common import check_snapshot, snapshot
from stress.llm import FaultyServer, sensible_llm

GARBAGE = ["Sorry, I can't help with that.", "<think>the user wants", "", "null",
           "```\nnot json\n```", "[1, 2, 3]"]


def run_fault_campaign(workdir: Path, *, adds: int = 300, users: int = 10, seed: int = 0,
                       fault_rate: float = 0.5, progress: Any = None) -> dict[str, Any]:
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    examples: list[str] = []
    said: dict[str, list[str]] = {}  # user -> sentences that must end up stored
    story: dict[str, str] = {}  # sentence -> what happened to the add that carried it
    with FaultyServer(responder=sensible_llm) as server:
        memory = Memory({
            "data_dir": str(workdir / f"faults-{seed}"),
            "llm": {"base_url": server.base_url, "api_key": "sk-stress", "max_retries": 2,
                    "timeout": 0.5},
            "embedder": {"provider": "openai", "base_url": server.base_url,
                         "api_key": "sk-stress", "model": "hashed", "dimensions": 64,
                         "max_retries": 2, "timeout": 0.5},
        })
        store = memory.async_memory.store
        real_upsert = store.upsert
        store_faults = [0]

        def flaky_upsert(points: Any) -> None:
            if store_faults[0] > 0:
                store_faults[0] -= 1
                counts["store_faults_injected"] += 1
                raise StoreError("injected: the vector store is unavailable")
            real_upsert(points)

        store.upsert = flaky_upsert  # type: ignore[method-assign]
        memory.open()
        started = time.monotonic()
        for i in range(adds):
            user = f"u{i % users}"
            sentences = [f"Fact {i}-{j} of {user} is {rng.choice(['red', 'blue', 'green'])}"
                         for j in range(rng.randint(1, 3))]
            if said.get(user) and rng.random() < 0.2:  # a repeat: must stay stored once
                sentences.append(rng.choice(said[user]))
            injected = inject(rng, server, store_faults, fault_rate, counts)
            counts["adds"] += 1
            for sentence in sentences:
                story.setdefault(sentence, f"add {i}, fault {injected or 'none'}")
            try:
                result = memory.add(". ".join(sentences) + ".", user_id=user)
                counts["adds_succeeded"] += 1
                said.setdefault(user, []).extend(sentences)
                for sentence in sentences:
                    story[sentence] += f", ok {[(e.event.value, e.memory) for e in result.results]}"
            except ProviderError as exc:
                for sentence in sentences:
                    story[sentence] += f", {type(exc).__name__} pending={exc.pending_id}"
                counts[f"adds_failed_{type(exc).__name__}"] += 1
                if exc.pending_id:  # kept: re-processed below, so it must end up stored
                    said.setdefault(user, []).extend(sentences)
                else:  # the caller was told, but the messages were not kept
                    violations["input_not_kept"] += 1
                    examples.append(f"not kept: {type(exc).__name__}: {exc}")
            except StoreError as exc:
                # Raised by the write itself, the operations are journaled and the next call
                # replays them; raised while opening (replaying an earlier journal), the add
                # never started: then its messages must have been kept.
                journaled = any(op.new_memory in sentences for _, op in
                                memory.async_memory.history_store.unapplied())
                kept = getattr(exc, "pending_id", None)
                for sentence in sentences:
                    story[sentence] += f", StoreError journaled={journaled} pending={kept}"
                if journaled or kept:
                    counts[f"adds_failed_StoreError_{'journaled' if journaled else 'kept'}"] += 1
                    said.setdefault(user, []).extend(sentences)
                else:
                    violations["input_not_kept"] += 1
                    examples.append(f"not kept: StoreError: {exc}")
            except MemoryLayerError as exc:
                violations["unexpected_typed_error"] += 1
                examples.append(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # noqa: BLE001 - an untyped error is a violation
                violations["untyped_error"] += 1
                examples.append(f"{type(exc).__name__}: {exc}")
            drain(server, store_faults)
            if injected:
                counts["adds_with_faults"] += 1
            if progress and (i + 1) % 50 == 0:
                progress(i + 1, adds)
        counts["faults_injected"] = (server.faults_served + server.embedding_faults_served
                                     + counts["garbage_replies_injected"]
                                     + counts["store_faults_injected"])
        counts["llm_http_faults_served"] = server.faults_served
        counts["embedding_http_faults_served"] = server.embedding_faults_served
        # Every add whose messages were kept goes through once the providers are back.
        for _ in range(3):
            kept = memory.pending()
            if not kept:
                break
            for p in kept:
                try:
                    memory.reprocess(p.id)
                    counts["pending_reprocessed"] += 1
                except Exception as exc:  # noqa: BLE001
                    violations["reprocess_failed"] += 1
                    examples.append(f"reprocess: {type(exc).__name__}: {exc}")
        counts["pending_left"] = len(memory.pending())
        state = memory.run(snapshot(memory.async_memory))
        findings = check_snapshot(state)
        for kind, n in findings.counts.items():
            violations[kind] += n
        stored: dict[str, Counter[str]] = {}
        for point in state["memories"]:
            stored.setdefault(point["user_id"], Counter())[content_hash(point["data"])] += 1
        for user, sentences in said.items():
            have = stored.get(user, Counter())
            for sentence in set(sentences):
                n = have[content_hash(sentence)]
                counts["facts_expected"] += 1
                if n == 0:
                    violations["lost"] += 1
                    if len(examples) < 10:
                        examples.append(f"lost: {user}: {sentence} ({story.get(sentence)})")
                elif n > 1:
                    violations["duplicates"] += n - 1
        counts["seconds"] = round(time.monotonic() - started)
        memory.close()
    return {"counts": dict(counts), "violations": dict(violations), "examples": examples[:10]}


def inject(rng: random.Random, server: FaultyServer, store_faults: list[int], rate: float,
           counts: Counter[str]) -> str:
    """Queue the faults the next add will meet; their kind ("" for none)."""
    if rng.random() >= rate:
        return ""
    kind = rng.choice(["llm_http", "llm_http", "llm_timeout", "embed_http", "embed_timeout",
                       "garbage", "garbage_twice", "store"])
    n = rng.randint(1, 3)  # 3 = more than the retry budget of 2: the add fails
    if kind == "llm_http":
        server.queue(*[Fault(status=rng.choice([429, 500, 502, 503])) for _ in range(n)])
    elif kind == "llm_timeout":
        server.queue(*[Fault(status=200, delay=0.8) for _ in range(n)])
    elif kind == "embed_http":
        server.fail_embeddings(*[Fault(status=rng.choice([429, 500, 503])) for _ in range(n)])
    elif kind == "embed_timeout":
        server.fail_embeddings(*[Fault(status=200, delay=0.8) for _ in range(n)])
    elif kind == "garbage":
        server.queue(rng.choice(GARBAGE))
        counts["garbage_replies_injected"] += 1
    elif kind == "garbage_twice":  # past the re-ask: LLMResponseError, messages kept
        server.queue(rng.choice(GARBAGE), rng.choice(GARBAGE))
        counts["garbage_replies_injected"] += 2
    else:
        store_faults[0] = 1
    counts[f"fault_kind_{kind}"] += 1
    return f"{kind} x{n}"


def drain(server: FaultyServer, store_faults: list[int]) -> None:
    """Faults the add did not reach (it failed earlier) must not leak into the next one."""
    with server._lock:
        server._queue.clear()
    with server._faults_lock:
        server._embedding_faults.clear()
    store_faults[0] = 0
