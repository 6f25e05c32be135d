"""A scripted Cohere/Jina-compatible rerank API on 127.0.0.1, for tests and benchmarks.

`POST /v1/rerank` with `{"query", "documents", "top_n", "model"}` answers
`{"results": [{"index", "relevance_score"}], ...}`, best first, over real HTTP, so the
client's request, retries and parsing are exercised for real; only the model is
replaced. The default score is word overlap (how many of the query's words of three
letters or more a document holds), or `scorer(query, document)`. Faults (HTTP status,
delay; answered with that status and `{"message"}`, so `Fault(200)` is a reply without
results) are served first, in order, then requests are answered. Every request is recorded.

    with ScriptedRerankServer() as api:
        memory = Memory({"search": {"rerank": {"provider": "http", "base_url": api.base_url}}})
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from mem_integrations.testing.llm_server import Fault, JSONHandler

__all__ = ["RerankCall", "ScriptedRerankServer", "word_overlap"]

Scorer = Callable[[str, str], float]


def word_overlap(query: str, document: str) -> float:
    """How many distinct words of three letters or more the query and the document share."""
    def words(text: str) -> set[str]:
        return {w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3}

    return float(len(words(query) & words(document)))


@dataclass
class RerankCall:
    """One request as the server saw it."""

    body: dict[str, Any]
    authorization: str | None


class ScriptedRerankServer:
    """A rerank endpoint whose scores come from `scorer` (word overlap by default)."""

    def __init__(self, scorer: Scorer = word_overlap) -> None:
        self.scorer = scorer
        self.calls: list[RerankCall] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    def fail(self, *faults: Fault) -> None:
        """Serve these faults to the next requests, in order."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedRerankServer:
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name="scripted-rerank").start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict[str, Any], authorization: str | None
                ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append(RerankCall(body, authorization))
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:  # Fault(200) is a 200 whose body is not a rerank reply
            time.sleep(fault.delay)
            return fault.status, {"message": fault.message}
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not isinstance(documents, list):
            return 400, {"message": "query (string) and documents (list) are required"}
        scored = sorted(((self.scorer(query, str(d)), i) for i, d in enumerate(documents)),
                        key=lambda pair: (-pair[0], pair[1]))
        top_n = body.get("top_n") or len(documents)
        return 200, {"id": f"rerank-{len(self.calls)}", "model": body.get("model", "scripted"),
                     "results": [{"index": i, "relevance_score": s} for s, i in scored[:top_n]]}

    def _handler(self) -> type[JSONHandler]:
        server = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
                body = self._body()
                if not self.path.endswith("/rerank"):
                    status, payload = 404, {"message": f"no route {self.path}"}
                elif not isinstance(body, dict):
                    status, payload = 400, {"message": "invalid JSON"}
                else:
                    status, payload = server._answer(body, self.headers.get("Authorization"))
                self._send(status, payload)

        return Handler
