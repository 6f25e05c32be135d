"""The default embedder: all-MiniLM-L6-v2 on ONNX Runtime, without torch. Its vectors must
agree with sentence-transformers' (a store written by either opens with the other), and it
must resolve the model by its public names without a model hub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mem_integrations.core.config import EmbedderConfig, load_config
from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.factory import build_embedder, embedder_choice
from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder, onnx_model_files

SENTENCES = [
    "I live in Paris and work as a nurse.",
    "My daughter Emma starts school in September.",
    "I'm allergic to peanuts, so please never suggest satay.",
    "We adopted a rescue greyhound called Biscuit last spring.",
    "Can you remind me what I said about my trip to Lisbon?",
    "我住在上海，在一家银行工作。",
    "Thanks!",
    "The quarterly report is due on the 14th; Marco owns the revenue section.",
    "",
    "word " * 400,  # beyond the 256 tokens both models truncate to
]


def test_vectors_agree_with_sentence_transformers(embedder: OnnxEmbedder) -> None:
    ours = np.array(embedder.embed_sync(SENTENCES))
    theirs = np.array(SentenceTransformerEmbedder(EmbedderConfig()).embed_sync(SENTENCES))
    assert ours.shape == theirs.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosines = (ours * theirs).sum(axis=1)
    # int8 weights: 0.9994 on average over LOCOMO's turns, lowest on two-word greetings
    assert cosines.mean() >= 0.998 and cosines.min() >= 0.99, cosines


def test_batches_keep_the_order_of_the_texts(embedder: OnnxEmbedder) -> None:
    one_by_one = [embedder.embed_sync([text])[0] for text in SENTENCES[:5]]
    batched = OnnxEmbedder(EmbedderConfig(batch_size=2)).embed_sync(SENTENCES[:5])
    assert np.allclose(one_by_one, batched, atol=1e-5)


def test_the_default_and_the_public_names_are_the_bundled_onnx_model(tmp_path: Path) -> None:
    for model in (None, "sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"):
        config = load_config({"data_dir": str(tmp_path), "embedder": {"model": model}})
        assert embedder_choice(config).kind == "onnx"
        built = build_embedder(config)
        assert isinstance(built, OnnxEmbedder)
        assert (built.model_name, built.dimension) == ("sentence-transformers/all-MiniLM-L6-v2",
                                                       384)


def test_any_onnx_export_in_a_directory_runs(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    model, tokenizer = onnx_model_files(EmbedderConfig())
    export = tmp_path / "my-minilm"
    (export / "onnx").mkdir(parents=True)
    (export / "onnx" / "model.onnx").symlink_to(model)
    (export / "tokenizer.json").symlink_to(tokenizer)
    (export / "sentence_bert_config.json").write_text('{"max_seq_length": 256}')
    config = load_config({"data_dir": str(tmp_path), "embedder": {"model": str(export)}})
    assert embedder_choice(config).kind == "onnx"
    custom = build_embedder(config)
    assert custom.model_name == str(export) and custom.dimension is None
    assert np.allclose(custom.embed_sync(SENTENCES[:3]), embedder.embed_sync(SENTENCES[:3]),
                       atol=1e-5)


def test_a_directory_without_an_export_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="model.onnx") as raised:
        OnnxEmbedder(EmbedderConfig(provider="onnx", model=str(tmp_path)))
    assert "sentence_transformers" in str(raised.value)
    # unset provider: another model's name goes to sentence-transformers, as documented
    other = load_config({"data_dir": str(tmp_path), "embedder": {"model": "BAAI/bge-m3"}})
    assert embedder_choice(other).kind == "sentence_transformers"


def test_embedding_imports_neither_torch_nor_a_model_hub(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from mem_integrations.core.config import EmbedderConfig\n"
        "from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder\n"
        "assert len(OnnxEmbedder(EmbedderConfig()).embed_sync(['hello'])[0]) == 384\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env,
                   timeout=120)
