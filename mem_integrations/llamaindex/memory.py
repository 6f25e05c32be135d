"""A `BaseMemory` for LlamaIndex agents' `memory=`: chat history plus long-term memory.

    from mem_integrations import Memory
    from mem_integrations.llamaindex import LongTermMemory

    memory = LongTermMemory.from_defaults(Memory(), user_id="alice")
    agent = FunctionAgent(tools=[...], llm=llm)
    await agent.run("I'm vegetarian, plan my dinner", memory=memory)
    # ... days later, a new process, a fresh short-term history:
    await agent.run("What should I cook?", memory=LongTermMemory.from_defaults(Memory(), user_id="alice"))

It plays the role of LlamaIndex's `Mem0Memory`, with the engine of this package
(`from_client` / `from_config` take `Mem0Memory`'s arguments):

* short-term: the thread itself, kept by any LlamaIndex `BaseMemory` (a
  `ChatMemoryBuffer` by default, or `llama_index.core.memory.Memory`);
* long-term, read: every `aget()` searches the scope's memories with the latest user
  message — agents call `aput(user_msg)` then `aget()` with no input, so the query comes
  from the stored history — and puts the hits in a system message at the front;
* long-term, write (`extract_on="turn"`, the default): the messages of a turn are buffered
  and sent to `add` in ONE call when the turn ends (an assistant reply without tool
  calls), not one call per message; `extract_on="put"` extracts every put as `Mem0Memory`
  does. Tool calls, tool results and the tool echoes of ReAct and CodeAct agents are never
  extracted. `aflush()` extracts what is buffered now, and a turn still buffered at
  interpreter exit is extracted then (up to `exit_timeout` seconds). With
  `async_mode=True` the turn's add is queued (`add(..., async_mode=True)`) and the agent
  goes on at once; the engine's `flush()` / `aflush()` wait for the queue.

Serializable: `to_dict` / `from_dict`, JSON and pickle, so a paused agent's context can be
resumed in another process. The engine is written as its configuration (no secrets) and
re-attached on load (see `_engine`); the short-term history and a buffered turn go along.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Literal

from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.llms.types import ChatMessage, TextBlock
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.memory import Memory as ChatMemory
from llama_index.core.memory.types import BaseMemory

from mem_integrations._common import Background, settle_at_exit
from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import ConfigurationError, InvalidInputError
from mem_integrations.core.models import AddResult
from mem_integrations.core.scope import Scope
from mem_integrations.core.sync_memory import AnyMemory, Memory, MemoryBridge, bridge
from mem_integrations.llamaindex import _engine
from mem_integrations.llamaindex._shared import (
    Scopes,
    add_quietly,
    conversation,
    has_tool_calls,
    message_text,
    query_from,
    refuse_unknown,
    role_of,
    search,
)
from mem_integrations.rendering import format_memories

log = logging.getLogger(__name__)

DEFAULT_MEMORY_PROMPT = "Long-term memories relevant to this conversation:\n{memories}"

ExtractOn = Literal["turn", "put"]
"""When messages are extracted: once per finished turn (one `add` for the whole turn), or
on every `put` / `aput` / `set` of new messages (`Mem0Memory`'s behaviour)."""

_PLATFORM_ARGS = ("api_key", "host", "org_id", "project_id")


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
    scopes: Scopes = Field(
        default="and", description="With several scope ids: 'and' reads the memories that "
        "match all of them; 'merged' reads each id's memories and ranks them together "
        "(Mem0Memory's behaviour). Writes always carry every id.")
    extract_on: ExtractOn = Field(
        default="turn", description="'turn': one add per finished turn; 'put': every put "
        "of new messages is extracted at once (Mem0Memory's behaviour).")
    async_mode: bool = Field(
        default=False, description="Queue each turn's extraction and go on at once (the "
        "engine's queue runs it in the background, durably: what is queued at exit runs "
        "at the next open); `await memory.memory.aflush()` waits for it. False: the turn's "
        "last put waits for the LLM's extraction.")
    exit_timeout: float = Field(
        default=30.0, ge=0, description="How long, at interpreter exit, to wait for the "
        "extraction of a turn still buffered.")
    raise_errors: bool = Field(
        default=False, description="Raise when extraction fails. By default the failure is "
        "logged and the conversation goes on; the engine keeps the messages as a pending "
        "add for `reprocess`.")

    _bridge: MemoryBridge = PrivateAttr()
    _scope: Scope = PrivateAttr()
    _pending: list[ChatMessage] = PrivateAttr(default_factory=list)
    _background: Background = PrivateAttr(default_factory=Background)

    # By identity, so the exit hook can hold it weakly (pydantic models compare by value
    # and are unhashable otherwise).
    __hash__ = object.__hash__

    def __init__(self, **data: Any) -> None:
        # Checked before pydantic runs, so a missing scope raises MissingScopeError itself.
        refuse_unknown(type(self), data)
        if "{memories}" not in data.get("memory_prompt", DEFAULT_MEMORY_PROMPT):
            raise InvalidInputError("memory_prompt must contain '{memories}', where the "
                                    "memories go")
        scope = Scope.of("LongTermMemory", user_id=data.get("user_id"),
                         agent_id=data.get("agent_id"), run_id=data.get("run_id"))
        super().__init__(**data)
        self._scope = scope
        self._bridge = bridge(self.memory)
        _engine.register(self.memory)
        settle_at_exit(self)

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

    # --- moving from llama-index-memory-mem0 -----------------------------------------------

    @classmethod
    def from_client(
        cls,
        context: dict[str, Any],
        api_key: str | None = None,
        host: str | None = None,
        org_id: str | None = None,
        project_id: str | None = None,
        search_msg_limit: int = 5,
        *,
        memory: AnyMemory | None = None,
        config: MemoryConfig | dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> LongTermMemory:
        """`Mem0Memory.from_client`'s call, on this package's engine: `memory`, or one
        built from `config` (this package's or mem0's config dict), or `Memory()`.

        `context` holds the scope ids. `api_key`, `host`, `org_id` and `project_id` name
        mem0's hosted platform, which has no counterpart here: giving one is a
        `ConfigurationError` rather than a key silently unused. Behaves as `Mem0Memory`
        unless told otherwise: `scopes="merged"`, `extract_on="put"`, and the query made
        of the last `search_msg_limit` user messages."""
        given = [name for name, value in zip(_PLATFORM_ARGS, (api_key, host, org_id,
                                                              project_id), strict=True)
                 if value is not None]
        if given:
            raise ConfigurationError(
                f"from_client({', '.join(f'{n}=' for n in given)}) names mem0's hosted "
                f"platform; this memory runs here: drop {', '.join(given)} and pass "
                f"memory=Memory(...) or config={{...}} (mem0's config dicts work too)")
        engine = memory if memory is not None else Memory(config)
        return cls._like_mem0(engine, context, search_msg_limit, kwargs)

    @classmethod
    def from_config(  # type: ignore[override]
        cls,
        context: dict[str, Any],
        config: MemoryConfig | dict[str, Any] | str,
        search_msg_limit: int = 5,
        **kwargs: Any,
    ) -> LongTermMemory:
        """`Mem0Memory.from_config`'s call: the engine is `Memory.from_config(config)` (this
        package's config, or mem0's config dict, translated). Behaves as `Mem0Memory`
        unless told otherwise (see `from_client`)."""
        return cls._like_mem0(Memory.from_config(config), context, search_msg_limit, kwargs)

    @property
    def search_msg_limit(self) -> int:
        """`Mem0Memory`'s name for `query_window`: how many recent user messages form the
        query."""
        return self.query_window

    @classmethod
    def _like_mem0(cls, engine: AnyMemory, context: dict[str, Any], search_msg_limit: int,
                   fields: dict[str, Any]) -> LongTermMemory:
        if not isinstance(context, dict):
            raise InvalidInputError("context must be a dict of scope ids, for example "
                                    "{'user_id': 'alice'}")
        unknown = sorted(set(context) - {"user_id", "agent_id", "run_id"})
        if unknown:
            raise InvalidInputError(f"context holds scope ids only (user_id, agent_id, "
                                    f"run_id), not {', '.join(unknown)}")
        fields = {"scopes": "merged", "extract_on": "put", "query_window": search_msg_limit,
                  **fields}
        return cls.from_defaults(engine, **context, **fields)

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
        result = await search(self._bridge, query, self._scope, self.scopes,
                              limit=self.limit, filters=self.filters,
                              threshold=self.threshold)
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

    def _status(self, status: Any) -> dict[str, Any]:
        """`status=` for the short-term memory, which must know message statuses."""
        if status is None:
            return {}
        if not isinstance(self.short_term, ChatMemory):
            raise InvalidInputError(
                f"status= needs a short-term memory that keeps message statuses "
                f"(llama_index.core.memory.Memory); this one is a "
                f"{type(self.short_term).__name__}: pass short_term=Memory.from_defaults(...)")
        return {"status": status}

    async def aget_all(self, status: Any = None) -> list[ChatMessage]:
        """The chat history, without memories; `status=` selects active or archived
        messages of a `llama_index.core.memory.Memory` short-term memory."""
        return await self.short_term.aget_all(**self._status(status))

    def get_all(self, status: Any = None) -> list[ChatMessage]:
        return self.short_term.get_all(**self._status(status))

    # --- writing -------------------------------------------------------------------------

    async def aput(self, message: ChatMessage) -> None:
        """Add a message to the history; at the end of a turn, extract the turn."""
        await self.aput_messages([message])

    def put(self, message: ChatMessage) -> None:
        self.put_messages([message])

    async def aput_messages(self, messages: list[ChatMessage]) -> None:
        """Add messages to the history; when they end the turn (or with
        `extract_on="put"`), extract everything said since the last extraction in one
        `add`."""
        await self.short_term.aput_messages(messages)
        self._pending.extend(messages)
        if self.extract_on == "put" or (messages and _ends_turn(messages[-1])):
            await self.aflush()

    def put_messages(self, messages: list[ChatMessage]) -> None:
        asyncio_run(self.aput_messages(messages))

    async def aflush(self) -> AddResult | None:
        """Extract the buffered messages now (normally done at the end of each turn)."""
        pending, self._pending = self._pending, []
        return await add_quietly(self._bridge, conversation(pending), self._scope,
                                 metadata=self.metadata, infer=self.infer,
                                 raise_errors=self.raise_errors, async_mode=self.async_mode)

    def flush(self) -> AddResult | None:
        return asyncio_run(self.aflush())

    async def aset(self, messages: list[ChatMessage]) -> None:
        """Replace the chat history (agents do this with `chat_history=`). With
        `extract_on="turn"` these messages are not extracted: they are past turns,
        extracted when they happened. With `extract_on="put"` the messages beyond the
        current history are extracted, as `Mem0Memory.set` does."""
        if self.extract_on == "put":
            known = len(await self.short_term.aget_all())
            self._pending.extend(messages[known:])
            await self.aflush()
        await self.short_term.aset(messages)

    def set(self, messages: list[ChatMessage]) -> None:
        if self.extract_on == "put":
            asyncio_run(self.aset(messages))
        else:
            self.short_term.set(messages)

    async def areset(self, status: Any = None) -> None:
        """Forget the conversation (only the messages of `status=`, for a short-term
        `llama_index.core.memory.Memory`) and what is buffered; long-term memories stay
        (use `Memory.delete_all(user_id=...)` to delete those)."""
        self._pending = []
        await self.short_term.areset(**self._status(status))

    def reset(self, status: Any = None) -> None:
        self._pending = []
        self.short_term.reset(**self._status(status))

    # --- at interpreter exit ---------------------------------------------------------------

    @property
    def unfinished(self) -> int:
        """Buffered messages worth extracting, and extractions started at exit."""
        return len(conversation(self._pending)) + len(self._background)

    def wait(self, timeout: float | None = None) -> None:
        """Extract a buffered (unfinished) turn now, waiting up to `timeout` seconds; an
        add the engine has started and not finished stays a pending add (`reprocess`)."""
        turn = conversation(self._pending)
        if turn:
            # With an AsyncMemory and no running loop, submit raises: the turn then stays
            # buffered and counted, so the exit hook says what it could not write.
            future = self._bridge.submit(add_quietly(
                self._bridge, turn, self._scope, metadata=self.metadata, infer=self.infer,
                async_mode=self.async_mode))
            self._pending = []
            self._background.track(future, "memory add of an unfinished turn")
        self._background.wait(timeout)

    # --- serialization ---------------------------------------------------------------------

    def to_dict(self, **kwargs: Any) -> dict[str, Any]:
        """JSON-ready data: the fields, the short-term memory with its messages, a turn
        still buffered, and the engine as its configuration without secrets."""
        data = self.model_dump(exclude={"memory", "short_term"}, mode="json")
        data["class_name"] = self.class_name()
        data["short_term"] = _short_term_data(self.short_term)
        data["pending"] = [m.model_dump(mode="json") for m in self._pending]
        data["engine"] = _engine.spec(self.memory)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], memory: AnyMemory | None = None,
                  **kwargs: Any) -> LongTermMemory:
        """Rebuild from `to_dict`'s data: the engine is `memory` when given, else the one
        open in this process on the same data, else built from the saved configuration
        (its secrets from the environment)."""
        data = dict(data)
        data.pop("class_name", None)
        engine = memory if memory is not None else _engine.attach(data.pop("engine", None),
                                                                  cls.__name__)
        data.pop("engine", None)
        short_term = _short_term_from(data.pop("short_term", None))
        pending = [ChatMessage.model_validate(m) for m in data.pop("pending", [])]
        rebuilt = cls(memory=engine, short_term=short_term, **data, **kwargs)
        rebuilt._pending = pending
        return rebuilt

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as to_dict's data: LlamaIndex's own pickling drops what does not pickle
        # (the engine) with a log line, which would leave a memory that fails on first use.
        return (_from_pickle, (type(self), self.to_dict()))


def _from_pickle(cls: type[LongTermMemory], data: dict[str, Any]) -> LongTermMemory:
    return cls.from_dict(data)


def _short_term_data(short_term: BaseMemory) -> dict[str, Any]:
    """A short-term memory as data. A `ChatMemoryBuffer` is written as its settings and
    messages (its own `to_dict` fails on messages in this LlamaIndex version); any other
    memory as its `to_dict`, under its class's import path."""
    cls = type(short_term)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if isinstance(short_term, ChatMemoryBuffer):
        return {"class": name, "token_limit": short_term.token_limit,
                "chat_store_key": short_term.chat_store_key,
                "messages": [m.model_dump(mode="json") for m in short_term.get_all()]}
    return {"class": name, "data": short_term.to_dict()}


def _short_term_from(data: dict[str, Any] | None) -> BaseMemory:
    if data is None:
        return _default_short_term()
    module, _, name = str(data.get("class", "")).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, BaseMemory)):
        raise ConfigurationError(f"the short-term memory class {data.get('class')!r} cannot "
                                 f"be imported (or is not a LlamaIndex BaseMemory)")
    if "messages" in data and issubclass(cls, ChatMemoryBuffer):
        buffer = cls.from_defaults(token_limit=data["token_limit"],
                                   chat_store_key=data["chat_store_key"])
        buffer.set([ChatMessage.model_validate(m) for m in data["messages"]])
        return buffer
    return cls.from_dict(data["data"])
