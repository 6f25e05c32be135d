"""Query expansion without an LLM: pseudo-relevance feedback on the dense side (Rocchio).

The query vector moves towards the mean of the best fused candidates' vectors, and every
candidate's dense score is recomputed against it: a question whose words name the topic
only loosely ("What did she research?") borrows the vocabulary of its best matches. The
lexical side is left as it is (its query would need a second store round trip).
"""

from __future__ import annotations

from mem_integrations.core.search.fusion import Ranked, cosines
from mem_integrations.core.stores.base import Hit

__all__ = ["expanded_query", "rescored"]


def expanded_query(query_vector: list[float], ranked: list[Ranked], *, weight: float,
                   docs: int) -> list[float]:
    """The query vector plus `weight` × the mean unit vector of the `docs` best candidates
    that carry a vector, unit length."""
    import numpy as np

    query = np.asarray(query_vector, dtype=np.float32)
    query /= float(np.linalg.norm(query)) or 1.0
    top = [r.hit.vector for r in ranked if r.hit.vector is not None][:docs]
    if not top:
        return query_vector
    vectors = np.asarray(top, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    moved = query + weight * vectors.mean(axis=0)
    return (moved / (float(np.linalg.norm(moved)) or 1.0)).tolist()


def rescored(query_vector: list[float], ranked: list[Ranked]) -> list[Hit]:
    """Every candidate that carries a vector as a dense hit scored against `query_vector`,
    best first (the input of a second fusion)."""
    with_vectors = [r.hit for r in ranked if r.hit.vector is not None]
    scores = cosines(query_vector, [h.vector for h in with_vectors])  # type: ignore[misc]
    hits = [Hit(h.id, s, h.payload, h.vector) for h, s in zip(with_vectors, scores, strict=True)]
    return sorted(hits, key=lambda h: -h.score)
