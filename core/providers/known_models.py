"""Whether common embedding models embed Chinese, Japanese and Korean text well, so
hybrid search knows how far to trust dense scores for a CJK query. Models not listed are
assumed multilingual unless their name says English (an "all-*" or "-en" model); the
`embedder.multilingual` setting overrides both. (Dimensions are not listed: they are
probed on first use, which also catches a provider that serves a truncated variant.)
"""

from __future__ import annotations

import re

__all__ = ["covers_cjk"]

# Keys are the model's last path component, lower-cased: "BAAI/bge-m3" and a local
# "./models/bge-m3" are the same model.
_MULTILINGUAL: dict[str, bool] = {
    "text-embedding-3-small": True,
    "text-embedding-3-large": True,
    "text-embedding-ada-002": True,
    "bge-m3": True,
    "bge-large-zh-v1.5": True,
    "bge-base-zh-v1.5": True,
    "bge-small-zh-v1.5": True,
    "multilingual-e5-large": True,
    "multilingual-e5-base": True,
    "multilingual-e5-small": True,
    "multilingual-e5-large-instruct": True,
    "paraphrase-multilingual-minilm-l12-v2": True,
    "qwen3-embedding-0.6b": True,
    "qwen3-embedding-4b": True,
    "qwen3-embedding-8b": True,
    "text-embedding-v3": True,  # Alibaba DashScope
    "embedding-3": True,  # Zhipu
    "nomic-embed-text": False,
    "mxbai-embed-large": False,
}
# English-only families, not listed one by one: sentence-transformers' "all-*" models
# (all-MiniLM-L6-v2, the bundled default) and the "-en" variants of bge / e5 / gte.
_ENGLISH_ONLY = re.compile(r"^(all-|(bge|e5|gte)-.*-en\b)")


def _key(model_name: str) -> str:
    return re.split(r"[/\\]", model_name.rstrip("/\\"))[-1].lower().removesuffix(":latest")


def covers_cjk(model_name: str, override: bool | None = None) -> bool:
    """Whether dense scores from this model can be trusted for CJK text. `override`
    (the embedder's `multilingual` setting) wins; unknown models are assumed to cover it.
    """
    if override is not None:
        return override
    known = _MULTILINGUAL.get(_key(model_name))
    if known is not None:
        return known
    return not _ENGLISH_ONLY.match(_key(model_name))
