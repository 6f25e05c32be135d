"""What the two benchmark workers share: the JSON-lines protocol, the timed add and search
ops, and the memory figures. `ours_worker.py` runs in our environment, `mem0_worker.py` in
mem0's, so this module needs the standard library only; each worker says how to add,
search and embed with its library, and times are taken around exactly those calls.

A request is one JSON object on stdin, {"op": name, **arguments}; the reply is one JSON
object on stdout, {"ok": true, **result} or {"ok": false, "error": ...}. {"op": "exit"}
ends the process.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def rss_mb() -> float:
    """The process's resident memory now, in MiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class BaseWorker(ABC):
    """The ops both workers answer the same way; subclasses add init, fill and close."""

    def __init__(self) -> None:
        self.events: dict[str, int] = {}
        self.memory: Any = None

    def _add_one(self, item: dict) -> Any:
        """Add one item; both libraries' `add` take the same arguments."""
        return self.memory.add(item["messages"], user_id=item["user_id"],
                               infer=item.get("infer", True), metadata=item.get("metadata"))

    @abstractmethod
    def _events(self, result: Any) -> list[str]:
        """The events (ADD, UPDATE, DELETE, NONE) an add's result reports."""

    @abstractmethod
    def _search(self, query: str, user_id: str, limit: int) -> Any:
        """One search; the library's result."""

    @abstractmethod
    def _hits(self, result: Any) -> list[dict]:
        """A search result as [{"memory", "score", "metadata"}], best first."""

    @abstractmethod
    def _embed_query(self, query: str) -> None:
        """Embed one query alone, as the library's search does."""

    def _add(self, item: dict) -> float:
        start = time.perf_counter()
        result = self._add_one(item)
        ms = (time.perf_counter() - start) * 1000
        for event in self._events(result):
            self.events[event] = self.events.get(event, 0) + 1
        return ms

    def add_batch(self, items: list[dict], **_: object) -> dict:
        """Sequential adds; `events` counts what they did (ADD, UPDATE, DELETE, NONE)."""
        self.events = {}
        return {"ms": [self._add(item) for item in items], "events": dict(self.events)}

    @staticmethod
    def by_user(items: list[dict]) -> dict[str, list[dict]]:
        """The items of each user, in order."""
        users: dict[str, list[dict]] = {}
        for item in items:
            users.setdefault(item["user_id"], []).append(item)
        return users

    def add_concurrent(self, items: list[dict], **_: object) -> dict:
        """One thread per user, each adding its own items in order, all users at once."""
        errors: list[str] = []
        users = self.by_user(items)

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
                self._embed_query(q["query"])
                embed_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            found = self._search(q["query"], q["user_id"], q.get("limit", 10))
            ms.append((time.perf_counter() - start) * 1000)
            if keep:
                results.append(self._hits(found))
        return {"ms": ms, "results": results, "embed_ms": embed_ms}

    def stats(self, **_: object) -> dict:
        """Peak and current resident memory, in MiB."""
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"peak_rss_mb": round(peak, 1), "rss_mb": round(rss_mb(), 1)}

    @abstractmethod
    def _close(self) -> None:
        """Close `self.memory` (the library's own way)."""

    def close(self, **_: object) -> dict:
        """Close the memory, if one was made."""
        if self.memory is not None:
            self._close()
        self.memory = None
        return {}


def serve(worker: BaseWorker) -> None:
    """Answer requests from stdin until {"op": "exit"} or the end of input."""
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever a library prints must not break the protocol
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
        out.write(json.dumps(reply) + "\n")
        out.flush()
    worker.close()
