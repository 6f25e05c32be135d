"""User-filtered search latency at N memories over 100 users: qdrant-edge (our embedded
default) against qdrant-client local mode (mem0's embedded default), side by side.

    python -m benchmarks.search_latency --n 100000

Store-level: the same hybrid request `Memory.search` sends (dense + BM25, filtered by
user_id), without the query embedding. End-to-end: `Memory.search` on the qdrant-edge
store, embedding included. Figures are printed as a table and written as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from mem_integrations.core.filters import scope_filter
from mem_integrations.core.search.lexical import BM25Encoder
from mem_integrations.core.stores.base import CollectionInfo, Point, SearchRequest
from mem_integrations.core.stores.qdrant_client import QdrantClientStore
from mem_integrations.core.stores.qdrant_edge import QdrantEdgeStore

DIMENSION = 384
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
USERS = 100
WORDS = ["paris", "berlin", "tennis", "nurse", "hospital", "cat", "dog", "pizza", "sushi", "hiking", "alps", "guitar", "piano", "python", "garden", "coffee", "tea", "marathon", "novel", "painting", "sister", "brother", "daughter", "school", "birthday", "wedding", "concert", "museum", "beach", "mountain", "train", "flight", "project", "deadline"]


def synthetic(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    words = random.Random(seed)
    vectors = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for i in range(n):
        text = "User " + " ".join(words.choices(WORDS, k=8))
        yield str(uuid.UUID(int=i + 1)), vectors[i].tolist(), text, f"user-{i % USERS}"


def fill(store, n: int, bm25: BM25Encoder, batch: int = 2000) -> float:
    start = time.perf_counter()
    points = []
    for memory_id, vector, text, user in synthetic(n):
        points.append(Point(memory_id, vector, {"data": text, "user_id": user,
                                                "created_at": "2026-01-01T00:00:00+00:00"},
                            bm25.document(text)))
        if len(points) == batch:
            store.upsert(points)
            points = []
    store.upsert(points)
    return time.perf_counter() - start


def timed_queries(store, queries: int, bm25: BM25Encoder, seed: int = 11) -> list[float]:
    rng = np.random.default_rng(seed)
    words = random.Random(seed)
    times = []
    for i in range(queries):
        vector = rng.standard_normal(DIMENSION).astype(np.float32)
        vector = (vector / np.linalg.norm(vector)).tolist()
        where = scope_filter({"user_id": f"user-{i % USERS}"})
        text = " ".join(words.choices(WORDS, k=3))
        requests = [SearchRequest(limit=50, dense=vector, filter=where),
                    SearchRequest(limit=50, sparse=bm25.query(text), filter=where,
                                  with_vectors=True)]
        start = time.perf_counter()
        store.search_batch(requests)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
            "queries": len(ordered)}


def end_to_end(store, queries: int) -> dict[str, float]:
    from mem_integrations import AsyncMemory
    from mem_integrations.core.config import EmbedderConfig
    from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder

    async def run() -> list[float]:
        with tempfile.TemporaryDirectory() as data:
            memory = AsyncMemory({"data_dir": data, "llm": {"provider": "offline"}},
                                 embedder=SentenceTransformerEmbedder(EmbedderConfig()),
                                 vector_store=store)
            await memory.search("warm up", user_id="user-0")
            times = []
            for i in range(queries):
                start = time.perf_counter()
                await memory.search(f"what does she like {WORDS[i % len(WORDS)]}",
                                    user_id=f"user-{i % USERS}")
                times.append((time.perf_counter() - start) * 1000)
            await asyncio.to_thread(memory.history_store.close)
            return times

    return summary(asyncio.run(run()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="memories (over 100 users)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--client-queries", type=int, default=20,
                        help="queries on qdrant-client local mode (slow at large N)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/search_latency.json"))
    args = parser.parse_args()
    bm25 = BM25Encoder()
    info = CollectionInfo(MODEL, DIMENSION)
    results: dict[str, object] = {"n": args.n, "users": USERS}
    with tempfile.TemporaryDirectory() as tmp:
        edge = QdrantEdgeStore(Path(tmp) / "edge", "bench")
        edge.open(info)
        results["edge_fill_s"] = round(fill(edge, args.n, bm25), 1)
        edge.optimize()
        timed_queries(edge, 20, bm25)  # warm caches
        results["qdrant_edge"] = summary(timed_queries(edge, args.queries, bm25))
        results["memory_search_edge"] = end_to_end(edge, min(args.queries, 100))
        edge.close()

        local = QdrantClientStore("bench", path=str(Path(tmp) / "local"))
        local.open(info)
        results["client_fill_s"] = round(fill(local, args.n, bm25), 1)
        timed_queries(local, 2, bm25)
        results["qdrant_client_local"] = summary(timed_queries(local, args.client_queries, bm25))
        local.close()

    edge_p50 = results["qdrant_edge"]["p50_ms"]  # type: ignore[index]
    local_p50 = results["qdrant_client_local"]["p50_ms"]  # type: ignore[index]
    results["speedup_p50"] = round(local_p50 / edge_p50, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"user-filtered hybrid search, {args.n} memories over {USERS} users")
    print(f"{'engine':<28}{'p50 ms':>10}{'p95 ms':>10}")
    for key in ("qdrant_edge", "qdrant_client_local", "memory_search_edge"):
        row = results[key]
        print(f"{key:<28}{row['p50_ms']:>10}{row['p95_ms']:>10}")  # type: ignore[index]
    print(f"qdrant-edge is {results['speedup_p50']}x faster at p50 (store level)")


if __name__ == "__main__":
    main()
