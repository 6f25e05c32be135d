"""The REST server is ready only once the stores are open and the embedding model is
loaded, so the first request does not wait for them (it took 7 s before)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from mem_integrations import Memory  # noqa: E402
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder  # noqa: E402
from mem_integrations.server import create_app  # noqa: E402


def test_startup_loads_the_model_before_the_first_request(tmp_path: Path) -> None:
    app = create_app({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                     api_key="k", announce=print)
    with TestClient(app) as client:
        embedder = app.state.memory.embedder
        assert isinstance(embedder, OnnxEmbedder) and embedder.loaded
        assert client.get("/health").status_code == 200


def test_warm_up_opens_and_loads_and_a_cold_memory_does_neither(tmp_path: Path) -> None:
    with Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}}) as memory:
        assert not memory.async_memory.embedder.loaded
        memory.get_all(user_id="alice")  # reads embed nothing: still not loaded
        assert not memory.async_memory.embedder.loaded
        heard: list[str] = []
        memory.warm_up(heard.append)
        assert memory.async_memory.embedder.loaded
        assert all("..." in line or "done in" in line for line in heard)
