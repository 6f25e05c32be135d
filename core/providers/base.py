"""The two provider roles the core needs, as protocols any adapter can implement, and the
base class of the embedders that ship with the package."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from mem_integrations.core.errors import ProviderError
from mem_integrations.core.providers.batching import EmbedBatcher


@dataclass
class ChatReply:
    """A chat model's reply: the text and, when the provider reports it, token usage."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # "length" when the provider cut the reply at its token limit: the text is incomplete
    finish_reason: str | None = None


@runtime_checkable
class ChatModel(Protocol):
    """Anything that answers a list of chat messages, optionally constrained to JSON."""

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "reply",
    ) -> ChatReply:
        """Answer `messages`. With `json_schema`, ask the provider for JSON of that shape
        by whatever means it supports; the caller still parses tolerantly. A message's
        content is text, or OpenAI's list of text and image_url parts when images are
        shown to a vision model (`llm.vision`)."""
        ...


EmbedKind = Literal["document", "query"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into dense vectors of a fixed dimension."""

    @property
    def model_name(self) -> str:
        """A stable name: the collection records it and refuses another embedder later."""
        ...

    @property
    def dimension(self) -> int | None:
        """The vector size, or None while unknown (`probe_dimension` then measures it)."""
        ...

    async def embed(self, texts: list[str], kind: EmbedKind = "document") -> list[list[float]]:
        """One vector per text, in order."""
        ...


async def probe_dimension(embedder: Embedder) -> int:
    """The embedder's vector size: the one it states, else the length of one embedding."""
    dimension = embedder.dimension
    if dimension is None:
        [vector] = await embedder.embed(["dimension probe"], "document")
        dimension = len(vector)
    return dimension


class BaseEmbedder(ABC):
    """What the package's embedders share: the name and dimension the collection records,
    the dimension learnt from the first embedding when it was not known up front, and the
    check that every text got a vector. Subclasses implement `_embed`."""

    def __init__(self, model_name: str, dimension: int | None = None) -> None:
        self._model_name = model_name
        self._dimension = dimension

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self._model_name!r})"

    @property
    def model_name(self) -> str:
        """The name the collection records."""
        return self._model_name

    @property
    def dimension(self) -> int | None:
        """The vector size: given, or measured by the first embedding; None before that."""
        return self._dimension

    async def embed(self, texts: list[str], kind: EmbedKind = "document") -> list[list[float]]:
        """One vector per text, in order; `kind="query"` for search queries (some models
        embed queries and documents differently)."""
        if not texts:
            return []
        vectors = [list(map(float, v)) for v in await self._embed(list(texts), kind)]
        self._check_count(vectors, texts)
        if self._dimension is None:
            self._dimension = len(vectors[0])
        return vectors

    def _check_count(self, vectors: Sequence[object], texts: Sequence[str]) -> None:
        if len(vectors) != len(texts):
            raise ProviderError(f"{self._model_name} returned {len(vectors)} vectors for "
                                f"{len(texts)} texts")

    @abstractmethod
    async def _embed(self, texts: list[str], kind: EmbedKind) -> Sequence[Sequence[float]]:
        """The provider's vectors for a non-empty list of texts."""


def provider_failure(what: str, exc: Exception, retries: int) -> str:
    """The message of a failed provider call: a rejected key says so (it was never
    retried), and "after N retries" appears only for errors the client does retry
    (connection failures, timeouts, 408/409/429 and 5xx)."""
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return (f"{what} was refused (HTTP {status}): the API key is wrong or has no access "
                f"to this model; check its api_key (or OPENAI_API_KEY) and base_url")
    retried = status is None or status in (408, 409, 429) or status >= 500
    after = f" after {retries} retries" if retried and retries else ""
    return f"{what} failed{after}: {exc}"


class LocalEmbedder(BaseEmbedder):
    """An embedder whose model runs in this process (`embed_sync`, blocking). The async
    embeddings go through one `EmbedBatcher` per embedder: concurrent requests are merged
    into one call of the model, on a thread of its own (`core.providers.batching`)."""

    def __init__(self, model_name: str, dimension: int | None = None, *,
                 batch_size: int) -> None:
        super().__init__(model_name, dimension)
        self._batcher = EmbedBatcher(self.embed_sync, max_texts=4 * batch_size,
                                     name=model_name)

    @abstractmethod
    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """The vectors, computed in the calling thread (loading the model if needed)."""

    async def _embed(self, texts: list[str], kind: EmbedKind) -> Sequence[Sequence[float]]:
        return await self._batcher.embed(texts)
