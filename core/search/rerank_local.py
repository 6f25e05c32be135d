"""A local cross-encoder reranker, loaded from disk only (nothing is downloaded).

Two runtimes: an ONNX export of a cross-encoder (a directory holding `model.onnx` or
`onnx/model.onnx` and `tokenizer.json`, run by ONNX Runtime, no torch), or a
sentence-transformers `CrossEncoder` (a model directory, or a model already in the local
Hugging Face cache, loaded with `local_files_only`). No package on the registry these
machines reach ships cross-encoder weights (flashrank, rerankers, mxbai-rerank and
qwen3-embed fetch theirs from a model hub at run time), so the model is the user's to
provide: `search.rerank.model`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.search.settings import RerankConfig

__all__ = ["OnnxCrossEncoder", "SentenceTransformersCrossEncoder", "load_cross_encoder"]

_MAX_LENGTH = 512


def _onnx_files(directory: Path) -> tuple[Path, Path] | None:
    tokenizer = directory / "tokenizer.json"
    for model in (directory / "model.onnx", directory / "onnx" / "model.onnx"):
        if model.is_file() and tokenizer.is_file():
            return model, tokenizer
    return None


def load_cross_encoder(config: RerankConfig) -> OnnxCrossEncoder | SentenceTransformersCrossEncoder:
    """The cross-encoder `search.rerank.model` names; `ConfigurationError` saying what to
    install or export when there is none."""
    if not config.model:
        raise ConfigurationError(
            "search.rerank.provider='cross_encoder' needs search.rerank.model: a directory "
            "holding an ONNX export (model.onnx + tokenizer.json) or a sentence-transformers "
            "CrossEncoder, e.g. cross-encoder/ms-marco-MiniLM-L6-v2 saved with "
            "CrossEncoder(...).save(path) on a machine that can download it")
    directory = Path(config.model).expanduser()
    files = _onnx_files(directory) if directory.is_dir() else None
    if files is not None:
        return OnnxCrossEncoder(*files)
    return SentenceTransformersCrossEncoder(config.model)


class OnnxCrossEncoder:
    """(query, document) relevance logits from an ONNX cross-encoder."""

    remote = False

    def __init__(self, model_file: Path, tokenizer_file: Path) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigurationError(f"{exc.name} is not installed: pip install "
                                     "'mem-integrations[local]'") from None
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(_MAX_LENGTH)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped failures
            raise ConfigurationError(f"cannot load the cross-encoder {str(model_file)!r}: "
                                     f"{exc}") from None
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # one ONNX run at a time keeps the 2 cores for others

    def scores_sync(self, query: str, documents: Sequence[str]) -> list[float]:
        import numpy as np

        encodings = self._tokenizer.encode_batch([(query, d) for d in documents])
        feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encodings],
                                            dtype=np.int64)}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        with self._lock:
            logits = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        # one logit per pair, or two classes (irrelevant, relevant): the last is relevance
        return (logits.reshape(len(documents), -1)[:, -1]).tolist()

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        return await asyncio.to_thread(self.scores_sync, query, documents)


class SentenceTransformersCrossEncoder:
    """sentence-transformers' `CrossEncoder`, from local files only."""

    remote = False

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError:
            raise ConfigurationError(
                f"search.rerank.model {model!r} is not an ONNX export (model.onnx + "
                "tokenizer.json) and sentence-transformers is not installed: pip install "
                "'mem-integrations[sentence-transformers]', or export the model to ONNX"
            ) from None
        try:
            self._model: Any = CrossEncoder(model, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"no cross-encoder at {model!r} on this machine ({exc}); nothing is "
                "downloaded at run time: save the model to a directory and name it in "
                "search.rerank.model") from None
        self._lock = threading.Lock()

    def scores_sync(self, query: str, documents: Sequence[str]) -> list[float]:
        with self._lock:
            return [float(s) for s in self._model.predict([(query, d) for d in documents],
                                                          show_progress_bar=False)]

    async def scores(self, query: str, documents: Sequence[str]) -> list[float]:
        return await asyncio.to_thread(self.scores_sync, query, documents)
