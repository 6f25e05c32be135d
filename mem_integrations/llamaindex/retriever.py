"""A LlamaIndex `BaseRetriever` over long-term memories.

    from llama_index.core.query_engine import RetrieverQueryEngine
    from mem_integrations.llamaindex import MemoryRetriever

    retriever = MemoryRetriever(Memory(), user_id="alice", limit=5)
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
    print(engine.query("Where does Alice live?"))

Each memory becomes a `TextNode` (its id the memory id, its text the memory) in a
`NodeWithScore` whose score is the search's (the cosine similarity to the text searched),
best first.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from mem_integrations.core.models import MemoryItem, SearchResult
from mem_integrations.core.scope import Scope
from mem_integrations.core.sync_memory import AnyMemory, bridge

# Shown to the LLM with the memory: when it was stated, and its categories. The ids are
# kept in the node's metadata for code, but hidden from the LLM and the embedder.
_HIDDEN = ["memory_id", "user_id", "agent_id", "run_id", "updated_at", "hash"]


def memory_to_node(item: MemoryItem) -> NodeWithScore:
    """One memory as a scored LlamaIndex node."""
    metadata: dict[str, Any] = dict(item.metadata or {})
    metadata["memory_id"] = item.id
    for key in ("user_id", "agent_id", "run_id"):
        if getattr(item, key):
            metadata[key] = getattr(item, key)
    if item.created_at:
        metadata["created_at"] = item.created_at.isoformat()
    if item.updated_at:
        metadata["updated_at"] = item.updated_at.isoformat()
    if item.categories:
        metadata["categories"] = ", ".join(item.categories)
    hidden = [key for key in metadata if key in _HIDDEN]
    node = TextNode(id_=item.id, text=item.memory, metadata=metadata,
                    excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=hidden)
    return NodeWithScore(node=node, score=item.score)


class MemoryRetriever(BaseRetriever):
    """Retrieves the memories of one scope most relevant to a query (hybrid search)."""

    def __init__(
        self,
        memory: AnyMemory,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 5,
        threshold: float | None = None,
        filters: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        """`limit` memories at most, each with similarity `threshold` or more, narrowed by
        metadata `filters` (see `core.filters`)."""
        self._scope = Scope.of("MemoryRetriever", user_id=user_id, agent_id=agent_id,
                               run_id=run_id)
        self._bridge = bridge(memory)
        self.limit = limit
        self.threshold = threshold
        self.filters = filters
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def _search(self, query_bundle: QueryBundle) -> Coroutine[Any, Any, SearchResult]:
        return self._bridge.async_memory.search(
            query_bundle.query_str, limit=self.limit, threshold=self.threshold,
            filters=self.filters, **self._scope.ids())

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._bridge.run(self._search(query_bundle))
        return [memory_to_node(item) for item in result.results]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = await self._bridge.arun(self._search(query_bundle))
        return [memory_to_node(item) for item in result.results]
