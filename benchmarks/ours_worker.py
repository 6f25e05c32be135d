"""Drives our library in a separate process, with the same JSON-lines protocol as
mem0_worker.py, so both are measured the same way (times taken around the public calls,
peak memory of a process that holds one memory and one embedding model).

    python -m benchmarks.ours_worker
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.worker_base import BaseWorker, serve

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Worker(BaseWorker):
    def __init__(self) -> None:
        super().__init__()
        self.embedder: Any = None

    def init(self, data_dir: str, llm_url: str | None = None, graph: bool = False,
             hybrid: bool = True, reconcile_mode: str | None = None, **_: object) -> dict:
        import warnings

        warnings.simplefilter("ignore")
        from mem_integrations import Memory
        from mem_integrations.core.config import EmbedderConfig
        from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder

        start = time.perf_counter()
        if self.embedder is None:
            self.embedder = SentenceTransformerEmbedder(EmbedderConfig())
        config: dict = {"data_dir": data_dir, "search": {"hybrid": hybrid}}
        config["llm"] = ({"base_url": llm_url, "api_key": "bench", "model": "gpt-4.1-mini"}
                         if llm_url else {"provider": "offline"})
        if graph:
            config["graph_store"] = {"provider": "ladybug"}
        if reconcile_mode:
            config["reconcile"] = {"mode": reconcile_mode}
        self.memory = Memory(config, embedder=self.embedder)
        self.memory.search("warm up", user_id="warm-up")  # opens the stores, warms the model
        import importlib.metadata

        return {"version": importlib.metadata.version("mem-integrations"),
                "init_s": round(time.perf_counter() - start, 2)}

    def _events(self, result: Any) -> list[str]:
        return [str(getattr(row.event, "value", row.event)) for row in result.results]

    def _search(self, query: str, user_id: str, limit: int) -> Any:
        return self.memory.search(query, user_id=user_id, limit=limit)

    def _hits(self, result: Any) -> list[dict]:
        return [{"memory": h.memory, "score": h.score, "metadata": h.metadata or {}}
                for h in result]

    def _embed_query(self, query: str) -> None:
        self.embedder.embed_sync([query])

    def texts(self, user_ids: list[str], **_: object) -> dict:
        """Every memory of these users, as sorted texts: what two runs are compared by."""
        return {"texts": sorted(m.memory for user in user_ids
                                for m in self.memory.get_all(user_id=user, limit=100_000))}

    def fill(self, n: int, batch: int = 1000, **_: object) -> dict:
        """n synthetic memories over 100 users, written at our vector-store level in the
        payload shape our add writes (with the BM25 sparse vector), without embedding."""
        from benchmarks.synthetic import CREATED_AT, memories
        from mem_integrations.core.records import make_payload
        from mem_integrations.core.stores.base import Point

        inner = self.memory.async_memory
        now = datetime.fromisoformat(CREATED_AT).astimezone(UTC)
        start = time.perf_counter()
        points = []
        for memory_id, vector, text, user in memories(n):
            points.append(Point(memory_id, vector,
                                make_payload(text, {"user_id": user}, now=now),
                                inner.lexical.document(text)))
            if len(points) >= batch:
                inner.store.upsert(points)
                points = []
        if points:
            inner.store.upsert(points)
        return {"fill_s": round(time.perf_counter() - start, 2)}

    def add_queued(self, items: list[dict], **_: object) -> dict:
        """Non-blocking adds (`async_mode=True`), one thread per user as `add_concurrent`:
        `ms` is how long each call took to return; `wall_s` runs until `flush()` has
        drained the queue, so adds / s is the worker's throughput."""
        users = self.by_user(items)

        def run(user_items: list[dict]) -> list[float]:
            out = []
            for item in user_items:
                start = time.perf_counter()
                self.memory.add(item["messages"], user_id=item["user_id"], async_mode=True)
                out.append((time.perf_counter() - start) * 1000)
            return out

        from concurrent.futures import ThreadPoolExecutor

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            ms = [x for chunk in pool.map(run, users.values()) for x in chunk]
        self.memory.flush()
        wall = time.perf_counter() - start
        return {"ms": ms, "wall_s": wall, "pending_after": len(self.memory.pending()),
                "stored": sum(len(self.memory.get_all(user_id=u).results) for u in users)}

    def _close(self) -> None:
        self.memory.close()


if __name__ == "__main__":
    serve(Worker())
