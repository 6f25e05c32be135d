"""Shared fixtures: a real local embedder, a scripted LLM over real HTTP, and every
vector-store backend the engine supports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from mem_integrations import Memory  # noqa: E402
from mem_integrations.core.config import EmbedderConfig  # noqa: E402
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder  # noqa: E402
from mem_integrations.testing import ScriptedLLMServer  # noqa: E402

BACKENDS = ["qdrant_edge", "qdrant_client_local"]
if os.environ.get("QDRANT_URL"):
    BACKENDS.append("qdrant_server")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's keys or overrides."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "MEMINT_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder() -> OnnxEmbedder:
    """The default embedder (the bundled all-MiniLM-L6-v2 on ONNX Runtime), loaded once."""
    return OnnxEmbedder(EmbedderConfig())


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def vector_store_config(backend: str, tmp_path: Path, collection: str = "memories"
                        ) -> dict[str, Any]:
    if backend == "qdrant_edge":
        return {"engine": "qdrant_edge", "collection": collection}
    if backend == "qdrant_client_local":
        return {"engine": "qdrant_client", "path": str(tmp_path / "qdrant_local"),
                "collection": collection}
    return {"engine": "qdrant_client", "url": os.environ["QDRANT_URL"],
            "api_key": os.environ.get("QDRANT_API_KEY"),
            "collection": f"{collection}_{tmp_path.name}"[:64]}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_memory(backend: str, tmp_path: Path, embedder: OnnxEmbedder,
                llm: ScriptedLLMServer) -> Iterator[Callable[..., Memory]]:
    """Memory on the parametrised backend, its LLM the scripted server (unless
    `offline=True`). Extra keyword arguments are merged into the config."""
    made: list[Memory] = []

    def make(*, offline: bool = False, data_dir: Path | None = None, **config: Any) -> Memory:
        base: dict[str, Any] = {
            "data_dir": str(data_dir or tmp_path / "data"),
            "vector_store": vector_store_config(backend, tmp_path),
            "llm": {"provider": "offline"} if offline else {
                "base_url": llm.base_url, "api_key": "sk-test", "max_retries": 2,
                "timeout": 10},
        }
        for key, value in config.items():
            base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
        memory = Memory(base, embedder=embedder)
        made.append(memory)
        return memory

    yield make
    for memory in made:
        memory.close()


def facts(*texts: str) -> dict[str, Any]:
    """An extraction reply."""
    return {"facts": [{"text": t, "categories": []} for t in texts]}


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    """A reconcile reply."""
    return {"operations": [{"id": None, "text": None, **o} for o in operations]}
