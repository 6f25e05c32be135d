"""Fixtures of the reliability tests (the shared ones come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mem_integrations import Memory
from tests.reliability.support import FaultyServer


@pytest.fixture
def faulty() -> Iterator[FaultyServer]:
    """A scripted LLM + embeddings server whose both endpoints can be made to fail."""
    with FaultyServer() as server:
        yield server


@pytest.fixture
def one_memory(make_memory: Callable[..., Memory]) -> Callable[..., Memory]:
    """`make_memory`, but made once per test function: hypothesis runs every example of
    a test on the same memory (each example uses its own fresh scope)."""
    made: dict[str, Memory] = {}

    def get(**config: Any) -> Memory:
        if "memory" not in made:
            made["memory"] = make_memory(**config)
        return made["memory"]

    return get
