"""One thread per local embedding model, merging the requests that wait for it.

A local model (ONNX Runtime, sentence-transformers) pays a fixed cost per call that
dwarfs the cost per text (all-MiniLM-L6-v2 on torch, 2 cores: 12 ms for one sentence,
29 ms for sixteen), and concurrent calls from several threads only fight over the same
cores. So the engine's embeddings go through an `EmbedBatcher`: each request joins a
queue, and one thread runs them, every request waiting meanwhile merged into ONE call
of the model. One add alone is embedded at once, as before; sixteen concurrent adds
share a few calls instead of making thirty. The waiting callers hold no thread of the
event loop's default executor, which stays free for the stores' quick calls.

The thread starts on the first request and ends after a few idle seconds (and is
started again in a forked child, which does not inherit it).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future

__all__ = ["EmbedBatcher"]

_IDLE_SECONDS = 5.0

Encode = Callable[[list[str]], Sequence[Sequence[float]]]


class EmbedBatcher:
    """Runs `encode` (blocking, one vector per text, in order) on its own thread, merging
    waiting requests into calls of at most `max_texts` texts (one request larger than
    that is one call of its own)."""

    def __init__(self, encode: Encode, *, max_texts: int, name: str = "embedder") -> None:
        self._encode = encode
        self._max_texts = max_texts
        self._name = name
        self._waiting: deque[tuple[list[str], Future[list[Sequence[float]]]]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    async def embed(self, texts: list[str]) -> list[Sequence[float]]:
        """The vectors of `texts`, computed on the batcher's thread."""
        return await asyncio.wrap_future(self.submit(texts))

    def submit(self, texts: list[str]) -> Future[list[Sequence[float]]]:
        future: Future[list[Sequence[float]]] = Future()
        with self._cond:
            self._waiting.append((list(texts), future))
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"mem-integrations {self._name}")
                self._thread.start()
            else:
                self._cond.notify()
        return future

    def _take(self) -> list[tuple[list[str], Future[list[Sequence[float]]]]] | None:
        """The next requests to run together; None when the thread should end (idle)."""
        with self._cond:
            if not self._waiting:
                self._cond.wait(_IDLE_SECONDS)
            if not self._waiting:
                self._thread = None
                return None
            batch = [self._waiting.popleft()]
            size = len(batch[0][0])
            while self._waiting and size + len(self._waiting[0][0]) <= self._max_texts:
                batch.append(self._waiting.popleft())
                size += len(batch[-1][0])
        # a caller that gave up (its task was cancelled) is not embedded for
        return [(texts, f) for texts, f in batch if f.set_running_or_notify_cancel()]

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            if not batch:
                continue
            texts = [text for request, _ in batch for text in request]
            try:
                vectors = list(self._encode(texts)) if texts else []
            except BaseException as exc:  # each caller gets the model's error
                for _, future in batch:
                    future.set_exception(exc)
                continue
            start = 0
            for request, future in batch:
                future.set_result(vectors[start:start + len(request)])
                start += len(request)
