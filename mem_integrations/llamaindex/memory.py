"""A `BaseMemory` for LlamaIndex agents' `memory=`: chat history plus long-term memory.

    from mem_integrations import Memory
    from mem_integrations.llamaindex import LongTermMemory

    memory = LongTermMemory.from_defaults(Memory(), user_id="alice")
    agent = FunctionAgent(tools=[...], llm=llm)
    await agent.run("I'm vegetarian, plan my dinner", memory=memory)
    # ... days later, a new process, a fresh short-term history:
    await agent.run("What should I cook?", memory=LongTermMemory.from_defaults(Memory(), user_id="alice"))

It plays the role of LlamaIndex's `Mem0Memory`, with the engine of this package:

* short-term: the thread itself, kept by any LlamaIndex `BaseMemory` (a
  `ChatMemoryBuffer` by default, or `llama_index.core.memory.Memory`);
* long-term, read: every `aget()` searches the scope's memories with the latest user
  message — agents call `aput(user_msg)` then `aget()` with no input, so the query comes
  from the stored history — and puts the hits in a system message at the front;
* long-term, write: the messages of a turn are buffered and sent to `add` in ONE call when
  the turn ends (an assistant reply without tool calls), not one call per message. Tool
  calls and tool results are not extracted. `aflush()` extracts what is buffered now.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.llms.types import ChatMessage, TextBlock
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, model_validator
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.memory.types import BaseMemory

from mem_integrations.core.models import AddResult
from mem_integrations.core.scope import Scope
from mem_integrations.core.sync_memory import AnyMemory, MemoryBridge, bridge
from mem_integrations.llamaindex._shared import (
    add_quietly,
    conversation,
    has_tool_calls,
    message_text,
    query_from,
    role_of,
)
from mem_integrations.rendering import format_memories

DEFAULT_MEMORY_PROMPT = "Long-term memories relevant to this conversation:\n{memories}"


def _default_short_term() -> BaseMemory:
    return ChatMemoryBuffer.from_defaults(token_limit=3000)


def _ends_turn(message: ChatMessage) -> bool:
    """An assistant reply that asks for no tool: the agent has answered."""
    return role_of(message) == "assistant" and not has_tool_calls(message) \
        and bool(message_text(message))


class LongTermMemory(BaseMemory):
    """Short-term chat history plus long-term memories of one scope, for `memory=`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: AnyMemory = Field(exclude=True, description="The mem_integrations Memory or "
                              "AsyncMemory that holds the long-term memories.")
    user_id: str | None = Field(default=None, description="Scope: the user.")
    agent_id: str | None = Field(default=None, description="Scope: the agent.")
    run_id: str | None = Field(default=None, description="Scope: the run.")
    short_term: BaseMemory = Field(default_factory=_default_short_term,
                                   description="Keeps the conversation itself.")
    limit: int = Field(default=5, ge=1, description="How many memories to inject at most.")
    threshold: float | None = Field(
        default=None, description="Drop memories whose similarity to the query is lower.")
    filters: dict[str, Any] | None = Field(
        default=None, description="Metadata filters for the search (see core.filters).")
    query_window: int = Field(
        default=1, ge=1, description="How many of the latest user messages form the query "
        "when `aget()` is called without input.")
    memory_prompt: str = Field(
        default=DEFAULT_MEMORY_PROMPT,
        description="The system text around the memories; must contain {memories}.")
    metadata: dict[str, Any] | None = Field(
        default=None, description="Metadata stored with every memory extracted here.")
    infer: bool = Field(default=True, description="Extract facts (True) or store the "
                        "messages verbatim (False).")
    raise_errors: bool = Field(
        default=False, description="Raise when extraction fails. By default the failure is "
        "logged and the conversation goes on; the engine keeps the messages as a pending "
        "add for `reprocess`.")

    _bridge: MemoryBridge = PrivateAttr()
    _scope: Scope = PrivateAttr()
    _pending: list[ChatMessage] = PrivateAttr(default_factory=list)

    def __init__(self, **data: Any) -> None:
        # Checked before pydantic runs, so a missing scope raises MissingScopeError itself.
        scope = Scope.of("LongTermMemory", user_id=data.get("user_id"),
                         agent_id=data.get("agent_id"), run_id=data.get("run_id"))
        super().__init__(**data)
        self._scope = scope
        self._bridge = bridge(self.memory)

    @model_validator(mode="after")
    def _check_prompt(self) -> LongTermMemory:
        if "{memories}" not in self.memory_prompt:
            raise ValueError("memory_prompt must contain '{memories}'")
        return self

    @classmethod
    def class_name(cls) -> str:
        return "LongTermMemory"

    @classmethod
    def from_defaults(  # type: ignore[override]
        cls,
        memory: AnyMemory,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        chat_history: list[ChatMessage] | None = None,
        short_term: BaseMemory | None = None,
        token_limit: int = 3000,
        **kwargs: Any,
    ) -> LongTermMemory:
        """Long-term memory for a scope, over a `ChatMemoryBuffer` of `token_limit` tokens
        (or the given `short_term` memory) optionally seeded with `chat_history`, which
        is not extracted. Other keyword arguments set the fields (`limit`, `threshold`...)."""
        if short_term is None:
            short_term = ChatMemoryBuffer.from_defaults(token_limit=token_limit)
        if chat_history:
            short_term.set(chat_history)
        return cls(memory=memory, user_id=user_id, agent_id=agent_id, run_id=run_id,
                   short_term=short_term, **kwargs)

    # --- reading -------------------------------------------------------------------------

    async def aget(self, input: str | None = None, **kwargs: Any) -> list[ChatMessage]:
        """The chat history, led by a system message with the relevant memories.

        The query is `input` when given, else the latest user message(s) of the history.
        """
        history = await self.short_term.aget(input=input, **kwargs)
        query = input.strip() if isinstance(input, str) and input.strip() \
            else query_from(history, self.query_window)
        if not query:
            return history
        result = await self._bridge.arun(self._bridge.async_memory.search(
            query, limit=self.limit, filters=self.filters, threshold=self.threshold,
            **self._scope.ids()))
        return self._with_memories(history, format_memories(result))

    def get(self, input: str | None = None, **kwargs: Any) -> list[ChatMessage]:
        """Blocking `aget`."""
        return asyncio_run(self.aget(input=input, **kwargs))

    def _with_memories(self, history: list[ChatMessage], memories: str) -> list[ChatMessage]:
        if not memories:
            return history
        text = self.memory_prompt.replace("{memories}", memories)
        if history and role_of(history[0]) == "system":
            first = history[0]  # extend a copy; `.content` joins text blocks with "\n"
            merged = ChatMessage(role=first.role, additional_kwargs=first.additional_kwargs,
                                 blocks=[*first.blocks, TextBlock(text=f"\n{text}")])
            return [merged, *history[1:]]
        return [ChatMessage(role="system", content=text), *history]

    async def aget_all(self) -> list[ChatMessage]:
        """The chat history, without memories."""
        return await self.short_term.aget_all()

    def get_all(self) -> list[ChatMessage]:
        return self.short_term.get_all()

    # --- writing -------------------------------------------------------------------------

    async def aput(self, message: ChatMessage) -> None:
        """Add a message to the history; at the end of a turn, extract the turn."""
        await self.aput_messages([message])

    def put(self, message: ChatMessage) -> None:
        self.put_messages([message])

    async def aput_messages(self, messages: list[ChatMessage]) -> None:
        """Add messages to the history; when they end the turn, extract the turn (one
        `add` for everything said since the last extraction)."""
        await self.short_term.aput_messages(messages)
        self._pending.extend(messages)
        if messages and _ends_turn(messages[-1]):
            await self.aflush()

    def put_messages(self, messages: list[ChatMessage]) -> None:
        asyncio_run(self.aput_messages(messages))

    async def aflush(self) -> AddResult | None:
        """Extract the buffered messages now (normally done at the end of each turn)."""
        pending, self._pending = self._pending, []
        return await add_quietly(self._bridge, conversation(pending), self._scope,
                                 metadata=self.metadata, infer=self.infer,
                                 raise_errors=self.raise_errors)

    def flush(self) -> AddResult | None:
        return asyncio_run(self.aflush())

    async def aset(self, messages: list[ChatMessage]) -> None:
        """Replace the chat history (agents do this with `chat_history=`). These
        messages are not extracted: they are past turns, extracted when they happened."""
        await self.short_term.aset(messages)

    def set(self, messages: list[ChatMessage]) -> None:
        self.short_term.set(messages)

    async def areset(self) -> None:
        """Forget the conversation and what is buffered; long-term memories stay (use
        `Memory.delete_all(user_id=...)` to delete those)."""
        self._pending = []
        await self.short_term.areset()

    def reset(self) -> None:
        self._pending = []
        self.short_term.reset()
