"""LangChain and LangGraph adapters (`pip install 'mem-integrations[langchain]'`).

==============================  ===========================================================
`MemoryChatMessageHistory`      chat history for `RunnableWithMessageHistory`; keeps the
                                raw thread and feeds each new turn to `Memory.add`
`MemoryRetriever`               memory search as `Document`s, for LCEL chains
`create_memory_tools`           `remember` / `recall` / `forget` tools; the scope comes
                                from the runtime, never from the model
`MemoryMiddleware`              `create_agent` middleware: inject relevant memories before
                                the model call, remember the turn after it
`MemoryStore`                   LangGraph `BaseStore` (for `create_agent(store=...)` and
                                LangMem's tools) kept in the engine
`LangChainChatModel`,           any LangChain chat model / embeddings as the engine's
`LangChainEmbedder`             LLM and embedder
`LongTermMemory`                legacy `BaseMemory` (needs `langchain-classic`)
==============================  ===========================================================

Names are imported on first use, so `MemoryRetriever` needs only `langchain-core`, and
`MemoryMiddleware` / `MemoryStore` also need `langchain` / `langgraph`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "MemoryChatMessageHistory": "history",
    "MemoryRetriever": "retriever",
    "memory_to_document": "retriever",
    "RememberTool": "tools",
    "RecallTool": "tools",
    "ForgetTool": "tools",
    "create_memory_tools": "tools",
    "MemoryMiddleware": "middleware",
    "MemoryStore": "store",
    "LangChainChatModel": "providers",
    "LangChainEmbedder": "providers",
    "LongTermMemory": "legacy",
}

__all__ = [
    "ForgetTool", "LangChainChatModel", "LangChainEmbedder", "LongTermMemory",
    "MemoryChatMessageHistory", "MemoryMiddleware", "MemoryRetriever", "MemoryStore",
    "RecallTool", "RememberTool", "create_memory_tools", "memory_to_document",
]

if TYPE_CHECKING:
    from mem_integrations.langchain.history import MemoryChatMessageHistory
    from mem_integrations.langchain.legacy import LongTermMemory
    from mem_integrations.langchain.middleware import MemoryMiddleware
    from mem_integrations.langchain.providers import LangChainChatModel, LangChainEmbedder
    from mem_integrations.langchain.retriever import MemoryRetriever, memory_to_document
    from mem_integrations.langchain.store import MemoryStore
    from mem_integrations.langchain.tools import (
        ForgetTool,
        RecallTool,
        RememberTool,
        create_memory_tools,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
