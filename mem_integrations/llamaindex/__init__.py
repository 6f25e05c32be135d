"""LlamaIndex adapters (install the `llamaindex` extra: pip install 'mem-integrations[llamaindex]').

- `LongTermMemoryBlock`: a memory block for `llama_index.core.memory.Memory`;
- `LongTermMemory`: a `BaseMemory` for agents' `memory=` (chat history + long-term memory;
  `from_client` / `from_config` take `Mem0Memory`'s calls; serializable, for paused agents);
- `MemoryRetriever`: a `BaseRetriever` for query engines;
- `memory_tools`: `remember` / `recall` / `forget` `FunctionTool`s with the scope bound by
  the application;
- `LlamaIndexChatModel`, `LlamaIndexEmbedder`: LlamaIndex models as the engine's providers.
"""

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mem_integrations.llamaindex needs llama-index-core: "
        "pip install 'mem-integrations[llamaindex]'"
    ) from exc

from mem_integrations.llamaindex.block import LongTermMemoryBlock
from mem_integrations.llamaindex.memory import LongTermMemory
from mem_integrations.llamaindex.providers import LlamaIndexChatModel, LlamaIndexEmbedder
from mem_integrations.llamaindex.retriever import MemoryRetriever, memory_to_node
from mem_integrations.llamaindex.tools import ScopedFunctionTool, memory_tools

__all__ = [
    "LlamaIndexChatModel",
    "LlamaIndexEmbedder",
    "LongTermMemory",
    "LongTermMemoryBlock",
    "MemoryRetriever",
    "ScopedFunctionTool",
    "memory_to_node",
    "memory_tools",
]
