"""`remember`, `recall` and `forget` for any tool-calling LLM, with no agent framework.

    from openai import OpenAI
    from mem_integrations import Memory
    from mem_integrations.tools import MemoryTools

    tools = MemoryTools(Memory(), user_id="alice")      # the scope is bound here
    reply = client.chat.completions.create(model=..., messages=messages,
                                           tools=tools.schemas)
    message = reply.choices[0].message
    messages.append(message)
    messages.extend(tools.handle(message))              # runs the calls, returns tool messages

The model only sees the fact, the query or the memory id: the scope (user_id, agent_id,
run_id) is never a tool parameter, and a model that sends one anyway is ignored. `forget`
only deletes memories of the bound scope.

A tool call never raises into the agent loop: bad arguments, unknown tools, unknown ids
and engine failures come back as a short ``Error: ...`` string the model can act on.
(Programming errors — an `AsyncMemory` used from blocking code — still raise.)

Tool calls may be OpenAI SDK objects (Chat Completions `tool_calls` items or Responses
API `function_call` items) or plain dicts of the same shapes, or `{"name", "arguments"}`.
`MemoryTools` works with a `Memory` (blocking and async methods) or an `AsyncMemory`
(async methods: `aexecute`, `ahandle`, `arun`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryLayerError,
    MemoryNotFoundError,
    ProviderError,
)
from mem_integrations.core.scope import SCOPE_KEYS, Scope
from mem_integrations.core.sync_memory import Memory
from mem_integrations.rendering import describe_add, describe_recall

__all__ = [
    "ERROR_PREFIX", "FORGET_DESCRIPTION", "MemoryTools", "RECALL_DESCRIPTION", "REMEMBER_DESCRIPTION",
    "ToolCall", "create_memory_tools", "parse_tool_call", "tool_schemas",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

TOOL_NAMES = ("remember", "recall", "forget")
ERROR_PREFIX = "Error: "  # every failed call's text starts with it

REMEMBER_DESCRIPTION = (
    "Save a durable fact about the user or the task to long-term memory, so that it can be "
    "recalled in later conversations: preferences, personal details, plans, standing "
    "instructions. Pass one short, self-contained statement. A fact that changes what is "
    "known updates the old memory instead of duplicating it.")
RECALL_DESCRIPTION = (
    "Search long-term memory for facts relevant to a query (preferences, earlier decisions, "
    "personal details). Returns one memory per line with its id in brackets.")
FORGET_DESCRIPTION = (
    "Delete one memory by the id shown in brackets by recall, when it is wrong, outdated, or "
    "the user asks you to forget it.")


def _parameters(name: str, *, max_limit: int, strict: bool) -> dict[str, Any]:
    if name == "remember":
        properties: dict[str, Any] = {"fact": {
            "type": "string",
            "description": "One short, self-contained fact, e.g. 'Prefers window seats'."}}
    elif name == "recall":
        limit: dict[str, Any] = {
            "type": ["integer", "null"] if strict else "integer",
            "minimum": 1, "maximum": max_limit,
            "description": f"How many memories to return (1-{max_limit}, default 5)."}
        properties = {"query": {"type": "string",
                                "description": "What to look for, in natural language."},
                      "limit": limit}
    else:
        properties = {"memory_id": {
            "type": "string", "description": "The id of the memory, as shown by recall."}}
    required = list(properties) if strict else [next(iter(properties))]
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


_DESCRIPTIONS = {"remember": REMEMBER_DESCRIPTION, "recall": RECALL_DESCRIPTION,
                 "forget": FORGET_DESCRIPTION}


def tool_schemas(*, names: Mapping[str, str] | None = None, api: str = "chat",
                 strict: bool = False, max_limit: int = 20,
                 include: Iterable[str] = TOOL_NAMES) -> list[dict[str, Any]]:
    """The tools as OpenAI function-calling definitions.

    `api="chat"` gives Chat Completions' shape (`{"type": "function", "function": {...}}`),
    `api="responses"` the Responses API's flat one. `strict=True` makes every parameter
    required (optional ones nullable), as OpenAI's strict mode wants. `names` renames
    tools, e.g. `{"recall": "search_memory"}`; `include` picks a subset.
    """
    if api not in ("chat", "responses"):
        raise ValueError("api must be 'chat' or 'responses'")
    names = dict(names or {})
    schemas = []
    for tool in include:
        if tool not in TOOL_NAMES:
            raise ValueError(f"unknown tool {tool!r}; the tools are {', '.join(TOOL_NAMES)}")
        function: dict[str, Any] = {
            "name": names.get(tool, tool), "description": _DESCRIPTIONS[tool],
            "parameters": _parameters(tool, max_limit=max_limit, strict=strict)}
        if strict:
            function["strict"] = True
        schemas.append({"type": "function", "function": function} if api == "chat"
                       else {"type": "function", **function})
    return schemas


# --- reading tool calls ------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One call, whatever it came as. `arguments` is the raw JSON text or a mapping."""

    id: str | None
    name: str
    arguments: str | Mapping[str, Any] | None
    api: str = "chat"  # "chat" (tool message reply) or "responses" (function_call_output)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def parse_tool_call(call: Any) -> ToolCall:
    """A `ToolCall` from a Chat Completions tool call, a Responses API function call
    (SDK object or dict), or `{"name": ..., "arguments": ...}`."""
    if isinstance(call, ToolCall):
        return call
    function = _get(call, "function")
    if function is not None:  # Chat Completions
        return ToolCall(id=_get(call, "id"), name=str(_get(function, "name") or ""),
                        arguments=_get(function, "arguments"), api="chat")
    if _get(call, "type") == "function_call" or _get(call, "call_id") is not None:
        return ToolCall(id=_get(call, "call_id") or _get(call, "id"),
                        name=str(_get(call, "name") or ""), arguments=_get(call, "arguments"),
                        api="responses")
    name = _get(call, "name")
    if name is None:
        raise TypeError(f"not a tool call: {call!r}")
    return ToolCall(id=_get(call, "id"), name=str(name), arguments=_get(call, "arguments"))


def _calls_of(source: Any) -> list[Any]:
    """The tool calls of an assistant message, a Responses API response, or a list."""
    if source is None:
        return []
    if isinstance(source, (list, tuple)):
        return list(source)
    calls = _get(source, "tool_calls")
    if calls is not None or _get(source, "role") == "assistant":
        return list(calls or [])
    output = _get(source, "output")
    if isinstance(output, (list, tuple)):  # a Responses API response
        return [item for item in output if _get(item, "type") == "function_call"]
    return [source]


class ToolArgumentError(Exception):
    """A tool call's arguments are unusable; the message is shown to the model."""


class MemoryTools:
    """The three memory tools bound to one scope, with a dispatcher for tool calls.

    `infer` and `metadata` are passed to `add` by `remember`; `limit` is `recall`'s
    default (the model may ask for up to `max_limit`), `threshold` its minimum score.
    `names` renames the tools (the dispatcher answers to the new names).
    """

    def __init__(self, memory: Memory | AsyncMemory, *, user_id: str | None = None,
                 agent_id: str | None = None, run_id: str | None = None, infer: bool = True,
                 metadata: dict[str, Any] | None = None, limit: int = 5, max_limit: int = 20,
                 threshold: float | None = None, names: Mapping[str, str] | None = None,
                 strict: bool = False) -> None:
        if not isinstance(memory, (Memory, AsyncMemory)):
            raise TypeError("MemoryTools needs a mem_integrations Memory or AsyncMemory, got "
                            f"{type(memory).__name__}")
        self.memory = memory
        self.scope = Scope.of("MemoryTools", user_id=user_id, agent_id=agent_id,
                              run_id=run_id).ids()
        if not 1 <= limit <= max_limit:
            raise ValueError(f"limit must be between 1 and max_limit ({max_limit})")
        self.infer, self.metadata, self.limit, self.max_limit = infer, metadata, limit, max_limit
        self.threshold, self.strict = threshold, strict
        renamed = dict(names or {})
        unknown = set(renamed) - set(TOOL_NAMES)
        if unknown:
            raise ValueError(f"unknown tool(s) to rename: {sorted(unknown)}")
        self.names = {tool: renamed.get(tool, tool) for tool in TOOL_NAMES}
        self._by_name = {name: tool for tool, name in self.names.items()}

    def __repr__(self) -> str:
        scope = ", ".join(f"{k}={v!r}" for k, v in self.scope.items())
        return f"MemoryTools({scope}, tools={list(self._by_name)})"

    # --- schemas -------------------------------------------------------------------------

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """Chat Completions tool definitions (pass as `tools=`)."""
        return tool_schemas(names=self.names, strict=self.strict, max_limit=self.max_limit)

    @property
    def responses_schemas(self) -> list[dict[str, Any]]:
        """Responses API tool definitions."""
        return tool_schemas(names=self.names, api="responses", strict=self.strict,
                            max_limit=self.max_limit)

    def owns(self, call: Any) -> bool:
        """Whether a tool call is for one of these tools (to route calls in mixed agents)."""
        try:
            return parse_tool_call(call).name in self._by_name
        except TypeError:
            return False

    # --- running calls -------------------------------------------------------------------

    def execute(self, call: Any) -> str:
        """Run one tool call (blocking) and return the text for the model."""
        return self._block(self._execute(parse_tool_call(call)))

    async def aexecute(self, call: Any) -> str:
        """Run one tool call and return the text for the model."""
        return await self._await(self._execute(parse_tool_call(call)))

    def run(self, name: str, arguments: str | Mapping[str, Any] | None = None) -> str:
        """Run a tool by name with JSON or dict arguments (blocking)."""
        return self.execute(ToolCall(id=None, name=name, arguments=arguments))

    async def arun(self, name: str, arguments: str | Mapping[str, Any] | None = None) -> str:
        return await self.aexecute(ToolCall(id=None, name=name, arguments=arguments))

    def handle(self, source: Any) -> list[dict[str, Any]]:
        """Run every tool call of an assistant message (or a list of calls, or a Responses
        API response) and return the messages to send back: `{"role": "tool", ...}` for
        Chat Completions, `{"type": "function_call_output", ...}` for the Responses API."""
        calls = [parse_tool_call(c) for c in _calls_of(source)]
        return [self._reply(call, self.execute(call)) for call in calls]

    async def ahandle(self, source: Any) -> list[dict[str, Any]]:
        calls = [parse_tool_call(c) for c in _calls_of(source)]
        return [self._reply(call, await self.aexecute(call)) for call in calls]

    @staticmethod
    def _reply(call: ToolCall, content: str) -> dict[str, Any]:
        if call.api == "responses":
            return {"type": "function_call_output", "call_id": call.id, "output": content}
        return {"role": "tool", "tool_call_id": call.id, "content": content}

    # --- where the engine runs -------------------------------------------------------------

    def _block(self, coro: Coroutine[Any, Any, T]) -> T:
        if isinstance(self.memory, AsyncMemory):
            coro.close()
            raise TypeError("these tools were given an AsyncMemory: use aexecute / ahandle / "
                            "arun from async code, or pass a Memory")
        # The facade's event-loop thread owns the engine (its locks and HTTP clients).
        return asyncio.run_coroutine_threadsafe(coro, self.memory.loop).result()

    async def _await(self, coro: Coroutine[Any, Any, T]) -> T:
        if isinstance(self.memory, AsyncMemory):
            return await coro
        future = asyncio.run_coroutine_threadsafe(coro, self.memory.loop)
        return await asyncio.wrap_future(future)

    @property
    def _engine(self) -> AsyncMemory:
        return self.memory if isinstance(self.memory, AsyncMemory) else self.memory.async_memory

    # --- the tools -----------------------------------------------------------------------

    async def _execute(self, call: ToolCall) -> str:
        tool = self._by_name.get(call.name)
        if tool is None:
            return (f"Error: there is no tool named {call.name!r}. The memory tools are: "
                    f"{', '.join(self._by_name)}.")
        try:
            arguments = self._arguments(call)
            if tool == "remember":
                return await self._remember(arguments)
            if tool == "recall":
                return await self._recall(arguments)
            return await self._forget(arguments)
        except ToolArgumentError as exc:
            return f"Error: {exc}"
        except InvalidInputError as exc:
            return f"Error: {exc}"
        except ProviderError as exc:
            kept = " The text was kept and will be processed later." if exc.pending_id else ""
            return (f"Error: the memory service could not process this right now "
                    f"({exc.reason}).{kept} Continue without it.")
        except MemoryLayerError as exc:
            log.warning("memory tool %s failed: %s", call.name, exc)
            return f"Error: the memory store failed ({type(exc).__name__}). Continue without it."
        except Exception as exc:  # a tool call must never break the agent's loop
            log.exception("memory tool %s failed unexpectedly", call.name)
            return (f"Error: {call.name} failed unexpectedly ({type(exc).__name__}). "
                    "Continue without it.")

    def _arguments(self, call: ToolCall) -> dict[str, Any]:
        raw = call.arguments
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise ToolArgumentError(
                    f"the arguments of {call.name} are not valid JSON ({exc.msg}); send a JSON "
                    f"object such as {self._example(call.name)}") from None
        if not isinstance(raw, Mapping):
            raise ToolArgumentError(f"the arguments of {call.name} must be a JSON object such "
                                    f"as {self._example(call.name)}")
        # Scope keys a model sends are dropped: the scope is bound, never the model's choice.
        return {k: v for k, v in raw.items() if k not in SCOPE_KEYS}

    def _example(self, name: str) -> str:
        tool = self._by_name.get(name, name)
        return {"remember": '{"fact": "Prefers window seats"}',
                "recall": '{"query": "seat preferences", "limit": 5}',
                "forget": '{"memory_id": "<id shown by recall>"}'}[tool]

    def _text(self, arguments: Mapping[str, Any], key: str, tool: str) -> str:
        value = arguments.get(key)
        if not isinstance(value, str) or not value.strip():
            got = "nothing" if value is None else f"{type(value).__name__} {value!r}"
            raise ToolArgumentError(
                f"{self.names[tool]} needs {key!r}: a non-empty string (got {got}). "
                f"Example: {self._example(self.names[tool])}")
        return value.strip()

    def _limit(self, value: Any) -> int:
        if value is None:
            return self.limit
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ToolArgumentError(f"{self.names['recall']}: 'limit' must be a whole number "
                                    f"from 1 to {self.max_limit} (got {value!r})")
        return min(value, self.max_limit)

    async def _remember(self, arguments: Mapping[str, Any]) -> str:
        fact = self._text(arguments, "fact", "remember")
        result = await self._engine.add([{"role": "user", "content": fact}], infer=self.infer,
                                        metadata=self.metadata, **self.scope)
        return describe_add(result)

    async def _recall(self, arguments: Mapping[str, Any]) -> str:
        query = self._text(arguments, "query", "recall")
        limit = self._limit(arguments.get("limit"))
        result = await self._engine.search(query, limit=limit, threshold=self.threshold,
                                           **self.scope)
        return describe_recall(result)

    async def _forget(self, arguments: Mapping[str, Any]) -> str:
        memory_id = self._text(arguments, "memory_id", "forget").strip("[]")
        missing = (f"No memory with id {memory_id} was found. Use "
                   f"{self.names['recall']} to see the ids.")
        try:
            item = await self._engine.get(memory_id)
        except (MemoryNotFoundError, InvalidInputError):
            return missing
        # Another scope's memory is answered exactly like an unknown id: nothing leaks.
        if any(getattr(item, key) != value for key, value in self.scope.items()):
            return missing
        await self._engine.delete(item.id)
        return f"Forgot: {item.memory}"


def create_memory_tools(memory: Memory | AsyncMemory, **options: Any) -> MemoryTools:
    """`MemoryTools(memory, user_id=..., ...)`: the three tools and their dispatcher."""
    return MemoryTools(memory, **options)
