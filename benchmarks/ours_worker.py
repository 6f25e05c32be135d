"""Drives our library in a separate process, with the same JSON-lines protocol as
mem0_worker.py, so both are measured the same way (times taken around the public calls,
peak memory of a process that holds one memory and one embedding model).

    python -m benchmarks.ours_worker
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_out = sys.stdout
sys.stdout = sys.stderr


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Worker:
    def __init__(self) -> None:
        self.events: dict[str, int] = {}
        self.memory = None
        self.embedder = None

    def init(self, data_dir: str, llm_url: str | None = None, graph: bool = False,
             hybrid: bool = True, **_: object) -> dict:
        import warnings

        warnings.simplefilter("ignore")
        from mem_integrations.core.config import EmbedderConfig
        from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder
        from mem_integrations import Memory

        start = time.perf_counter()
        if self.embedder is None:
            self.embedder = SentenceTransformerEmbedder(EmbedderConfig())
        config: dict = {"data_dir": data_dir, "search": {"hybrid": hybrid}}
        config["llm"] = ({"base_url": llm_url, "api_key": "bench", "model": "gpt-4.1-mini"}
                         if llm_url else {"provider": "offline"})
        if graph:
            config["graph_store"] = {"provider": "ladybug"}
        self.memory = Memory(config, embedder=self.embedder)
        self.memory.search("warm up", user_id="warm-up")  # opens the stores, warms the model
        import importlib.metadata

        return {"version": importlib.metadata.version("mem-integrations"),
                "init_s": round(time.perf_counter() - start, 2)}

    def _add(self, item: dict) -> float:
        start = time.perf_counter()
        found = self.memory.add(item["messages"], user_id=item["user_id"],
                                infer=item.get("infer", True), metadata=item.get("metadata"))
        ms = (time.perf_counter() - start) * 1000
        for row in found.results:
            event = str(getattr(row.event, "value", row.event))
            self.events[event] = self.events.get(event, 0) + 1
        return ms

    def add_batch(self, items: list[dict], **_: object) -> dict:
        """Sequential adds; `events` counts what they did (ADD, UPDATE, DELETE, NONE)."""
        self.events = {}
        return {"ms": [self._add(item) for item in items], "events": dict(self.events)}

    def add_concurrent(self, items: list[dict], **_: object) -> dict:
        """One thread per user, each adding its own items in order, all users at once."""
        errors: list[str] = []
        users: dict[str, list[dict]] = {}
        for item in items:
            users.setdefault(item["user_id"], []).append(item)

        def run(user_items: list[dict]) -> list[float]:
            out = []
            for item in user_items:
                try:
                    out.append(self._add(item))
                except Exception as exc:  # counted, not fatal
                    errors.append(repr(exc)[:200])
            return out

        self.events = {}
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            ms = [x for chunk in pool.map(run, users.values()) for x in chunk]
        return {"wall_s": time.perf_counter() - start, "ms": ms, "errors": errors[:5],
                "error_count": len(errors), "threads": len(users),
                "events": dict(self.events)}

    def search_batch(self, queries: list[dict], keep: bool = False, probe: bool = False,
                     **_: object) -> dict:
        """Timed searches; with `probe`, each query is also embedded alone just before its
        search (timed apart), to tell the query embedding from the rest."""
        ms, results, embed_ms = [], [], []
        for q in queries:
            if probe:
                start = time.perf_counter()
                self.embedder.embed_sync([q["query"]])
                embed_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            hits = self.memory.search(q["query"], user_id=q["user_id"],
                                      limit=q.get("limit", 10))
            ms.append((time.perf_counter() - start) * 1000)
            if keep:
                results.append([{"memory": h.memory, "score": h.score,
                                 "metadata": h.metadata or {}} for h in hits])
        return {"ms": ms, "results": results, "embed_ms": embed_ms}

    def fill(self, n: int, batch: int = 1000, **_: object) -> dict:
        """n synthetic memories over 100 users, written at our vector-store level in the
        payload shape our add writes (with the BM25 sparse vector), without embedding."""
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from synthetic import CREATED_AT, memories

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

    def stats(self, **_: object) -> dict:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"peak_rss_mb": round(peak, 1), "rss_mb": round(rss_mb(), 1)}

    def close(self, **_: object) -> dict:
        if self.memory is not None:
            self.memory.close()
        self.memory = None
        return {}


def main() -> None:
    worker = Worker()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = request.pop("op")
        if op == "exit":
            break
        try:
            reply = {"ok": True, **getattr(worker, op)(**request)}
        except Exception as exc:
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
        _out.write(json.dumps(reply) + "\n")
        _out.flush()
    worker.close()


if __name__ == "__main__":
    main()
