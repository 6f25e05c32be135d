"""Fusing the dense and the lexical ranking with weighted reciprocal-rank fusion.

Fusion is done here rather than in Qdrant so that every candidate keeps its cosine
similarity to the query (the `score` users see and `threshold` applies to), whichever
retriever found it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.stores.base import Hit


@dataclass
class Ranked:
    hit: Hit
    similarity: float
    fused: float


def cosine(query: list[float], vector: list[float]) -> float:
    q, v = np.asarray(query, dtype=np.float32), np.asarray(vector, dtype=np.float32)
    denominator = float(np.linalg.norm(q) * np.linalg.norm(v))
    return float(q @ v) / denominator if denominator else 0.0


def _ranks(hits: list[Hit]) -> list[int]:
    """Competition ranks: equal scores share a rank, so that a tie (common in BM25 when
    several memories share the query's only rare word) does not order results at random."""
    ranks: list[int] = []
    for position, hit in enumerate(hits):
        tied = position and hits[position - 1].score == hit.score
        ranks.append(ranks[-1] if tied else position)
    return ranks


def fuse(query_vector: list[float], dense: list[Hit], lexical: list[Hit], *,
         dense_weight: float, lexical_weight: float, k: int) -> list[Ranked]:
    """Weighted RRF of two rankings. Lexical hits must carry their dense vector so that
    their cosine similarity can be computed."""
    by_id: dict[str, Ranked] = {}
    for rank, hit in zip(_ranks(dense), dense, strict=True):
        by_id[hit.id] = Ranked(hit, hit.score, dense_weight / (k + rank + 1))
    for rank, hit in zip(_ranks(lexical), lexical, strict=True):
        contribution = lexical_weight / (k + rank + 1)
        if hit.id in by_id:
            by_id[hit.id].fused += contribution
        else:
            similarity = cosine(query_vector, hit.vector) if hit.vector is not None else 0.0
            by_id[hit.id] = Ranked(hit, similarity, contribution)
    return sorted(by_id.values(), key=lambda r: (-r.fused, -r.similarity))
