"""The embedder base every shipped embedder uses: a stable name, a dimension given or
learnt from the first embedding, and one vector per text."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.errors import ConfigurationError, ProviderError
from mem_integrations.core.providers.base import (
    BaseEmbedder,
    Embedder,
    EmbedKind,
    probe_dimension,
)
from mem_integrations.core.providers.embedders import OpenAIEmbedder, SentenceTransformerEmbedder
from mem_integrations.testing import ScriptedLLMServer


class Counting(BaseEmbedder):
    """Vectors of `size` ints; `drop` vectors go missing from every reply."""

    def __init__(self, size: int = 3, *, dimension: int | None = None, drop: int = 0) -> None:
        super().__init__("counting", dimension)
        self.size, self.drop, self.calls = size, drop, 0

    async def _embed(self, texts: list[str], kind: EmbedKind) -> Sequence[Sequence[float]]:
        self.calls += 1
        return [[len(t)] * self.size for t in texts][self.drop:]


async def test_the_dimension_is_learnt_from_the_first_embedding() -> None:
    embedder = Counting(4)
    assert isinstance(embedder, Embedder) and embedder.dimension is None
    assert await embedder.embed([]) == [] and embedder.calls == 0
    vectors = await embedder.embed(["ab", "c"], "query")
    assert vectors == [[2.0] * 4, [1.0] * 4] and all(type(v) is float for v in vectors[0])
    assert embedder.dimension == 4
    assert repr(embedder) == "Counting(model='counting')"


async def test_probe_embeds_only_when_the_dimension_is_unknown() -> None:
    known = Counting(4, dimension=7)
    assert await probe_dimension(known) == 7 and known.calls == 0
    unknown = Counting(5)
    assert await probe_dimension(unknown) == 5 and unknown.calls == 1
    assert await probe_dimension(unknown) == 5 and unknown.calls == 1


async def test_a_missing_vector_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="counting returned 1 vectors for 2 texts"):
        await Counting(drop=1).embed(["a", "b"])


async def test_openai_dimensions_known_configured_or_measured() -> None:
    with ScriptedLLMServer(embedding_dimension=24) as server:
        def openai(**config: object) -> OpenAIEmbedder:
            return OpenAIEmbedder(EmbedderConfig(provider="openai", base_url=server.base_url,
                                                 api_key="sk-test", **config))

        assert openai().dimension == 1536  # text-embedding-3-small, without a call
        assert openai(model="tiny", dimensions=16).dimension == 16
        measured = openai(model="tiny", batch_size=2)
        assert measured.dimension is None
        assert len(await measured.embed(["a", "b", "c"])) == 3 and server.embedding_calls == 2
        assert measured.dimension == 24 and measured.model_name == "tiny"
        await measured.aclose()


def test_the_bundled_model_answers_to_its_public_names():
    """Naming the default model must not reach for a model hub (offline machines)."""
    for name in ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"):
        named = SentenceTransformerEmbedder(EmbedderConfig(model=name))
        assert named.model_name == "sentence-transformers/all-MiniLM-L6-v2"
        assert len(named.embed_sync(["I live in Paris"])[0]) == 384


def test_a_model_that_cannot_be_loaded_is_a_configuration_error():
    missing = SentenceTransformerEmbedder(EmbedderConfig(model="someone/not-installed-model"))
    with pytest.raises(ConfigurationError, match="local directory"):
        missing.embed_sync(["x"])
