"""Settings of the ranking steps after fusion and of the optional reranker (the
`search.ranking` and `search.rerank` sections of the configuration).

Every step is off by default unless it was measured to help on the LOCOMO dev split
without hurting any question category (benchmarks/RESULTS.md, section 9): the turn
context, the neighbouring-turn score and the speaker match are on; they change nothing
for memories without the metadata (or the earlier turn) they read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mem_integrations.core.redaction import RedactedURL

__all__ = ["RankingConfig", "RerankConfig"]


class _Settings(BaseModel):
    # as config._Section: errors must not echo what was given (it may be an API key)
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class RankingConfig(_Settings):
    """Re-scoring of the fused candidates with what the store already holds."""

    neighbour_weight: float = Field(
        default=0.2, ge=0, description="A verbatim turn gains this share of the best fused "
        "score of the turns next to it (same `thread_key`, `position_key` ±1 in its "
        "metadata): a reply such as 'Yes, last week!' is found through the question before "
        "it. Memories without those keys are not affected. 0 turns it off. Chosen on "
        "LOCOMO dev with the turn context and the speaker match (benchmarks/RESULTS.md, "
        "section 9).")
    thread_key: str = Field(default="session", description="Metadata key of a turn's thread "
                            "(a conversation or session id).")
    position_key: str = Field(default="turn", description="Metadata key of a turn's integer "
                              "position in its thread.")
    previous_turn_context: bool = Field(
        default=True, description="Embed a turn stored verbatim after the turn before it "
        "(the message before it in one `add(..., infer=False)`, or the `put_many` item one "
        "`position_key` earlier in its thread), so that a reply is found by the words of "
        "what it answers; the memory's text and lexical index stay its own, and deleting "
        "the earlier turn re-embeds it alone (core.turn_context). Applies to memories "
        "written from now on. A search's `score` is then the cosine to that embedded text. "
        "On LOCOMO dev, with the neighbour and speaker weights and dense_weight 1.2, "
        "recall@10 0.735 → 0.778 with every category higher.")
    speaker_weight: float = Field(
        default=0.4, ge=0, description="A memory whose speaker the query names (metadata "
        "`speaker_key`, else the message name it came from, `actor_id`) has its fused "
        "score multiplied by 1 + this: 'What did Caroline research?' is about Caroline's "
        "own turns. Memories without a speaker are not affected. 0 turns it off. On LOCOMO "
        "dev it is what lifts multi-hop questions most (0.434 → 0.493 with the steps "
        "above).")
    speaker_key: str = Field(default="speaker", description="Metadata key of a memory's "
                             "speaker.")
    strip_speaker_names: bool = Field(
        default=True, description="With the speaker match on, and two or more turn "
        "speakers (metadata `speaker_key`) among the memories searched: the names of "
        "those speakers that the query gives are taken out of the text the dense and "
        "lexical sides search for ('What did Caroline research?' is searched as 'What "
        "did research?'), as the speaker match already carries who. Message names "
        "(`actor_id`) are never taken out: facts one person stated about others name "
        "their subject. The speaker match, the graph and a reranker read the query as "
        "asked, and a result's `score` is the cosine to the text searched. On LOCOMO dev "
        "every question category is higher with it (benchmarks/RESULTS.md, section 9).")
    expansion_weight: float = Field(
        default=0.0, ge=0, description="Query expansion without an LLM (pseudo-relevance "
        "feedback): the query vector moves this far towards the mean of the "
        "`expansion_docs` best candidates' vectors and the candidates' dense scores are "
        "recomputed. 0 turns it off.")
    expansion_docs: int = Field(default=3, ge=1)
    mmr_lambda: float | None = Field(
        default=None, gt=0, le=1, description="Maximal marginal relevance over the top "
        "results: 1 is pure relevance, lower values push near-duplicates of better results "
        "down. Unset: off.")
    graph_weight: float = Field(
        default=0.0, ge=0, description="With graph memory on: a memory naming an entity of "
        "the relations the query found has its fused score multiplied by 1 + weight × that "
        "relation's relevance. 0 turns it off (not measurable on LOCOMO's verbatim turns, "
        "which write no graph).")
    recency_weight: float = Field(
        default=0.0, ge=0, description="A memory's fused score is multiplied by 1 + weight × "
        "2^(-age / recency_half_life_days), age counted from its last update. 0 turns it "
        "off.")
    recency_half_life_days: float = Field(default=30.0, gt=0)


class RerankConfig(_Settings):
    """An optional reranker over the best fused candidates. None is configured by default;
    once one is, every search reranks unless it passes `rerank=False` (or `default` is
    False, then only `rerank=True` searches do)."""

    provider: Literal["cross_encoder", "llm", "http"] | None = Field(
        default=None, description="'cross_encoder': a local sentence-transformers "
        "CrossEncoder or an ONNX export of one, loaded from disk (nothing is downloaded); "
        "'llm': one call to the configured LLM (or `base_url`/`model` here); 'http': a "
        "Cohere/Jina-compatible POST {base_url}/rerank API.")
    model: str | None = Field(
        default=None, description="cross_encoder: a model directory (model.onnx + "
        "tokenizer.json, or a sentence-transformers CrossEncoder) or an installed model's "
        "name; http: the model name sent; llm: overrides the LLM's model.")
    base_url: RedactedURL | None = None
    api_key: SecretStr | None = None
    default: bool = Field(default=True, description="Rerank searches that do not say.")
    candidates: int = Field(default=20, ge=1, description="How many fused candidates are "
                            "reranked (the rest keep their order after them).")
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
