"""Local embedders merge the requests that wait for the model into one call
(`core.providers.batching`): every caller gets its own vectors, in order, and the model's
error; a caller that gives up does not hold the others back."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.providers.batching import EmbedBatcher
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder


class SlowModel:
    """A stand-in model that is slow per call, not per text: each text's vector is its
    length and its first letter's code point; it records each call's texts."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self.started = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        self.started.set()
        self.release.wait(5)
        if self.fail_on in texts:
            raise RuntimeError(f"cannot embed {self.fail_on!r}")
        return [[float(len(t)), float(ord(t[0]) if t else 0)] for t in texts]


async def test_waiting_requests_are_merged_into_one_call_and_answered_in_order() -> None:
    model = SlowModel()
    batcher = EmbedBatcher(model.encode, max_texts=100)
    first = asyncio.ensure_future(batcher.embed(["warm"]))
    await asyncio.to_thread(model.started.wait, 5)  # the model is busy with the first call
    requests = [[f"text {i}", "x" * i] for i in range(1, 11)]
    rest = [asyncio.ensure_future(batcher.embed(texts)) for texts in requests]
    await asyncio.sleep(0.05)
    model.release.set()
    assert await first == [[4.0, float(ord("w"))]]
    for texts, future in zip(requests, rest, strict=True):
        assert await future == [[float(len(t)), float(ord(t[0]))] for t in texts]
    assert len(model.calls) == 2  # the ten waiting requests went in one call
    assert model.calls[1] == [t for texts in requests for t in texts]


async def test_a_model_error_reaches_every_caller_of_the_call_and_the_next_call_works() -> None:
    model = SlowModel(fail_on="bad")
    model.release.set()
    batcher = EmbedBatcher(model.encode, max_texts=100)
    with pytest.raises(RuntimeError, match="cannot embed 'bad'"):
        await batcher.embed(["good", "bad"])
    assert await batcher.embed(["fine"]) == [[4.0, float(ord("f"))]]


async def test_a_cancelled_request_is_skipped_and_the_others_are_answered() -> None:
    model = SlowModel()
    batcher = EmbedBatcher(model.encode, max_texts=100)
    busy = asyncio.ensure_future(batcher.embed(["busy"]))
    await asyncio.to_thread(model.started.wait, 5)
    gone = asyncio.ensure_future(batcher.embed(["gone"]))
    kept = asyncio.ensure_future(batcher.embed(["kept"]))
    await asyncio.sleep(0.01)
    gone.cancel()
    # the cancel reaches the batcher's queue through the event loop: let it get there
    # before the model frees up (the race a caller that gives up later than that loses)
    with pytest.raises(asyncio.CancelledError):
        await gone
    model.release.set()
    assert await kept == [[4.0, float(ord("k"))]]
    await busy
    assert ["gone"] not in model.calls and all("gone" not in call for call in model.calls)


async def test_requests_beyond_max_texts_wait_for_the_next_call() -> None:
    model = SlowModel()
    batcher = EmbedBatcher(model.encode, max_texts=4)
    busy = asyncio.ensure_future(batcher.embed(["busy"]))
    await asyncio.to_thread(model.started.wait, 5)
    waiting = [asyncio.ensure_future(batcher.embed([f"t{i}", f"u{i}"])) for i in range(3)]
    big = asyncio.ensure_future(batcher.embed([f"b{i}" for i in range(9)]))  # alone
    await asyncio.sleep(0.05)
    model.release.set()
    await asyncio.gather(busy, *waiting, big)
    assert [len(call) for call in model.calls] == [1, 4, 2, 9]


async def test_concurrent_onnx_embeddings_equal_one_at_a_time() -> None:
    embedder = OnnxEmbedder(EmbedderConfig())
    texts = [[f"Sentence number {i} about Paris."] * (i % 3 + 1) for i in range(12)]
    together = await asyncio.gather(*(embedder.embed(t, "document") for t in texts))
    for request, vectors in zip(texts, together, strict=True):
        assert np.allclose(vectors, embedder.embed_sync(request), atol=1e-5)
