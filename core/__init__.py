"""The memory engine: extraction, reconcile, hybrid search and history.

`core` never imports an agent framework; the adapters in `mem_integrations` do.
"""

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.config import MemoryConfig, load_config
from mem_integrations.core.errors import (
    BlockingCallError,
    ConfigurationError,
    DiskFullError,
    EmbeddingMismatchError,
    FilterError,
    InvalidInputError,
    LLMResponseError,
    MemoryClosedError,
    MemoryLayerError,
    MemoryNotFoundError,
    MissingScopeError,
    PendingNotFoundError,
    ProviderError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
)
from mem_integrations.core.models import (
    AddResult,
    Event,
    HistoryEntry,
    MemoryEvent,
    MemoryItem,
    MessageResult,
    PendingAdd,
    PutItem,
    SearchResult,
    UsersResult,
)
from mem_integrations.core.sync_memory import Memory

__all__ = [
    "AddResult", "AsyncMemory", "BlockingCallError", "ConfigurationError", "DiskFullError",
    "EmbeddingMismatchError", "Event", "FilterError", "HistoryEntry", "InvalidInputError",
    "LLMResponseError", "Memory", "MemoryClosedError", "MemoryConfig", "MemoryEvent",
    "MemoryItem", "MemoryLayerError", "MemoryNotFoundError", "MessageResult",
    "MissingScopeError", "PendingAdd", "PendingNotFoundError", "ProviderError", "PutItem",
    "SearchResult", "StoreError", "StoreLockedError", "StoreUnavailableError", "UsersResult",
    "load_config",
]
