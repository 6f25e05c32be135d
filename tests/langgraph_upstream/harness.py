"""The one swapped part of LangGraph's store tests: how a store is built.

`new_store(index=..., ttl=...)` gives a `MemoryStore` on the test's backend and facade.
The memory embeds with the test's `index["embed"]` when one is given (LangGraph's tests
pass their `CharacterEmbeddings`), else with the real local MiniLM. `FakeClock` replaces
`time.sleep` in the TTL tests so that they assert no timings."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mem_integrations import AsyncMemory, Memory
from mem_integrations.core.providers.base import Embedder
from mem_integrations.langchain import MemoryStore
from mem_integrations.langchain.providers import LangChainEmbedder

BACKENDS = ["qdrant_edge", "qdrant_client"]
FACADES = ["Memory", "AsyncMemory"]
FACTORY: StoreFactory | None = None


class FakeClock:
    """Epoch seconds that move only when told (`sleep`)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.now += seconds


class StoreFactory:
    """Builds stores for one test and closes their memories after it."""

    def __init__(self, tmp_path: Path, backend: str, facade: str, embedder: Embedder) -> None:
        self.tmp_path, self.backend, self.facade = tmp_path, backend, facade
        self.embedder = embedder
        self.memories: list[Memory | AsyncMemory] = []

    def memory(self, embedder: Embedder | None = None) -> Memory | AsyncMemory:
        data_dir = self.tmp_path / f"store{len(self.memories)}"
        vector_store: dict[str, Any] = {"engine": self.backend}
        if self.backend == "qdrant_client":
            vector_store["path"] = str(data_dir / "qdrant_local")
        config = {"llm": {"provider": "offline"}, "vector_store": vector_store}
        kind = AsyncMemory if self.facade == "AsyncMemory" else Memory
        memory = kind(config, data_dir=data_dir, embedder=embedder or self.embedder)
        self.memories.append(memory)
        return memory

    def __call__(self, *, index: dict[str, Any] | None = None, **options: Any) -> MemoryStore:
        index = dict(index) if index else None
        embedder = None
        if index and index.get("embed") is not None:
            embedder = LangChainEmbedder(index["embed"], dimension=index.get("dims"))
        if index and "text_fields" in index:  # the SQLite store's name for "fields"
            index["fields"] = index["text_fields"]
        return MemoryStore(self.memory(embedder), index=index, **options)

    def close(self) -> None:
        for memory in self.memories:
            if isinstance(memory, Memory):
                memory.close()
            else:
                asyncio.run(memory.close())


def new_store(**kwargs: Any) -> MemoryStore:
    """A `MemoryStore` for the running test (see the module docstring)."""
    assert FACTORY is not None, "new_store is only for tests in tests/langgraph_upstream"
    return FACTORY(**kwargs)
