"""The factory's choices: what each configuration builds, where, and why, and that the
`build_*` functions build exactly that (doctor reports the same choices)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mem_integrations.core.config import load_config
from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.factory import (
    build_embedder,
    build_graph_store,
    build_history,
    build_vector_store,
    embedder_choice,
    extractor_choice,
    graph_store_choice,
    history_choice,
    vector_store_choice,
)


def config(tmp_path: Path, **sections: Any) -> Any:
    return load_config({"data_dir": str(tmp_path), **sections})


@pytest.mark.parametrize("llm,kind,reason", [
    ({}, "offline", "no OPENAI_API_KEY"),
    ({"provider": "offline", "api_key": "sk-x"}, "offline", "llm.provider is 'offline'"),
    ({"provider": "openai", "api_key": "sk-x"}, "openai", "llm.provider is 'openai'"),
    ({"api_key": "sk-x"}, "openai", "an API key is set"),
    ({"base_url": "http://u:pw@127.0.0.1:1/v1"}, "openai", "llm.base_url is set"),
])
def test_extractor_choice(tmp_path: Path, llm: dict, kind: str, reason: str) -> None:
    choice = extractor_choice(config(tmp_path, llm=llm))
    assert choice.kind == kind and choice.reason.startswith(reason)
    assert "pw" not in choice.where and "sk-x" not in repr(choice)


def test_embedder_choice_and_build(tmp_path: Path) -> None:
    local = config(tmp_path)
    assert embedder_choice(local).kind == "onnx"
    assert type(build_embedder(local)).__name__ == "OnnxEmbedder"
    remote = config(tmp_path, embedder={"provider": "openai", "api_key": "sk-x",
                                        "base_url": "http://u:pw@127.0.0.1:1/v1"})
    choice = embedder_choice(remote)
    assert (choice.kind, choice.where) == ("openai", "http://u:***@127.0.0.1:1/v1")
    assert type(build_embedder(remote)).__name__ == "OpenAIEmbedder"


def test_vector_store_choices(tmp_path: Path) -> None:
    default = vector_store_choice(config(tmp_path))
    assert (default.kind, default.where) == ("qdrant_edge", str(tmp_path / "qdrant"))
    local = vector_store_choice(config(tmp_path, vector_store={"path": "vectors"}))
    assert (local.kind, local.where) == ("qdrant_client", str((tmp_path / "vectors").resolve()))
    assert local.reason == "vector_store.path is set"
    memory = vector_store_choice(config(tmp_path, vector_store={"engine": "qdrant_client"}))
    assert (memory.where, memory.reason) == (":memory:", "vector_store.engine is 'qdrant_client'")
    server = vector_store_choice(config(tmp_path, vector_store={"url": "http://u:pw@qdrant:6333"}))
    assert (server.kind, server.where) == ("qdrant_client", "http://u:***@qdrant:6333")
    with pytest.raises(ConfigurationError, match="needs engine 'qdrant_client'"):
        vector_store_choice(config(tmp_path, vector_store={"engine": "qdrant_edge",
                                                           "url": "http://qdrant:6333"}))
    with pytest.raises(ConfigurationError, match="escapes the data directory"):
        vector_store_choice(config(tmp_path, vector_store={"path": "../elsewhere"}))


def test_the_vector_store_built_is_the_one_chosen(tmp_path: Path) -> None:
    for sections in ({}, {"vector_store": {"path": "vectors"}},
                     {"vector_store": {"path": ":memory:"}}):
        chosen = config(tmp_path, **sections)
        store = build_vector_store(chosen)
        try:
            assert vector_store_choice(chosen).where in repr(store)
        finally:
            store.close()


def test_history_choices_and_build(tmp_path: Path) -> None:
    default = config(tmp_path)
    assert history_choice(default).where == str(tmp_path / "history.db")
    own = config(tmp_path, history={"path": "own/history.db"})
    choice = history_choice(own)
    assert (choice.kind, choice.reason) == ("sqlite", "history.path is set")
    store = build_history(own)
    try:
        assert Path(choice.where) == (tmp_path / "own" / "history.db").resolve()
        assert Path(choice.where).exists()
    finally:
        store.close()
    postgres = history_choice(config(
        tmp_path, history={"url": "postgresql://memint:pw@db:5432/memint?sslmode=require"}))
    assert (postgres.kind, postgres.where) == ("postgresql", "postgresql://memint:***@db:5432/memint")


def test_graph_store_choices(tmp_path: Path) -> None:
    off = config(tmp_path)
    assert graph_store_choice(off).kind == "off" and build_graph_store(off) is None
    ladybug = graph_store_choice(config(tmp_path, graph_store={"provider": "ladybug"}))
    assert (ladybug.kind, ladybug.where) == ("ladybug", str(tmp_path / "graph"))
    neo4j = graph_store_choice(config(tmp_path, graph_store={
        "provider": "neo4j", "url": "neo4j+s://neo4j:pw@graph.example"}))
    assert (neo4j.kind, neo4j.where) == ("neo4j", "neo4j+s://neo4j:***@graph.example")
    with pytest.raises(ConfigurationError, match="graph_store.url is required"):
        graph_store_choice(config(tmp_path, graph_store={"provider": "neo4j"}))


def test_a_qdrant_server_without_qdrant_client_installed_says_which_extra(tmp_path: Path
                                                                           ) -> None:
    """qdrant-client is the `qdrant` extra: the embedded default does not need it."""
    script = (
        "import sys\n"
        "sys.modules['qdrant_client'] = None  # as if not installed\n"
        "from mem_integrations import ConfigurationError, Memory\n"
        "with Memory({'data_dir': sys.argv[1], 'llm': {'provider': 'offline'}}) as m:\n"
        "    m.add('I live in Paris.', user_id='a', infer=False)  # embedded: fine\n"
        "try:\n"
        "    Memory({'data_dir': sys.argv[1] + '/b', 'vector_store': {'url': 'http://q:6333'}})\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr
    assert "pip install 'mem-integrations[qdrant]'" in run.stdout
