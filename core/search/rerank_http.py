"""A Cohere / Jina-compatible rerank API: POST {base_url}/rerank.

Request `{"model", "query", "documents": [str], "top_n"}`, reply `{"results": [{"index",
"relevance_score"}]}` — the shape of Cohere's v1/v2, Jina's, Voyage's, and of local
servers (Infinity, TEI's Jina mode, vLLM's `/rerank`). Connection errors, timeouts, 429
and 5xx are retried with exponential backoff; a rejected key is said so at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from mem_integrations.core.errors import ConfigurationError, ProviderError
from mem_integrations.core.search.settings import RerankConfig

__all__ = ["HttpReranker"]

_RETRIED = {408, 409, 429}


class HttpReranker:
    """Scores from a hosted or local rerank endpoint; one call per search."""

    remote = True  # counted as a provider call in the search's rerank stats

    def __init__(self, config: RerankConfig, client: httpx.AsyncClient | None = None) -> None:
        if not config.base_url:
            raise ConfigurationError("search.rerank.provider='http' needs search.rerank."
                                     "base_url (e.g. https://api.cohere.com/v2 or "
                                     "https://api.jina.ai/v1; /rerank is appended)")
        self.config = config
        self.url = config.base_url.rstrip("/") + "/rerank"
        headers = {"Authorization": f"Bearer {config.api_key.get_secret_value()}"} \
            if config.api_key else {}
        self._client = client or httpx.AsyncClient(timeout=config.timeout, headers=headers)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        for attempt in range(self.config.max_retries + 1):
            last = attempt == self.config.max_retries
            try:
                response = await self._client.post(self.url, json=body)
            except httpx.TransportError as exc:
                if last:
                    raise ProviderError(f"rerank API at {self.url} failed after "
                                        f"{attempt} retries: {exc!r}") from None
            else:
                if response.status_code in (401, 403):
                    raise ProviderError(f"rerank API at {self.url} refused the request (HTTP "
                                        f"{response.status_code}): check search.rerank.api_key")
                retried = response.status_code in _RETRIED or response.status_code >= 500
                if not retried or last:
                    return response
            await asyncio.sleep(min(0.25 * 2 ** attempt, 4.0))
        raise AssertionError("unreachable")

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        body: dict[str, Any] = {"query": query, "documents": list(documents),
                                "top_n": len(documents)}
        if self.config.model:
            body["model"] = self.config.model
        response = await self._post(body)
        if response.status_code != 200:
            raise ProviderError(f"rerank API at {self.url} answered HTTP "
                                f"{response.status_code}: {response.text[:300]}")
        try:
            results = response.json()["results"]
            scored = {int(r["index"]): float(r["relevance_score"]) for r in results}
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"rerank API at {self.url} sent a reply without "
                                f"results[].index/relevance_score: {exc!r}") from None
        # documents the API left out (a top_n it capped) rank after every scored one
        return [scored.get(i, float("-inf")) for i in range(len(documents))]
