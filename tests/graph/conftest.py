"""Graph backends: embedded LadybugDB, a real Bolt server (ArcadeDB), and Neo4j when
NEO4J_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from tests.support.arcadedb import DATABASE, PASSWORD, arcadedb_bolt

GRAPH_BACKENDS = ["ladybug", "bolt"]
if os.environ.get("NEO4J_URL"):
    GRAPH_BACKENDS.append("neo4j")


@pytest.fixture(scope="session")
def bolt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with arcadedb_bolt(tmp_path_factory.mktemp("arcadedb")) as url:
        yield url


def graph_config(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "ladybug":
        return {"provider": "ladybug"}
    if backend == "bolt":
        return {"provider": "neo4j", "url": request.getfixturevalue("bolt_url"),
                "username": "root", "password": PASSWORD, "database": DATABASE}
    return {"provider": "neo4j", "url": os.environ["NEO4J_URL"],
            "username": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD"),
            "database": os.environ.get("NEO4J_DATABASE")}


@pytest.fixture(params=GRAPH_BACKENDS)
def graph_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_graph_memory(graph_backend: str, request: pytest.FixtureRequest, tmp_path: Path,
                      embedder, llm) -> Iterator[Callable[..., Memory]]:
    """Memory with graph memory on. Each test gets its own user ids (`uid`), because a
    Bolt server is shared by the whole session."""
    made: list[Memory] = []

    def make(*, offline: bool = False, graph: bool = True, data_dir: Path | None = None
             ) -> Memory:
        config: dict[str, Any] = {
            "data_dir": str(data_dir or tmp_path / "data"),
            "llm": {"provider": "offline"} if offline else {
                "base_url": llm.base_url, "api_key": "sk-test", "max_retries": 1},
        }
        if graph:
            config["graph_store"] = graph_config(graph_backend, request)
        memory = Memory(config, embedder=embedder)
        made.append(memory)
        return memory

    yield make
    for memory in made:
        memory.close()


@pytest.fixture
def uid() -> Callable[[str], str]:
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"
