"""LangGraph's own store tests, run against `MemoryStore`.

The modules here are LangGraph's test files (langchain-ai/langgraph, libs/checkpoint and
libs/checkpoint-sqlite tests) with only the store construction swapped for
`harness.new_store` (and the few other deviations each module lists at its top). Every
test runs on qdrant-edge and on qdrant-client's local mode; async tests run over a
`Memory` and over an `AsyncMemory`, sync tests over a `Memory` (a store over an
`AsyncMemory` serves sync calls only from threads other than its loop's)."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder

if not all(importlib.util.find_spec(name) for name in ("langchain_core", "langgraph")):
    collect_ignore_glob = ["test_*.py"]
else:
    from tests.langgraph_upstream import harness


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" in metafunc.fixturenames:
        metafunc.parametrize("store_backend", harness.BACKENDS)
    if "store_facade" in metafunc.fixturenames:
        # A module's MEMORY_ONLY tests call the store's sync `batch` from its event loop
        # (LangGraph's MockAsyncBatchedStore does), which only a store over Memory serves.
        over_async = inspect.iscoroutinefunction(metafunc.function) and \
            metafunc.function.__name__ not in getattr(metafunc.module, "MEMORY_ONLY", ())
        facades = harness.FACADES if over_async else ["Memory"]
        if metafunc.function.__name__ in getattr(metafunc.module, "ASYNC_MEMORY_ONLY", ()):
            facades = ["AsyncMemory"]
        metafunc.parametrize("store_facade", facades)


@pytest.fixture(autouse=True)
def _store_factory(tmp_path: Path, embedder: SentenceTransformerEmbedder, store_backend: str,
                   store_facade: str) -> Iterator[harness.StoreFactory]:
    factory = harness.StoreFactory(tmp_path, store_backend, store_facade, embedder)
    harness.FACTORY = factory
    yield factory
    harness.FACTORY = None
    factory.close()




class MockerFixture:
    """What LangGraph's store tests use of pytest-mock's `mocker`: `spy` and `stub`."""

    def __init__(self) -> None:
        self._patches: list[Any] = []

    def spy(self, owner: type, name: str) -> mock.MagicMock:
        original = getattr(owner, name)
        patcher = mock.patch.object(owner, name, autospec=True, side_effect=original)
        self._patches.append(patcher)
        return patcher.start()

    def stub(self) -> mock.MagicMock:
        return mock.MagicMock()

    def stop(self) -> None:
        for patcher in reversed(self._patches):
            patcher.stop()


@pytest.fixture
def mocker() -> Iterator[MockerFixture]:
    fixture = MockerFixture()
    yield fixture
    fixture.stop()
