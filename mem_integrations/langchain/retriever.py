"""Memory search as a LangChain `BaseRetriever`: each memory becomes a `Document`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, ensure_config
from pydantic import ConfigDict, Field, PrivateAttr

from mem_integrations._common import (
    configurable_of,
    fixed_scope,
    merge_scopes,
    require_scope,
    scope_of,
)
from mem_integrations.core.models import MemoryItem
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.core.sync_memory import MemoryBridge, bridge


def memory_to_document(item: MemoryItem) -> Document:
    """A memory as a `Document`: its text as `page_content`; id, score, scope, timestamps,
    categories and the memory's own metadata (under "metadata") as metadata."""
    metadata: dict[str, Any] = {"id": item.id, "score": item.score}
    for key in SCOPE_KEYS:
        if getattr(item, key):
            metadata[key] = getattr(item, key)
    metadata["created_at"] = item.created_at.isoformat() if item.created_at else None
    metadata["updated_at"] = item.updated_at.isoformat() if item.updated_at else None
    metadata["categories"] = list(item.categories or [])
    if item.metadata:
        metadata["metadata"] = dict(item.metadata)
    if item.memory_type:
        metadata["memory_type"] = item.memory_type
    return Document(id=item.id, page_content=item.memory, metadata=metadata)


class MemoryRetriever(BaseRetriever):
    """Retrieves a scope's memories most relevant to the query.

    The scope is fixed at construction (`user_id=`, `agent_id=`, `run_id=`), or given per
    call, either as keyword arguments (`retriever.invoke(q, user_id="alice")`) or in
    `config["configurable"]` (`{"configurable": {"user_id": "alice"}}`), which is how it
    reaches a retriever inside an LCEL chain. Per-call values win over the fixed ones.
    `k`, `threshold` and `filters` can also be given per call, as keyword arguments.

    >>> retriever = MemoryRetriever(memory=memory, user_id="alice", k=5)
    >>> retriever.invoke("what does she eat?")
    [Document(page_content="Is vegetarian", metadata={"id": ..., "score": 0.61, ...})]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(description="A mem_integrations Memory (or AsyncMemory, async only).",
                        exclude=True)
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    k: int = Field(default=5, ge=1, description="How many memories to return.")
    threshold: float | None = Field(
        default=None, description="Drop memories whose cosine similarity is below this.")
    filters: dict[str, Any] | None = Field(
        default=None, description="Metadata filters, in the engine's filter syntax.")

    _bridge: MemoryBridge = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._bridge = bridge(self.memory)

    # The scope may travel in the config: move it into the keyword arguments, which
    # `BaseRetriever` hands to `_get_relevant_documents` (the config itself is not).
    def invoke(self, input: str, config: RunnableConfig | None = None, **kwargs: Any
               ) -> list[Document]:
        config = ensure_config(config)
        return super().invoke(input, config, **_with_configurable(config, kwargs))

    async def ainvoke(self, input: str, config: RunnableConfig | None = None, **kwargs: Any
                      ) -> list[Document]:
        config = ensure_config(config)
        return await super().ainvoke(input, config, **_with_configurable(config, kwargs))

    def _search_args(self, query: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        scope = require_scope(
            merge_scopes(scope_of(kwargs), fixed_scope(self.user_id, self.agent_id,
                                                       self.run_id)), "retriever")
        return {"query": query, **scope, "limit": int(kwargs.get("k") or self.k),
                "threshold": kwargs.get("threshold", self.threshold),
                "filters": kwargs.get("filters", self.filters)}

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        args = self._search_args(query, kwargs)
        result = self._bridge.run(self._bridge.async_memory.search(**args))
        return [memory_to_document(item) for item in result.results]

    async def _aget_relevant_documents(self, query: str, *,
                                       run_manager: AsyncCallbackManagerForRetrieverRun,
                                       **kwargs: Any) -> list[Document]:
        args = self._search_args(query, kwargs)
        result = await self._bridge.arun(self._bridge.async_memory.search(**args))
        return [memory_to_document(item) for item in result.results]


def _with_configurable(config: RunnableConfig, kwargs: dict[str, Any]) -> dict[str, Any]:
    configurable = configurable_of(config)
    extra = {key: configurable[key] for key in SCOPE_KEYS
             if configurable.get(key) is not None and key not in kwargs}
    return {**extra, **kwargs}
