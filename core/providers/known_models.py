"""What is known about common embedding models without calling them: their dimension
(so a store can be opened before the first request) and whether they embed Chinese,
Japanese and Korean text well (so hybrid search knows how far to trust dense scores for
a CJK query). Unknown models are probed for their dimension and assumed multilingual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KnownEmbedder", "covers_cjk", "known_embedder"]


@dataclass(frozen=True)
class KnownEmbedder:
    dimension: int
    multilingual: bool


# Keys are the model's last path component, lower-cased: "BAAI/bge-m3" and a local
# "./models/bge-m3" are the same model.
_KNOWN: dict[str, KnownEmbedder] = {
    "all-minilm-l6-v2": KnownEmbedder(384, False),
    "all-minilm-l12-v2": KnownEmbedder(384, False),
    "all-mpnet-base-v2": KnownEmbedder(768, False),
    "text-embedding-3-small": KnownEmbedder(1536, True),
    "text-embedding-3-large": KnownEmbedder(3072, True),
    "text-embedding-ada-002": KnownEmbedder(1536, True),
    "bge-m3": KnownEmbedder(1024, True),
    "bge-large-zh-v1.5": KnownEmbedder(1024, True),
    "bge-base-zh-v1.5": KnownEmbedder(768, True),
    "bge-small-zh-v1.5": KnownEmbedder(512, True),
    "bge-large-en-v1.5": KnownEmbedder(1024, False),
    "bge-base-en-v1.5": KnownEmbedder(768, False),
    "bge-small-en-v1.5": KnownEmbedder(384, False),
    "multilingual-e5-large": KnownEmbedder(1024, True),
    "multilingual-e5-base": KnownEmbedder(768, True),
    "multilingual-e5-small": KnownEmbedder(384, True),
    "multilingual-e5-large-instruct": KnownEmbedder(1024, True),
    "paraphrase-multilingual-minilm-l12-v2": KnownEmbedder(384, True),
    "qwen3-embedding-0.6b": KnownEmbedder(1024, True),
    "qwen3-embedding-4b": KnownEmbedder(2560, True),
    "qwen3-embedding-8b": KnownEmbedder(4096, True),
    "text-embedding-v3": KnownEmbedder(1024, True),       # Alibaba DashScope
    "embedding-3": KnownEmbedder(2048, True),              # Zhipu
    "nomic-embed-text": KnownEmbedder(768, False),
    "mxbai-embed-large": KnownEmbedder(1024, False),
}
# English-only families not listed one by one: sentence-transformers' "all-*" models and
# the "-en" variants of bge / e5 / gte.
_ENGLISH_ONLY = re.compile(r"^(all-|(bge|e5|gte)-.*-en\b)")


def _key(model_name: str) -> str:
    return re.split(r"[/\\]", model_name.rstrip("/\\"))[-1].lower().removesuffix(":latest")


def known_embedder(model_name: str) -> KnownEmbedder | None:
    """The table entry for a model name or path, if the model is a known one."""
    return _KNOWN.get(_key(model_name))


def covers_cjk(model_name: str, override: bool | None = None) -> bool:
    """Whether dense scores from this model can be trusted for CJK text. `override`
    (the embedder's `multilingual` setting) wins; unknown models are assumed to cover it.
    """
    if override is not None:
        return override
    known = known_embedder(model_name)
    if known is not None:
        return known.multilingual
    return not _ENGLISH_ONLY.match(_key(model_name))
