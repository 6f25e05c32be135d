"""The ranking after retrieval: fusion, then the optional re-scoring steps of
`search.ranking`, in the order each needs (expansion re-fuses; neighbours and recency
re-score; MMR reorders the final top k).

The two halves are apart so that a search can fuse candidates that came from the store
as ids and scores alone, and read the payloads of only the best `POOL` of them for the
steps after (reading a payload is most of what a candidate costs the store).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mem_integrations.core.models import Relation
from mem_integrations.core.search.diversity import diversified
from mem_integrations.core.search.expansion import expanded_query, rescored
from mem_integrations.core.search.fusion import Ranked, fuse
from mem_integrations.core.search.graph_boost import with_graph_hits
from mem_integrations.core.search.neighbours import with_neighbours
from mem_integrations.core.search.recency import with_recency
from mem_integrations.core.search.settings import RankingConfig
from mem_integrations.core.search.speaker import with_speakers
from mem_integrations.core.stores.base import Hit

__all__ = ["POOL", "fused", "needs_vectors", "rescore"]

# Fused candidates the re-scoring steps look at. On LOCOMO dev the best 100 give the same
# recall@10 as all ~220 (benchmarks/RESULTS.md, section 9).
POOL = 100


def needs_vectors(settings: RankingConfig) -> bool:
    """Whether the candidates must come with their vectors (expansion and MMR compare
    candidates with each other)."""
    return settings.expansion_weight > 0 or settings.mmr_lambda is not None


def fused(query_vector: list[float], dense: Sequence[Hit], lexical: Sequence[Hit], *,
          settings: RankingConfig, dense_weight: float, lexical_weight: float, rrf_k: int,
          method: str, similarities: Mapping[str, float] | None = None) -> list[Ranked]:
    """Every candidate, best first by fusion (and query expansion, when on).
    `similarities` are the cosines of lexical-only candidates, when the store scored
    them; `similarity` stays the cosine to the query as asked."""
    def fuse_with(vector: list[float], dense_hits: Sequence[Hit],
                  known: Mapping[str, float] | None = None) -> list[Ranked]:
        return fuse(vector, list(dense_hits), list(lexical), dense_weight=dense_weight,
                    lexical_weight=lexical_weight, k=rrf_k, method=method, similarities=known)

    ranked = fuse_with(query_vector, dense, similarities)
    if settings.expansion_weight > 0:
        similarity = {r.hit.id: r.similarity for r in ranked}
        moved = expanded_query(query_vector, ranked, weight=settings.expansion_weight,
                               docs=settings.expansion_docs)
        ranked = [Ranked(r.hit, similarity[r.hit.id], r.fused)
                  for r in fuse_with(moved, rescored(moved, ranked))]
    return ranked


def rescore(query: str, ranked: list[Ranked], *, settings: RankingConfig, limit: int,
            relations: Sequence[Relation] = ()) -> list[Ranked]:
    """The fused candidates (with their payloads) through the re-scoring steps, best
    first. `relations` are the graph's hits for the query (graph memory on)."""
    if settings.neighbour_weight > 0:
        ranked = with_neighbours(ranked, weight=settings.neighbour_weight,
                                 thread_key=settings.thread_key,
                                 position_key=settings.position_key)
    if settings.speaker_weight > 0:
        ranked = with_speakers(query, ranked, weight=settings.speaker_weight,
                               speaker_key=settings.speaker_key)
    if settings.graph_weight > 0 and relations:
        ranked = with_graph_hits(ranked, relations, weight=settings.graph_weight)
    if settings.recency_weight > 0:
        ranked = with_recency(ranked, weight=settings.recency_weight,
                              half_life_days=settings.recency_half_life_days)
    if settings.mmr_lambda is not None:
        ranked = diversified(ranked, lambda_=settings.mmr_lambda, limit=limit)
    return ranked
