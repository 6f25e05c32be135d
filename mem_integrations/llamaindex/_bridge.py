"""What every LlamaIndex adapter shares: the bound scope, calling the engine from sync or
async code, and turning LlamaIndex messages and memories into text.

Private: the public classes live in `block`, `memory`, `retriever`, `tools`, `providers`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.llms.types import ChatMessage, TextBlock, ToolCallBlock

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.errors import ProviderError
from mem_integrations.core.models import AddResult, MemoryItem
from mem_integrations.core.scope import Scope
from mem_integrations.core.sync_memory import Memory

log = logging.getLogger(__name__)

AnyMemory: TypeAlias = Memory | AsyncMemory
"""Either facade of the engine: the blocking `Memory` or the async `AsyncMemory`."""


@dataclass(frozen=True)
class BoundScope:
    """The scope ids an adapter was built with. At least one is required, checked at
    construction so a misconfigured adapter fails at start-up, not mid-conversation."""

    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    @classmethod
    def of(cls, owner: str, *, user_id: str | None = None, agent_id: str | None = None,
           run_id: str | None = None) -> BoundScope:
        checked = Scope.of(owner, user_id=user_id, agent_id=agent_id, run_id=run_id)
        return cls(**checked.ids())

    def ids(self) -> dict[str, str]:
        return {k: v for k, v in (("user_id", self.user_id), ("agent_id", self.agent_id),
                                  ("run_id", self.run_id)) if v is not None}

    def contains(self, item: MemoryItem) -> bool:
        """Whether `item` belongs to this scope (every bound id matches)."""
        return all(getattr(item, key) == value for key, value in self.ids().items())


class Engine:
    """Calls the memory engine from async code (LlamaIndex agents) and from sync code.

    A blocking `Memory` runs the engine on its own loop thread, so async callers reach it
    through a worker thread (its public, thread-safe API) and never touch its loop. An
    `AsyncMemory` is awaited directly; sync callers run it with LlamaIndex's
    `asyncio_run`, which copes with an already running loop (Jupyter).
    """

    def __init__(self, memory: AnyMemory) -> None:
        if not isinstance(memory, (Memory, AsyncMemory)):
            raise TypeError(f"expected a mem_integrations Memory or AsyncMemory, got "
                            f"{type(memory).__name__}")
        self.memory = memory

    async def acall(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.memory, AsyncMemory):
            return await getattr(self.memory, method)(*args, **kwargs)
        return await asyncio.to_thread(getattr(self.memory, method), *args, **kwargs)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.memory, Memory):
            return getattr(self.memory, method)(*args, **kwargs)
        return asyncio_run(getattr(self.memory, method)(*args, **kwargs))


def message_text(message: ChatMessage) -> str:
    """The text of a message: its text blocks, without tool calls, images or audio."""
    return "\n".join(b.text for b in message.blocks if isinstance(b, TextBlock)
                     and b.text).strip()


def has_tool_calls(message: ChatMessage) -> bool:
    """Whether an assistant message asks for tools (so the turn is not over yet)."""
    return (any(isinstance(b, ToolCallBlock) for b in message.blocks)
            or bool(message.additional_kwargs.get("tool_calls")))


def role_of(message: ChatMessage) -> str:
    role = message.role
    return str(getattr(role, "value", role))


def conversation(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """What is worth extracting from: user and assistant text, in order.

    System prompts, tool calls and tool results are left out: tool results often echo
    memories (a `recall` result), and extracting them again would only re-store them.
    """
    out = []
    for message in messages:
        role = role_of(message)
        text = message_text(message)
        if role in ("user", "assistant") and text:
            out.append({"role": role, "content": text})
    return out


def query_from(messages: Sequence[ChatMessage], window: int) -> str:
    """A search query from the last `window` user messages (oldest first)."""
    texts = [t for m in messages if role_of(m) == "user" and (t := message_text(m))]
    return "\n".join(texts[-window:]) if window > 0 else ""


async def add_quietly(engine: Engine, messages: list[dict[str, str]], scope: BoundScope, *,
                      metadata: dict[str, Any] | None = None, infer: bool = True,
                      raise_errors: bool = False) -> AddResult | None:
    """`add` for background extraction in an agent loop.

    A failed LLM call must not end the user's conversation: the engine has kept the
    messages as a pending add (see `Memory.pending()` / `reprocess()`), so the error is
    logged and `None` returned, unless `raise_errors`.
    """
    if not messages:
        return None
    try:
        return await engine.acall("add", messages, metadata=metadata, infer=infer,
                                  **scope.ids())
    except ProviderError as exc:
        if raise_errors:
            raise
        log.warning("long-term memory extraction failed for %s: %s", scope.ids(), exc)
        return None
