"""Fixtures for the LangChain adapter tests: a real Memory on embedded Qdrant in a temp
directory, with the real local embedder and the offline extractor unless a test scripts
an LLM. Without the `langchain` extra installed, this directory is not collected."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder

if not all(importlib.util.find_spec(name) for name in ("langchain_core", "langchain",
                                                       "langgraph")):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def make_lc_memory(tmp_path: Path, embedder: OnnxEmbedder
                   ) -> Iterator[Callable[..., Memory]]:
    """Memory on embedded Qdrant (qdrant-edge, or qdrant-client's local mode) with the
    real local embedder; the offline extractor unless `llm=` settings are given."""
    made: list[Memory] = []

    def make(*, data_dir: Path | None = None, backend: str = "qdrant_edge",
             **config: Any) -> Memory:
        vector_store: dict[str, Any] = {"engine": backend}
        if backend == "qdrant_client":
            vector_store["path"] = "qdrant_local"
        base: dict[str, Any] = {"llm": {"provider": "offline"}, "vector_store": vector_store}
        base.update(config)
        memory = Memory(base, data_dir=data_dir or tmp_path / "data", embedder=embedder)
        made.append(memory)
        return memory

    yield make
    for memory in made:
        memory.close()


@pytest.fixture
def memory(make_lc_memory: Callable[..., Memory]) -> Memory:
    return make_lc_memory()
