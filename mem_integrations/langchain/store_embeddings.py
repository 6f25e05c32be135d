"""The engine's embedder as a LangChain `Embeddings`: what a LangGraph store exposes as
`store.embeddings` (and `index_config["embed"]`), so code that embeds next to the store
uses the same model the store searches with."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from mem_integrations.core.sync_memory import MemoryBridge


class EngineEmbeddings(Embeddings):
    """A memory engine's embedder behind LangChain's `Embeddings` interface. The sync
    methods need a `Memory` (an `AsyncMemory` only serves the async ones)."""

    def __init__(self, engine: MemoryBridge) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return f"EngineEmbeddings({self._engine.async_memory.embedder!r})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._engine.run(self._engine.async_memory.embedder.embed(texts, "document"))

    def embed_query(self, text: str) -> list[float]:
        return self._engine.run(self._engine.async_memory.embedder.embed([text], "query"))[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self._engine.arun(
            self._engine.async_memory.embedder.embed(texts, "document"))

    async def aembed_query(self, text: str) -> list[float]:
        return (await self._engine.arun(
            self._engine.async_memory.embedder.embed([text], "query")))[0]
