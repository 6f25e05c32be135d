"""Synthetic memories for the search-latency benchmark, identical in every process that
generates them (ours and mem0's workers). Standard library and numpy only: it is imported
by the mem0 worker, which runs in mem0's own virtual environment."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import numpy as np

DIMENSION = 384
USERS = 100
WORDS = ["paris", "berlin", "tennis", "nurse", "hospital", "cat", "dog", "pizza", "sushi",
         "hiking", "alps", "guitar", "piano", "python", "garden", "coffee", "tea", "marathon",
         "novel", "painting", "sister", "brother", "daughter", "school", "birthday", "wedding",
         "concert", "museum", "beach", "mountain", "train", "flight", "project", "deadline"]
CREATED_AT = "2026-01-01T00:00:00+00:00"


def memories(n: int, seed: int = 7, chunk: int = 5000
             ) -> Iterator[tuple[str, list[float], str, str]]:
    """(id, unit vector, text, user_id) for n memories spread over USERS users."""
    rng = np.random.default_rng(seed)
    words = random.Random(seed)
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
        vectors = rng.standard_normal((count, DIMENSION)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for j in range(count):
            i = start + j
            text = "User " + " ".join(words.choices(WORDS, k=8))
            yield str(uuid.UUID(int=i + 1)), vectors[j].tolist(), text, f"user-{i % USERS}"


def queries(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """(query text, user_id) pairs, the same for every library."""
    words = random.Random(seed)
    return [(f"what about {' '.join(words.choices(WORDS, k=3))}", f"user-{i % USERS}")
            for i in range(count)]
