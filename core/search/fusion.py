"""Fusing the dense and the lexical ranking.

Two methods. `convex` (default): each retriever's scores are scaled by that query's best
score (cosine clipped at 0; BM25 from its natural zero) and combined with the configured
weights. `rrf`: weighted reciprocal-rank fusion. On the LOCOMO dev split (every turn a
memory, all-MiniLM-L6-v2) convex fusion with equal weights reaches evidence recall@10 of
about 0.70 where RRF reaches 0.64-0.69, and it is better on multi-hop questions than
either retriever alone (benchmarks/ has the numbers).

Fusion is done here rather than in Qdrant so that every candidate keeps its cosine
similarity to the query (the `score` users see and `threshold` applies to), whichever
retriever found it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mem_integrations.core.search.lexical import has_cjk
from mem_integrations.core.stores.base import Hit


@dataclass
class Ranked:
    hit: Hit
    similarity: float
    fused: float


def cosine(query: list[float], vector: list[float]) -> float:
    """The cosine similarity of two vectors (0 when either is all zeros)."""
    import numpy as np  # not at import time: most of `import mem_integrations` otherwise

    q, v = np.asarray(query, dtype=np.float32), np.asarray(vector, dtype=np.float32)
    denominator = float(np.linalg.norm(q) * np.linalg.norm(v))
    return float(q @ v) / denominator if denominator else 0.0


def dense_weight_for(query: str, *, dense_weight: float, uncovered_dense_weight: float,
                     embedder_covers_cjk: bool) -> float:
    """The dense weight for this query: `uncovered_dense_weight` when it is written in a
    script the embedder does not cover (CJK with an English-only model), where dense
    scores carry little beyond noise and BM25 on character n-grams should lead."""
    if not embedder_covers_cjk and has_cjk(query):
        return uncovered_dense_weight
    return dense_weight


def _ranks(hits: list[Hit]) -> list[int]:
    """Competition ranks: equal scores share a rank, so that a tie (common in BM25 when
    several memories share the query's only rare word) does not order results at random."""
    ranks: list[int] = []
    for position, hit in enumerate(hits):
        tied = position and hits[position - 1].score == hit.score
        ranks.append(ranks[-1] if tied else position)
    return ranks


def cosines(query: list[float], vectors: list[list[float]]) -> list[float]:
    """The cosine similarity of `query` to each of `vectors`, in one matrix product (a
    search has ~200 lexical candidates: one numpy call each cost more than the search)."""
    import numpy as np

    if not vectors:
        return []
    q = np.asarray(query, dtype=np.float32)
    m = np.asarray(vectors, dtype=np.float32)
    denominators = np.linalg.norm(m, axis=1) * float(np.linalg.norm(q))
    dots = m @ q
    return np.divide(dots, denominators, out=np.zeros_like(dots),
                     where=denominators > 0).tolist()


def _candidates(query_vector: list[float], dense: list[Hit], lexical: list[Hit],
                similarities: Mapping[str, float]) -> dict[str, tuple[Hit, float, float]]:
    """Every candidate with its cosine similarity and BM25 score (0 when the lexical
    retriever did not return it). A lexical hit the dense retriever did not return has
    its similarity in `similarities` (scored by the store) or carries its vector."""
    out = {h.id: (h, h.score, 0.0) for h in dense}
    new = [h for h in lexical if h.id not in out]
    with_vector = [h for h in new if h.vector is not None and h.id not in similarities]
    similarity = dict(similarities) | dict(zip(
        (h.id for h in with_vector), cosines(query_vector, [h.vector for h in with_vector]),
        strict=True))
    for hit in lexical:
        if hit.id in out:
            found, dense_similarity, _ = out[hit.id]
            out[hit.id] = (found, dense_similarity, hit.score)
        else:
            out[hit.id] = (hit, similarity.get(hit.id, 0.0), hit.score)
    return out


def fuse(query_vector: list[float], dense: list[Hit], lexical: list[Hit], *,
         dense_weight: float, lexical_weight: float, k: int = 60,
         method: str = "convex", similarities: Mapping[str, float] | None = None
         ) -> list[Ranked]:
    """Rank the union of both retrievers' candidates, best first."""
    candidates = _candidates(query_vector, dense, lexical, similarities or {})
    if method == "rrf":
        fused = {i: 0.0 for i in candidates}
        for hits, weight in ((dense, dense_weight), (lexical, lexical_weight)):
            for rank, hit in zip(_ranks(hits), hits, strict=True):
                fused[hit.id] += weight / (k + rank + 1)
    else:
        best_cosine = max((max(s, 0.0) for _, s, _ in candidates.values()), default=0.0) or 1.0
        best_bm25 = max((b for _, _, b in candidates.values()), default=0.0) or 1.0
        total = (dense_weight + lexical_weight) or 1.0
        fused = {i: (dense_weight * max(s, 0.0) / best_cosine + lexical_weight * b / best_bm25)
                 / total for i, (_, s, b) in candidates.items()}
    ranked = [Ranked(hit, similarity, fused[i]) for i, (hit, similarity, _) in candidates.items()]
    return sorted(ranked, key=lambda r: (-r.fused, -r.similarity))
