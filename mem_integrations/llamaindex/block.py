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

As LlamaIndex documents blocks: `priority=0` (the default) is never truncated; otherwise,
when the prompt is over `token_limit`, blocks with the largest priority number are
truncated first, and this block drops its least relevant memories (the last lines) before
being dropped whole. Its memories are most relevant first. `format_template` (with
`{text}`, as for `VectorMemoryBlock`) and `node_postprocessors` (applied to the hits as
`NodeWithScore`s, as `MemoryRetriever` returns them) are honoured; any other option is
refused with `InvalidInputError`.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SerializeAsAny
from llama_index.core.memory import Memory as ChatMemory
from llama_index.core.memory.memory import BaseMemoryBlock
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate, RichPromptTemplate

from mem_integrations.core.errors import ConfigurationError, InvalidInputError
from mem_integrations.core.models import AddResult, SearchResult
from mem_integrations.core.scope import Scope
from mem_integrations.core.sync_memory import AnyMemory, MemoryBridge, bridge
from mem_integrations.llamaindex import _engine
from mem_integrations.llamaindex._shared import (
    add_quietly,
    conversation,
    query_from,
    refuse_unknown,
    role_of,
)
from mem_integrations.llamaindex.retriever import memory_to_node
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
    dates: bool = Field(default=False, description="Each line says when its fact became "
                        "true ('(since 2023-05-08) ...').")
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
    format_template: SerializeAsAny[BasePromptTemplate] | None = Field(
        default=None, description="How the memories are rendered: a template (or string) "
        "with {text} (or {{ text }}), the memories one per line. Default: the lines.")
    node_postprocessors: list[SerializeAsAny[BaseNodePostprocessor]] = Field(
        default_factory=list, exclude=True, description="LlamaIndex node postprocessors "
        "applied to the hits (as NodeWithScore, in relevance order) before rendering.")

    _bridge: MemoryBridge = PrivateAttr()
    _scope: Scope = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        # Checked before pydantic runs, so bad options raise typed errors themselves.
        refuse_unknown(type(self), data)
        data["format_template"] = _template(data.get("format_template"))
        scope = Scope.of("LongTermMemoryBlock", user_id=data.get("user_id"),
                         agent_id=data.get("agent_id"), run_id=data.get("run_id"))
        super().__init__(**data)
        self._scope = scope
        self._bridge = bridge(self.memory)
        _engine.register(self.memory)

    async def _aget(self, messages: list[ChatMessage] | None = None,
                    **block_kwargs: Any) -> str:
        """The memories relevant to the latest user message(s), one per line, or ""."""
        query = query_from(messages or [], self.query_window)
        if not query:
            return ""
        result = await self._bridge.arun(self._bridge.async_memory.search(
            query, limit=self.limit, filters=self.filters, threshold=self.threshold,
            **self._scope.ids()))
        text = format_memories(await self._postprocess(result, query), with_dates=self.dates)
        if not text or self.format_template is None:
            return text
        return self.format_template.format(text=text)

    async def _postprocess(self, result: SearchResult, query: str) -> SearchResult:
        if not self.node_postprocessors or not result.results:
            return result
        nodes = [memory_to_node(item) for item in result.results]
        for postprocessor in self.node_postprocessors:
            nodes = await postprocessor.apostprocess_nodes(nodes, query_str=query)
        by_id = {item.id: item for item in result.results}
        # a postprocessor may rewrite a node's text (and score): what it returns is shown
        kept = [by_id[n.node.node_id].model_copy(update={"score": n.score,
                                                         "memory": n.node.get_content()})
                for n in nodes if n.node.node_id in by_id]
        return SearchResult(results=kept, relations=result.relations)

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

    async def atruncate(self, content: Any, tokens_to_truncate: int) -> str | None:
        """Drop the least relevant memories (the last lines) until about
        `tokens_to_truncate` tokens are saved; `None` when nothing is left.

        Any content is accepted: LlamaIndex's `Memory` passes `[]` for a block that had
        nothing to show, and content blocks are read as their text."""
        if isinstance(content, list):
            content = "\n".join(getattr(block, "text", "") or "" for block in content)
        if not isinstance(content, str) or not content.strip():
            return None
        lines = content.splitlines()
        saved = 0
        while lines and saved < tokens_to_truncate:
            saved += len(lines.pop()) // CHARS_PER_TOKEN + 1
        return "\n".join(lines) or None

    # --- serialization ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: the fields and the engine as its configuration (no secrets).
        Node postprocessors are objects of the application: pass them again to
        `from_dict`."""
        if self.node_postprocessors:
            raise ConfigurationError(
                "a LongTermMemoryBlock with node_postprocessors is not serialized with "
                "them: pass them to from_dict(data, node_postprocessors=[...]) and call "
                "to_dict on a block built without them")
        data = self.model_dump(exclude={"memory", "format_template", "node_postprocessors"},
                               mode="json")
        if self.format_template is not None:
            data["format_template"] = self.format_template.get_template()
        data["engine"] = _engine.spec(self.memory)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], memory: AnyMemory | None = None,
                  **kwargs: Any) -> LongTermMemoryBlock:
        """Rebuild from `to_dict`'s data (the engine: `memory`, else the one open in this
        process on the same data, else built from the saved configuration)."""
        data = dict(data)
        engine = memory if memory is not None else _engine.attach(data.get("engine"),
                                                                  cls.__name__)
        data.pop("engine", None)
        return cls(memory=engine, **data, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_pickle, (self.to_dict(),))


def _from_pickle(data: dict[str, Any]) -> LongTermMemoryBlock:
    return LongTermMemoryBlock.from_dict(data)


def _template(value: Any) -> BasePromptTemplate | None:
    """A `format_template` as a prompt template with `{text}`, or `InvalidInputError`."""
    if value is None:
        return None
    if isinstance(value, str):  # as VectorMemoryBlock reads one
        value = RichPromptTemplate(value) if "{{" in value and "}}" in value \
            else PromptTemplate(value)
    if not isinstance(value, BasePromptTemplate) or "text" not in value.template_vars:
        raise InvalidInputError("format_template must be a template (or string) with "
                                "{text}, where the memories go")
    return value
