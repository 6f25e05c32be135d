"""The optional reranking stage after fusion, and what it cost.

A reranker scores (query, memory) pairs better than the first-stage retrievers can — a
local cross-encoder, one LLM call, or a hosted rerank API — at the price of latency and,
for the last two, calls. Only the best `search.rerank.candidates` fused results are
reranked; the others keep their order after them. A reranker that fails raises: search
never falls back silently to the unreranked order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mem_integrations.core.errors import ConfigurationError, InvalidInputError
from mem_integrations.core.providers.base import ChatModel
from mem_integrations.core.records import DATA
from mem_integrations.core.search.fusion import Ranked
from mem_integrations.core.search.settings import RerankConfig

__all__ = ["RerankStage", "RerankStats", "Reranker"]

_NO_RERANKER = ("search(rerank=True) needs a reranker: set search.rerank.provider to "
                "'cross_encoder' (a local model, with search.rerank.model), 'llm' or 'http' "
                "(with search.rerank.base_url)")


@runtime_checkable
class Reranker(Protocol):
    """Scores memories against a query: higher is more relevant."""

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        """One score per document, in order."""
        ...


@dataclass
class RerankStats:
    """What reranking cost so far: searches reranked, documents scored, provider calls
    (0 for a local model) and the time spent in the reranker."""

    searches: int = 0
    documents: int = 0
    calls: int = 0
    seconds: float = 0.0


def build_reranker(config: RerankConfig, chat: ChatModel | None) -> Reranker:
    """The reranker `config` names (`chat` is the memory's LLM, for provider 'llm')."""
    if config.provider == "http":
        from mem_integrations.core.search.rerank_http import HttpReranker
        return HttpReranker(config)
    if config.provider == "llm":
        from mem_integrations.core.search.rerank_llm import LLMReranker
        return LLMReranker.from_config(config, chat)
    if config.provider == "cross_encoder":
        from mem_integrations.core.search.rerank_local import load_cross_encoder
        return load_cross_encoder(config)
    raise ConfigurationError(_NO_RERANKER)


class RerankStage:
    """The memory's reranker, built on first use, and its running cost."""

    def __init__(self, config: RerankConfig, chat: Callable[[], ChatModel | None]) -> None:
        self.config = config
        self._chat = chat
        self._reranker: Reranker | None = None
        self.stats = RerankStats()

    def wanted(self, rerank: bool | None) -> bool:
        """Whether this search reranks: as asked, else when one is configured (and
        `rerank.default`). `rerank` must be a bool or None."""
        if rerank is None:
            return self.config.provider is not None and self.config.default
        if not isinstance(rerank, bool):
            raise InvalidInputError(f"rerank must be True, False or None, got {rerank!r}")
        if rerank and self.config.provider is None:
            raise ConfigurationError(_NO_RERANKER)
        return rerank

    @property
    def reranker(self) -> Reranker:
        if self._reranker is None:
            self._reranker = build_reranker(self.config, self._chat())
        return self._reranker

    async def apply(self, query: str, ranked: list[Ranked]) -> list[Ranked]:
        """The best `candidates` of `ranked` in the reranker's order, then the rest."""
        head, tail = ranked[: self.config.candidates], ranked[self.config.candidates:]
        if not head:
            return ranked
        reranker = self.reranker
        began = time.perf_counter()
        try:
            scores = await reranker.scores(query, [str(r.hit.payload.get(DATA, ""))
                                                   for r in head])
        finally:  # a failed call was still made, and waited for
            self.stats.seconds += time.perf_counter() - began
            self.stats.calls += int(getattr(reranker, "remote", False))
        self.stats.searches += 1
        self.stats.documents += len(head)
        order = sorted(range(len(head)), key=lambda i: -scores[i])  # stable: ties keep fusion's
        return [head[i] for i in order] + tail

    async def aclose(self) -> None:
        close = getattr(self._reranker, "aclose", None)
        if close is not None:
            await close()
