"""A memory block for LlamaIndex's `Memory`: long-term memories in the system message.

    from llama_index.core.memory import Memory as ChatMemory
    from mem_integrations import Memory
    from mem_integrations.llamaindex import LongTermMemoryBlock

    block = LongTermMemoryBlock(memory=Memory(), user_id="alice")
    chat_memory = ChatMemory.from_defaults(session_id="alice-1", memory_blocks=[block])
    await agent.run("What should I cook tonight?", memory=chat_memory)

Reading: on every `chat_memory.aget()` the block searches the scope's memories with the
latest user message(s) and LlamaIndex renders the hits inside `<memory>` in the system
message (nothing at all when none match).

Writing: LlamaIndex's `Memory` hands a block only the messages it *flushes* out of its
short-term queue, which happens once the chat history outgrows
`token_limit * chat_history_token_ratio` — in a short chat, never. To extract on every
turn instead, build the block with `accept_short_term_memory=False` (so flushed messages
are not extracted a second time) and call `await block.aput_turn(chat_memory)` after each
agent run, or pass the messages yourself to `await block.aput(messages)`.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.memory import Memory as ChatMemory
from llama_index.core.memory.memory import BaseMemoryBlock

from mem_integrations.core.models import AddResult
from mem_integrations.core.scope import Scope
from mem_integrations.core.sync_memory import AnyMemory, MemoryBridge, bridge
from mem_integrations.llamaindex._shared import add_quietly, conversation, query_from, role_of
from mem_integrations.rendering import format_memories

CHARS_PER_TOKEN = 4  # rough, for truncation hints only


class LongTermMemoryBlock(BaseMemoryBlock[str]):
    """Long-term memories of one scope, as a block of LlamaIndex's `Memory`.

    `_aget` returns the memories most relevant to the recent user messages, one per line
    (an empty string when none are relevant); `_aput` sends the messages it receives to
    `add` in one call, so the engine extracts, de-duplicates and reconciles them.
    """

    name: str = Field(default="long_term_memory",
                      description="The block's name; the tag around its content.")
    description: str | None = Field(
        default="Facts remembered from earlier conversations.",
        description="A description of the memory block.")
    memory: AnyMemory = Field(exclude=True, description="The mem_integrations Memory or "
                              "AsyncMemory that holds the long-term memories.")
    user_id: str | None = Field(default=None, description="Scope: the user.")
    agent_id: str | None = Field(default=None, description="Scope: the agent.")
    run_id: str | None = Field(default=None, description="Scope: the run.")
    limit: int = Field(default=5, ge=1, description="How many memories to show at most.")
    threshold: float | None = Field(
        default=None, description="Drop memories whose similarity to the query is lower.")
    filters: dict[str, Any] | None = Field(
        default=None, description="Metadata filters for the search (see core.filters).")
    query_window: int = Field(
        default=1, ge=1, description="How many of the latest user messages form the query.")
    metadata: dict[str, Any] | None = Field(
        default=None, description="Metadata stored with every memory this block adds "
        "(the LlamaIndex session_id is added to it when known).")
    infer: bool = Field(default=True, description="Extract facts (True) or store the "
                        "messages verbatim (False).")
    raise_errors: bool = Field(
        default=False, description="Raise when extraction fails. By default the failure is "
        "logged and the conversation goes on; the engine keeps the messages as a pending "
        "add for `reprocess`.")

    _bridge: MemoryBridge = PrivateAttr()
    _scope: Scope = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        # Checked before pydantic runs, so a missing scope raises MissingScopeError itself.
        scope = Scope.of("LongTermMemoryBlock", user_id=data.get("user_id"),
                         agent_id=data.get("agent_id"), run_id=data.get("run_id"))
        super().__init__(**data)
        self._scope = scope
        self._bridge = bridge(self.memory)

    async def _aget(self, messages: list[ChatMessage] | None = None,
                    **block_kwargs: Any) -> str:
        """The memories relevant to the latest user message(s), one per line, or ""."""
        query = query_from(messages or [], self.query_window)
        if not query:
            return ""
        result = await self._bridge.arun(self._bridge.async_memory.search(
            query, limit=self.limit, filters=self.filters, threshold=self.threshold,
            **self._scope.ids()))
        return format_memories(result)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Extract memories from `messages` (one `add` call for all of them)."""
        await self._add(messages)

    async def _add(self, messages: list[ChatMessage]) -> AddResult | None:
        metadata = dict(self.metadata or {})
        session_id = next((m.additional_kwargs["session_id"] for m in messages
                           if m.additional_kwargs.get("session_id")), None)
        if session_id is not None:
            metadata.setdefault("session_id", str(session_id))
        return await add_quietly(self._bridge, conversation(messages), self._scope,
                                 metadata=metadata or None, infer=self.infer,
                                 raise_errors=self.raise_errors)

    async def aput_turn(self, chat_memory: ChatMemory) -> None:
        """Extract the latest turn of `chat_memory` now (its last user message and every
        message after it), instead of waiting for LlamaIndex to flush it.

        Call it after each agent run, on a block built with
        `accept_short_term_memory=False` so the same messages are not extracted again
        when they are flushed later.
        """
        history = await chat_memory.aget_all()
        starts = [i for i, m in enumerate(history) if role_of(m) == "user"]
        if not starts:
            return
        await self.aput(history[starts[-1]:], session_id=chat_memory.session_id)

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Drop the least relevant memories (the last lines) until about
        `tokens_to_truncate` tokens are saved; `None` when nothing is left."""
        lines = content.splitlines()
        saved = 0
        while lines and saved < tokens_to_truncate:
            saved += len(lines.pop()) // CHARS_PER_TOKEN + 1
        return "\n".join(lines) or None
