"""Maximal marginal relevance: near-duplicates of better results move down the top k.

A memory store repeats itself ("I love hiking" said in three sessions); a top 10 of
three copies of one fact leaves out the others a question may need. Greedily, the next
result is the candidate with the best λ × relevance − (1 − λ) × its highest cosine to a
result already chosen (Carbonell & Goldstein, 1998). Relevance is the fused score scaled
by the best one.
"""

from __future__ import annotations

from mem_integrations.core.search.fusion import Ranked

__all__ = ["diversified"]


def diversified(ranked: list[Ranked], *, lambda_: float, limit: int) -> list[Ranked]:
    """The first `limit` results of `ranked` reordered by MMR over its best 3 × `limit`
    candidates that carry a vector; the rest follow in their order."""
    import numpy as np

    pool = [r for r in ranked[:3 * limit] if r.hit.vector is not None]
    if len(pool) < 2:
        return ranked
    vectors = np.asarray([r.hit.vector for r in pool], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    similarity = vectors @ vectors.T
    relevance = np.asarray([r.fused for r in pool], dtype=np.float32)
    relevance /= float(relevance.max()) or 1.0
    chosen: list[int] = []
    closest = np.full(len(pool), -np.inf, dtype=np.float32)  # to any chosen result
    left = np.ones(len(pool), dtype=bool)
    for _ in range(min(limit, len(pool))):
        penalty = closest if chosen else np.zeros_like(closest)
        gain = lambda_ * relevance - (1 - lambda_) * penalty
        best = int(np.argmax(np.where(left, gain, -np.inf)))
        chosen.append(best)
        left[best] = False
        closest = np.maximum(closest, similarity[best])
    picked = {id(pool[i]) for i in chosen}
    return [pool[i] for i in chosen] + [r for r in ranked if id(r) not in picked]
