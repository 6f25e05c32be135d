"""What every LlamaIndex adapter shares: turning LlamaIndex messages into text and
conversations, and the background `add` of an agent loop. (Calling the engine from sync
or async code is `mem_integrations.core.sync_memory.bridge`.)

Private: the public classes live in `block`, `memory`, `retriever`, `tools`, `providers`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, TextBlock, ToolCallBlock
from llama_index.core.bridge.pydantic import BaseModel

from mem_integrations.core.errors import InvalidInputError, ProviderError
from mem_integrations.core.messages import with_timestamp
from mem_integrations.core.models import AddResult, MemoryItem, SearchResult
from mem_integrations.core.scope import Scope
from mem_integrations.core.sync_memory import MemoryBridge
from mem_integrations.llamaindex._echoes import said

log = logging.getLogger(__name__)


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
    That includes what agents write into plain messages for tools (a ReAct agent's
    observations, a CodeAct agent's code and its results: see `_echoes`).
    """
    out = []
    for message in messages:
        role = role_of(message)
        text = said(role, message_text(message)) if role in ("user", "assistant") else ""
        if text:  # a message's additional_kwargs["timestamp"] dates its facts
            out.append(with_timestamp({"role": role, "content": text}, message))
    return out


def query_from(messages: Sequence[ChatMessage], window: int) -> str:
    """A search query from the last `window` user messages (oldest first)."""
    texts = [t for m in messages if role_of(m) == "user" and (t := message_text(m))]
    return "\n".join(texts[-window:]) if window > 0 else ""


async def add_quietly(memory: MemoryBridge, messages: list[dict[str, str]], scope: Scope, *,
                      metadata: dict[str, Any] | None = None, infer: bool = True,
                      raise_errors: bool = False, async_mode: bool = False
                      ) -> AddResult | None:
    """`add` for background extraction in an agent loop (`async_mode`: queued, see
    `AsyncMemory.add`).

    A failed LLM call must not end the user's conversation: the engine has kept the
    messages as a pending add (see `Memory.pending()` / `reprocess()`), so the error is
    logged and `None` returned, unless `raise_errors`.
    """
    if not messages:
        return None
    try:
        return await memory.arun(memory.async_memory.add(
            messages, metadata=metadata, infer=infer, async_mode=async_mode, **scope.ids()))
    except ProviderError as exc:
        if raise_errors:
            raise
        log.warning("long-term memory extraction failed for %s: %s", scope.ids(), exc)
        return None


Scopes = Literal["and", "merged"]
"""How the scope ids of a read combine: "and" (a memory must match every id given) or
"merged" (the memories of each id, ranked together: `Mem0Memory`'s behaviour, where a
user's and an agent's memories both come back)."""


async def search(memory: MemoryBridge, query: str, scope: Scope, scopes: Scopes, *,
                 limit: int, filters: dict[str, Any] | None, threshold: float | None
                 ) -> SearchResult:
    """The memories for `query` in `scope`, its ids combined as `scopes` says."""
    ids = scope.ids()
    if scopes == "and" or len(ids) == 1:
        return await memory.arun(memory.async_memory.search(
            query, limit=limit, filters=filters, threshold=threshold, **ids))
    parts = [await memory.arun(memory.async_memory.search(
        query, limit=limit, filters=filters, threshold=threshold, **{key: value}))
        for key, value in ids.items()]
    best: dict[str, MemoryItem] = {}
    for item in (i for part in parts for i in part.results):
        if item.id not in best or (item.score or 0.0) > (best[item.id].score or 0.0):
            best[item.id] = item
    ranked = sorted(best.values(), key=lambda i: i.score or 0.0, reverse=True)[:limit]
    relations = [r for part in parts for r in part.relations or []]
    unique = list({(r.source, r.relationship, r.destination): r for r in relations}.values())
    return SearchResult(results=ranked, relations=unique if parts[0].relations is not None
                        else None)


def refuse_unknown(owner: type[BaseModel], given: dict[str, Any]) -> None:
    """LlamaIndex options this class does not have (a `VectorMemoryBlock`'s `top_k`...)
    are refused, not silently ignored."""
    unknown = sorted(set(given) - set(owner.model_fields))
    if unknown:
        raise InvalidInputError(
            f"{owner.__name__} has no option {', '.join(map(repr, unknown))}; its options: "
            f"{', '.join(sorted(owner.model_fields))}")
