"""Fixtures for the LlamaIndex adapter tests: real engines on embedded Qdrant with the
real local embedder (from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mem_integrations import Memory


@pytest.fixture
def backend() -> str:
    """The adapters are backend-agnostic (the core tests cover every backend): one is
    enough here, and keeps the suite fast."""
    return "qdrant_edge"


@pytest.fixture
def offline_memory(make_memory: Callable[..., Memory]) -> Memory:
    """A real engine with the deterministic offline extractor (user sentences of three
    words or more become memories)."""
    return make_memory(offline=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LlamaIndex's workflows inspect pydantic models with `inspect.getmembers`, which
    touches their deprecated attributes, and its ReActAgent calls a deprecated
    `ctx.is_running`: noise from the framework, not from us."""
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.filterwarnings(
                "ignore::DeprecationWarning:inspect"))
            item.add_marker(pytest.mark.filterwarnings(
                "ignore:is_running called from within a step:DeprecationWarning"))
