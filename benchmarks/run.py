"""Side-by-side benchmarks against mem0 (1.0.11 and the current 2.x), in one run, with the
LLM held constant by a scripted OpenAI-compatible server (benchmarks/bench_llm.py).

    python -m benchmarks.run                 # fast sizes (make bench)
    python -m benchmarks.run --full          # + 100k memories, all LOCOMO conversations
    python -m benchmarks.run --only search,locomo   # some phases; the others are kept
    python -m benchmarks.run --report-only   # RESULTS.md and charts from the last JSON

mem0 runs in its own virtual environments under benchmarks/.work/ (created here on first
use; see mem0_env.py), driven by mem0_worker.py; our library runs in a worker process of
its own too (ours_worker.py), so both are timed and their memory measured the same way.

Phases:
  llm         LLM calls and prompt tokens per add, replaying LOCOMO dev sessions, graph
              off and on (0 ms LLM)
  latency     add latency with a 0 ms LLM (pure overhead) and a 300 ms LLM
  search      user-filtered search latency p50/p95 at 1k and 10k memories (100k with
              --full) over 100 users, and peak memory
  throughput  16 users adding concurrently, 300 ms LLM
  locomo      LOCOMO dev retrieval: evidence recall@5/10/20 and hit@10 per category
  multilingual  Chinese, Japanese and Korean sets (benchmarks/data): hit@1/3/10 per language
  results     the cost of reading search results as mem0's dicts (ours, in-process)

Results: benchmarks/results/bench.json (raw) and benchmarks/RESULTS.md (+ PNG charts).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import mem0_env
from benchmarks.bench_llm import BenchLLM
from benchmarks.locomo import load, sessions
from benchmarks.synthetic import queries as synthetic_queries
from benchmarks.workers import Worker, WorkerError
from mem_integrations.evals import load_jsonl, parse_evidence
from mem_integrations.evals.locomo import turn_place

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RAW = RESULTS_DIR / "bench.json"
PHASES = ["llm", "latency", "search", "throughput", "locomo", "multilingual", "results",
          "startup"]
DATA = HERE / "data"
# one user per language; the held-out Chinese set is pooled with the first one
MULTILINGUAL_SETS = {"zh": ["multilingual_zh.jsonl", "multilingual_zh_heldout.jsonl"],
                     "ja": ["multilingual_ja.jsonl"], "ko": ["multilingual_ko.jsonl"]}
MEM0 = ["mem0-1.0.11", "mem0-2"]

PEOPLE = ["Anna", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas"]
PLACES = ["Paris", "Berlin", "Osaka", "Lima", "Oslo", "Cairo", "Quito", "Perth"]
HOBBIES = ["chess", "karate", "jazz", "rowing", "pottery", "climbing"]
EMPLOYERS = ["Siemens", "Nokia", "Airbus", "Philips", "Lego", "Bosch"]


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def summary(ms: list[float]) -> dict[str, float]:
    values = sorted(x for x in ms if x >= 0)
    if not values:
        return {}
    return {"p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(values[min(len(values) - 1, int(len(values) * 0.95))], 2),
            "mean_ms": round(statistics.fmean(values), 2), "n": len(values)}


def chat_messages(rng: random.Random, people: list[str]) -> str:
    """A short user message of one or two declarative sentences about known people, so
    later messages change what earlier ones said (moves, new hobbies, new jobs)."""
    person = rng.choice(people)
    templates = [f"{person} lives in {rng.choice(PLACES)}.",
                 f"{person} likes {rng.choice(HOBBIES)}.",
                 f"{person} works at {rng.choice(EMPLOYERS)}."]
    return " ".join(rng.sample(templates, rng.choice([1, 2])))


def item(text: str, user: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "user_id": user, **extra}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="memint-bench-"))
        self.libs = ["ours"]
        self.versions: dict[str, str] = {}
        self.notes: list[str] = []
        self.mem0_2_features: dict[str, bool] = {}

    # --- set-up ----------------------------------------------------------------------------

    def prepare_mem0(self) -> None:
        for lib in MEM0:
            try:
                mem0_env.ensure(mem0_env_key(lib))
                self.libs.append(lib)
            except Exception as exc:
                self.notes.append(f"{lib} unavailable: {exc}")
                log(f"{lib} unavailable: {exc}")

    def data_dir(self, name: str) -> str:
        path = self.tmp / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return str(path)

    def worker(self, lib: str, tag: str, llm: BenchLLM, *, graph: bool = False,
               data: str | None = None, **init: Any) -> Worker:
        w = Worker(lib, tag)
        try:
            init.setdefault("llm_url", llm.base_url)
            info = w.call("init", data_dir=data or self.data_dir(f"{lib}-{tag}"),
                          graph=graph, **init)
        except Exception:
            w.close()
            raise
        self.versions[lib] = info.get("version", "?")
        if lib == "mem0-2":
            self.mem0_2_features = {k: info[k] for k in ("spacy_model", "bm25") if k in info}
        return w

    # --- 1. LLM calls and prompt tokens per add -------------------------------------------------

    def phase_llm(self, llm: BenchLLM) -> dict[str, Any]:
        samples = load()[: self.args.llm_samples]
        replay = [(s.sample_id, s) for sample in samples for s in sessions(sample) if s.turns]
        # ours in its default (single-call) mode first: the goals read the first "ours" row
        configs = [("ours", False, None), ("ours", True, None),
                   ("ours", False, "two_calls"), ("ours", True, "two_calls")] + \
                  [(lib, g, None) for lib in self.libs if lib != "ours"
                   for g in ((False, True) if lib == "mem0-1.0.11" else (False,))]
        out: dict[str, Any] = {"adds": len(replay), "samples": len(samples), "rows": []}
        users = sorted({user for user, _ in replay})
        memories: dict[tuple[bool, str], list[str]] = {}  # ours, by graph and mode
        llm.delay = 0.0
        for lib, graph, mode in configs:
            label = (f"{lib} (graph)" if graph else lib) + (", two calls" if mode else "")
            log(f"llm calls: {label}, {len(replay)} adds")
            per_add = []
            steps: Counter[str] = Counter()
            step_tokens: Counter[str] = Counter()
            events: Counter[str] = Counter()
            try:
                with self.worker(lib, f"llm-{'graph' if graph else 'nograph'}{mode or ''}",
                                 llm, graph=graph, **({"reconcile_mode": mode} if mode else {})
                                 ) as w:
                    for user, session in replay:
                        llm.facts_override = session.observations
                        messages = [{"role": "user", "content": f"{t['speaker']}: {t['text']}"}
                                    for t in session.turns]
                        mark = llm.mark()
                        done = w.call("add_batch", items=[{"messages": messages,
                                                            "user_id": user}])
                        ms = done["ms"][0]
                        events.update(done.get("events", {}))
                        calls = llm.since(mark)
                        per_add.append((len(calls), sum(c.prompt_tokens for c in calls), ms))
                        for c in calls:
                            steps[c.kind] += 1
                            step_tokens[c.kind] += c.prompt_tokens
                    if lib == "ours":
                        memories[graph, mode or "single_call"] = w.call(
                            "texts", user_ids=users)["texts"]
            except WorkerError as exc:
                self.notes.append(f"llm phase, {label}: {exc}")
                log(str(exc))
                continue
            finally:
                llm.facts_override = None
            n = len(per_add)
            out["rows"].append({
                "lib": lib, "graph": graph, "label": label, "adds": n, "mode": mode,
                "calls_per_add": round(sum(c for c, _, _ in per_add) / n, 3),
                "prompt_tokens_per_add": round(sum(t for _, t, _ in per_add) / n, 1),
                "max_calls_in_one_add": max(c for c, _, _ in per_add),
                "steps": {k: {"calls_per_add": round(v / n, 3),
                              "tokens_per_add": round(step_tokens[k] / n, 1)}
                          for k, v in sorted(steps.items())},
                "add_ms": summary([m for _, _, m in per_add]),
                "events": dict(events),
            })
        out["modes"] = [modes_compared(graph, memories[graph, "single_call"],
                                       memories[graph, "two_calls"])
                        for graph in (False, True)
                        if (graph, "single_call") in memories and (graph, "two_calls") in memories]
        return out

    # --- 2. add latency, 0 ms and 300 ms LLM ----------------------------------------------------

    def phase_latency(self, llm: BenchLLM) -> dict[str, Any]:
        configs = [(lib, False, None) for lib in self.libs] + \
                  [(lib, True, None) for lib in self.libs if lib in ("ours", "mem0-1.0.11")] + \
                  [("ours", False, "two_calls"), ("ours", True, "two_calls")]
        out: dict[str, Any] = {"adds_0ms": self.args.adds, "adds_300ms": self.args.slow_adds,
                               "filled": self.args.latency_fill, "rows": []}
        for lib, graph, mode in configs:
            label = (f"{lib} (graph)" if graph else lib) + (", two calls" if mode else "")
            log(f"add latency: {label}")
            row: dict[str, Any] = {"lib": lib, "graph": graph, "label": label, "mode": mode}
            try:
                with self.worker(lib, f"latency-{'graph' if graph else 'nograph'}{mode or ''}",
                                 llm, graph=graph, **({"reconcile_mode": mode} if mode else {})
                                 ) as w:
                    llm.delay = 0.0
                    rng = random.Random(3)
                    w.call("add_batch", items=[item(chat_messages(rng, PEOPLE), "warm-up")
                                               for _ in range(3)])
                    for delay, count, key in ((0.0, self.args.adds, "0ms"),
                                              (0.3, self.args.slow_adds, "300ms")):
                        llm.delay = delay
                        rng = random.Random(5)
                        items = [item(chat_messages(rng, PEOPLE), f"lat-{key}")
                                 for _ in range(count)]
                        mark = llm.mark()
                        done = w.call("add_batch", items=items)
                        calls = llm.since(mark)
                        row[key] = {**summary(done["ms"]),
                                    "calls_per_add": round(len(calls) / count, 2),
                                    "events": done.get("events", {})}
                    if not graph and not mode and self.args.latency_fill:
                        # the same adds on a store in use: other users' memories around
                        llm.delay = 0.0
                        w.call("fill", n=self.args.latency_fill)
                        rng = random.Random(5)
                        items = [item(chat_messages(rng, PEOPLE), "lat-filled")
                                 for _ in range(self.args.adds)]
                        mark = llm.mark()
                        ms = w.call("add_batch", items=items)["ms"]
                        row["0ms_filled"] = {**summary(ms), "calls_per_add":
                                             round(len(llm.since(mark)) / len(items), 2)}
            except WorkerError as exc:
                self.notes.append(f"latency phase, {label}: {exc}")
                log(str(exc))
                continue
            finally:
                llm.delay = 0.0
            out["rows"].append(row)
        return out

    # --- 3. filtered search latency and memory -----------------------------------------------------

    def phase_search(self, llm: BenchLLM) -> dict[str, Any]:
        sizes = [1000, 10_000] + ([100_000] if self.args.full else [])
        out: dict[str, Any] = {"users": 100, "rows": []}
        llm.delay = 0.0
        for n in sizes:
            for lib in self.libs:
                count = self.args.queries if lib == "ours" else \
                    {1000: 50, 10_000: 30}.get(n, 15)
                log(f"search: {lib} at {n} memories ({count} queries)")
                qs = [{"query": q, "user_id": u, "limit": 10}
                      for q, u in synthetic_queries(count + 5)]
                try:
                    with self.worker(lib, f"search-{n}", llm) as w:
                        base = w.call("stats")
                        fill = w.call("fill", n=n)
                        w.call("search_batch", queries=qs[:5])
                        timed = w.call("search_batch", queries=qs[5:], probe=True)
                        stats = w.call("stats")
                    ms = timed["ms"]
                    rest = [max(0.01, s - e) for s, e in zip(ms, timed["embed_ms"], strict=True)]
                except WorkerError as exc:
                    self.notes.append(f"search phase, {lib} at {n}: {exc}")
                    log(str(exc))
                    continue
                finally:
                    shutil.rmtree(self.tmp / f"{lib}-search-{n}", ignore_errors=True)
                out["rows"].append({"lib": lib, **summary(ms), "queries": len(ms), "n": n,
                                    "embed_p50_ms": summary(timed["embed_ms"])["p50_ms"],
                                    "minus_embed_p50_ms": summary(rest)["p50_ms"],
                                    **fill,
                                    "baseline_rss_mb": base["rss_mb"],
                                    "peak_rss_mb": stats["peak_rss_mb"]})
        return out

    # --- 4. throughput, 16 concurrent users -----------------------------------------------------

    def phase_throughput(self, llm: BenchLLM) -> dict[str, Any]:
        users, per_user = self.args.users, self.args.adds_per_user
        out: dict[str, Any] = {"users": users, "adds_per_user": per_user, "llm_delay_ms": 300,
                               "rows": []}
        for lib in self.libs:
            log(f"throughput: {lib}, {users} users x {per_user} adds")
            try:
                with self.worker(lib, "throughput", llm) as w:
                    result, calls = self._concurrent_adds(w, llm, "add_concurrent")
            except WorkerError as exc:
                self.notes.append(f"throughput phase, {lib}: {exc}")
                log(str(exc))
                continue
            finally:
                llm.delay = 0.0
            done = len(result["ms"])
            if lib == "ours":
                out["rows"].append(self._queued_throughput(llm, users, per_user))
            out["rows"].append({"lib": lib, "adds": done, "wall_s": round(result["wall_s"], 2),
                                "adds_per_s": round(done / result["wall_s"], 2),
                                "calls_per_add": round(len(calls) / max(done, 1), 2),
                                "errors": result["error_count"],
                                "events": result.get("events", {}),
                                "error_examples": result["errors"], **summary(result["ms"])})
        return out

    def _concurrent_adds(self, w: Worker, llm: BenchLLM, op: str, users: int | None = None,
                         per_user: int | None = None) -> tuple[dict[str, Any], list[Any]]:
        """Warm up at 0 ms, then every user's adds at once (`op`) at 300 ms a call: the
        worker's result and the LLM calls made."""
        llm.delay = 0.0
        rng = random.Random(3)
        w.call("add_batch", items=[item(chat_messages(rng, PEOPLE), "warm-up")
                                   for _ in range(2)])
        llm.delay = 0.3
        items = []
        for u in range(users or self.args.users):
            rng = random.Random(100 + u)
            items += [item(chat_messages(rng, PEOPLE[:4]), f"user-{u}")
                      for _ in range(per_user or self.args.adds_per_user)]
        mark = llm.mark()
        result = w.call(op, items=items)
        return result, llm.since(mark)

    def _queued_throughput(self, llm: BenchLLM, users: int, per_user: int) -> dict[str, Any]:
        """The same adds, non-blocking (`add(..., async_mode=True)`): how fast each call
        returns, and the wall time until the queue is drained."""
        log(f"throughput: ours (async_mode), {users} users x {per_user} adds")
        try:
            with self.worker("ours", "throughput-queued", llm) as w:
                result, calls = self._concurrent_adds(w, llm, "add_queued")
            # one caller alone: what a single add(..., async_mode=True) costs its caller
            with self.worker("ours", "queued-alone", llm) as w:
                alone, _ = self._concurrent_adds(w, llm, "add_queued", users=1,
                                                 per_user=users * per_user // 4)
        finally:
            llm.delay = 0.0
        done = len(result["ms"])
        return {"lib": "ours (async_mode)", "adds": done, "wall_s": round(result["wall_s"], 2),
                "adds_per_s": round(done / result["wall_s"], 2),
                "calls_per_add": round(len(calls) / max(done, 1), 2), "errors": 0,
                "pending_after": result["pending_after"], "stored": result["stored"],
                "events": {}, "error_examples": [], **summary(result["ms"]),
                "alone_p50_ms": summary(alone["ms"]).get("p50_ms")}

    # --- 5. LOCOMO retrieval -----------------------------------------------------------------------

    def phase_locomo(self, llm: BenchLLM) -> dict[str, Any]:
        samples = load()[: self.args.locomo_samples]
        docs: list[dict[str, Any]] = []
        questions: list[dict[str, Any]] = []
        for sample in samples:
            for s in sessions(sample):
                for t in s.turns:
                    text = f"[{s.date}] {t['speaker']}: {t['text']}"
                    if t.get("blip_caption"):
                        text += f" (shared a photo: {t['blip_caption']})"
                    docs.append(item(text, sample["sample_id"], infer=False,
                                     metadata={**turn_place(t["dia_id"]),
                                               "speaker": t["speaker"]}))
            for qa in sample["qa"]:
                evidence = parse_evidence(qa.get("evidence", []))
                if evidence:
                    questions.append({"query": qa["question"], "user_id": sample["sample_id"],
                                      "limit": 20, "category": qa["category"],
                                      "evidence": evidence})
        out: dict[str, Any] = {"samples": len(samples), "memories": len(docs),
                               "questions": len(questions), "rows": [],
                               "mem0_ingest": self.args.mem0_ingest}
        # ours as the brief of the library says for stored-as-is data: the offline extractor
        runs: list[tuple[str, str, dict[str, Any]]] = [("ours", "ours (hybrid)",
                                                        {"llm_url": None})]
        runs += [(lib, lib, {}) for lib in self.libs if lib != "ours"]
        for lib, label, init in runs:
            log(f"locomo: {label}, {len(docs)} memories, {len(questions)} questions")
            data = self.data_dir(f"{lib}-locomo")
            try:
                with self.worker(lib, "locomo", llm, data=data, **init) as w:
                    start = time.perf_counter()
                    op = "ingest" if lib != "ours" and self.args.mem0_ingest == "batched" \
                        else "add_batch"
                    for i in range(0, len(docs), 250):
                        w.call(op, items=docs[i:i + 250])
                    ingest_s = time.perf_counter() - start
                    found = w.call("search_batch", queries=questions, keep=True)
                    out["rows"].append(score(label, questions, found, ingest_s))
                    if lib == "ours":
                        w.call("close")
                        w.call("init", data_dir=data, llm_url=None, hybrid=False)
                        found = w.call("search_batch", queries=questions, keep=True)
                        out["rows"].append(score("ours (dense only)", questions, found, None))
            except WorkerError as exc:
                self.notes.append(f"locomo phase, {label}: {exc}")
                log(str(exc))
            finally:
                shutil.rmtree(data, ignore_errors=True)
        return out

    # --- 6. Chinese, Japanese and Korean retrieval ---------------------------------------------

    def phase_multilingual(self, llm: BenchLLM) -> dict[str, Any]:
        """Our labelled CJK sets: facts stored verbatim (one user per language), questions
        in the same language; both libraries with all-MiniLM-L6-v2, their default search."""
        docs: list[dict[str, Any]] = []
        questions: list[dict[str, Any]] = []
        for language, files in MULTILINGUAL_SETS.items():
            for file in files:
                facts, asked = load_jsonl(DATA / file)
                docs += [item(f.text, language, infer=False,
                              metadata={"dia_id": f"{file}:{f.id}"}) for f in facts]
                questions += [{"query": q.question, "user_id": language, "limit": 20,
                               "category": language,
                               "evidence": [f"{file}:{e}" for e in q.expected]} for q in asked]
        out: dict[str, Any] = {"memories": len(docs), "questions": len(questions),
                               "languages": list(MULTILINGUAL_SETS), "rows": []}
        for lib in self.libs:
            data = self.data_dir(f"{lib}-multilingual")
            init = {"llm_url": None} if lib == "ours" else {}
            try:
                with self.worker(lib, "multilingual", llm, data=data, **init) as w:
                    start = time.perf_counter()
                    w.call("add_batch" if lib == "ours" else "ingest", items=docs)
                    ingest_s = time.perf_counter() - start
                    found = w.call("search_batch", queries=questions, keep=True)
                    out["rows"].append(score(lib, questions, found, ingest_s))
            except WorkerError as exc:
                self.notes.append(f"multilingual phase, {lib}: {exc}")
                log(str(exc))
            finally:
                shutil.rmtree(data, ignore_errors=True)
        return out

    # --- 7. Reading results as mem0's dicts --------------------------------------------------

    def phase_results(self, llm: BenchLLM) -> dict[str, Any]:
        """Search 1,000 memories and read every hit three ways: attributes (`hit.memory`),
        mem0's keys (`r["results"]`, `hit["memory"]`, `hit.get("metadata", {})`), and
        `model_dump()`. The dict view is methods on the result models, so a search that does
        not use it pays nothing; this measures what using it costs."""
        from mem_integrations import Memory

        rng = random.Random(7)
        texts = [chat_messages(rng, PEOPLE) for _ in range(1000)]
        queries = [rng.choice(texts)[:40] for _ in range(self.args.queries)]

        def by_attribute(found: Any) -> list[tuple[Any, ...]]:
            return [(hit.id, hit.memory, hit.score, hit.metadata or {}, hit.created_at)
                    for hit in found.results]

        def by_key(found: Any) -> list[tuple[Any, ...]]:
            return [(hit["id"], hit["memory"], hit["score"], hit.get("metadata", {}),
                     hit["created_at"]) for hit in found["results"]]

        readers = {"attributes": by_attribute, "mem0 keys": by_key,
                   "model_dump()": lambda found: found.model_dump()}
        timings: dict[str, list[float]] = {name: [] for name in ["search only", *readers]}
        read_us: dict[str, list[float]] = {name: [] for name in readers}
        with Memory({"data_dir": self.data_dir("ours-results"),
                     "llm": {"provider": "offline"}}) as memory:
            memory.add([{"role": "user", "content": t} for t in texts], user_id="u",
                       infer=False)
            memory.search(queries[0], user_id="u")  # warm-up: model load, first query
            for query in queries:
                for name in timings:
                    start = time.perf_counter()
                    found = memory.search(query, user_id="u", limit=10)
                    searched = time.perf_counter()
                    if name in readers:
                        readers[name](found)
                        read_us[name].append((time.perf_counter() - searched) * 1e6)
                    timings[name].append((time.perf_counter() - start) * 1000)
        rows = [{"reader": name, **summary(ms),
                 "read_us_p50": round(statistics.median(read_us[name]), 1)
                 if name in read_us else None} for name, ms in timings.items()]
        return {"memories": len(texts), "queries": len(queries), "rows": rows}

    # --- 8. The first hour -------------------------------------------------------------------

    def phase_startup(self, llm: BenchLLM) -> dict[str, Any]:
        """Install size, import, first add, CLI commands, query embedding (fresh processes)."""
        from benchmarks import startup

        return startup.measure(self.libs, self.notes)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def modes_compared(graph: bool, single: list[str], two: list[str]) -> dict[str, Any]:
    """How far the memories the replay ends with differ between our two reconcile modes:
    the texts only one of them holds, with a few examples."""
    only_single = sorted((Counter(single) - Counter(two)).elements())
    only_two = sorted((Counter(two) - Counter(single)).elements())
    return {"graph": graph, "memories": [len(single), len(two)],
            "only_single_call": len(only_single), "only_two_calls": len(only_two),
            "examples": {"single_call": only_single[:3], "two_calls": only_two[:3]}}


def mem0_env_key(lib: str) -> str:
    return {"mem0-1.0.11": "1.0.11", "mem0-2": "2"}[lib]


def score(label: str, questions: list[dict[str, Any]], found: dict[str, Any],
          ingest_s: float | None) -> dict[str, Any]:
    per_cat: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for q, hits in zip(questions, found["results"], strict=True):
        ids = [h.get("metadata", {}).get("dia_id") for h in hits]
        evidence = set(q["evidence"])
        for bucket in [str(q["category"])] + (["1-4"] if q["category"] != 5 else []):
            for k in (5, 10, 20):
                per_cat[bucket][f"recall@{k}"].append(len(evidence & set(ids[:k])) / len(evidence))
            for k in (1, 3, 10):
                per_cat[bucket][f"hit@{k}"].append(float(bool(evidence & set(ids[:k]))))
    cats = {c: {**{m: round(statistics.fmean(v), 4) for m, v in metrics.items()},
                "questions": len(metrics["hit@10"])}
            for c, metrics in sorted(per_cat.items())}
    return {"label": label, "categories": cats,
            "ingest_s": round(ingest_s, 1) if ingest_s is not None else None,
            "search": summary(found["ms"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="100k memories in the search phase; all LOCOMO dev "
                             "conversations in the LLM-calls phase")
    parser.add_argument("--only", default=",".join(PHASES),
                        help=f"comma-separated phases to run ({','.join(PHASES)}); "
                             "results of the others are kept from the last run")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--llm-samples", type=int, default=None,
                        help="LOCOMO conversations replayed for LLM calls (default 2; 5 --full)")
    parser.add_argument("--locomo-samples", type=int, default=5)
    parser.add_argument("--mem0-ingest", choices=["batched", "add"], default=None,
                        help="LOCOMO: write mem0's memories through add(infer=False) one "
                             "message at a time ('add', --full's default: slow) or the same "
                             "payloads batched ('batched', the default)")
    parser.add_argument("--adds", type=int, default=30, help="adds timed at 0 ms")
    parser.add_argument("--slow-adds", type=int, default=10, help="adds timed at 300 ms")
    parser.add_argument("--latency-fill", type=int, default=10_000,
                        help="memories of other users in the store for the second 0 ms "
                             "add-latency run (0: skip)")
    parser.add_argument("--queries", type=int, default=100, help="our search queries per size")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--adds-per-user", type=int, default=8)
    args = parser.parse_args()
    if args.llm_samples is None:
        args.llm_samples = 5 if args.full else 2
    if args.mem0_ingest is None:
        args.mem0_ingest = "add" if args.full else "batched"

    from benchmarks.report import write_report

    results: dict[str, Any] = json.loads(RAW.read_text()) if RAW.exists() else {}
    if args.report_only:
        write_report(results)
        return
    phases = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    bench = Bench(args)
    bench.prepare_mem0()
    try:
        with BenchLLM() as llm:
            for phase in phases:
                t0 = time.perf_counter()
                try:
                    results[phase] = getattr(bench, f"phase_{phase}")(llm)
                except Exception:
                    traceback.print_exc()
                    bench.notes.append(f"phase {phase} crashed: {traceback.format_exc(limit=3)}")
                    continue
                results[phase]["elapsed_s"] = round(time.perf_counter() - t0, 1)
                results[phase]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
                log(f"{phase} done in {results[phase]['elapsed_s']} s")
                RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                RAW.write_text(json.dumps(results, indent=2))  # keep what is done
            if llm.unknown:
                bench.notes.append(f"unrecognised LLM requests: {llm.unknown[:3]}")
    finally:
        bench.close()
    meta = results.setdefault("meta", {})
    meta.update({"python": platform.python_version(), "machine": platform.machine(),
                 "cpus": __import__("os").cpu_count(), "full": args.full,
                 "versions": {**meta.get("versions", {}), **bench.versions},
                 "last_run_phases": phases,
                 "last_run_s": round(time.perf_counter() - started, 1),
                 "notes": bench.notes})
    if bench.mem0_2_features:
        meta["mem0_2_features"] = bench.mem0_2_features
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RAW.write_text(json.dumps(results, indent=2))
    write_report(results)
    log(f"wrote {RAW.relative_to(HERE.parent)} and benchmarks/RESULTS.md "
        f"in {meta['last_run_s']} s")
    if bench.notes:
        print("notes:", *bench.notes, sep="\n  ", file=sys.stderr)


if __name__ == "__main__":
    main()
