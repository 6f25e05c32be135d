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

This module is also the one implementation of the three tools: `MemoryToolset` (the
scope given per call) holds their descriptions, arguments, scope check and wording, and
the LangChain, LlamaIndex and MCP tools only resolve the scope and translate.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryLayerError,
    MemoryNotFoundError,
    ProviderError,
)
from mem_integrations.core.models import MemoryItem
from mem_integrations.core.scope import SCOPE_KEYS, Scope
from mem_integrations.core.sync_memory import AnyMemory, bridge
from mem_integrations.rendering import (
    describe_add,
    describe_forget,
    describe_recall,
    describe_unknown_id,
)

__all__ = [
    "DEFAULT_LIMIT", "ERROR_PREFIX", "FACT_DESCRIPTION", "FORGET_DESCRIPTION", "MAX_LIMIT",
    "MEMORY_ID_DESCRIPTION", "MemoryTools", "MemoryToolset", "QUERY_DESCRIPTION",
    "RECALL_DESCRIPTION", "REMEMBER_DESCRIPTION", "TOOL_NAMES", "ToolArgumentError", "ToolCall",
    "create_memory_tools", "limit_description", "parse_tool_call", "tool_names",
    "tool_schemas",
]

log = logging.getLogger(__name__)

TOOL_NAMES = ("remember", "recall", "forget")
ERROR_PREFIX = "Error: "  # every failed call's text starts with it
DEFAULT_LIMIT = 5  # how many memories recall returns when the model does not say
MAX_LIMIT = 20  # the most the model may ask recall for

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

FACT_DESCRIPTION = "One short, self-contained fact, e.g. 'Prefers window seats'."
QUERY_DESCRIPTION = "What to look for, in natural language."
MEMORY_ID_DESCRIPTION = "The id of the memory, as shown by recall."


def limit_description(limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT) -> str:
    """The description of recall's `limit` argument."""
    return f"How many memories to return (1-{max_limit}, default {limit})."


def _parameters(name: str, *, limit: int, max_limit: int, strict: bool) -> dict[str, Any]:
    if name == "remember":
        properties: dict[str, Any] = {"fact": {"type": "string",
                                               "description": FACT_DESCRIPTION}}
    elif name == "recall":
        limit_schema: dict[str, Any] = {
            "type": ["integer", "null"] if strict else "integer",
            "minimum": 1, "maximum": max_limit,
            "description": limit_description(limit, max_limit)}
        properties = {"query": {"type": "string", "description": QUERY_DESCRIPTION},
                      "limit": limit_schema}
    else:
        properties = {"memory_id": {"type": "string", "description": MEMORY_ID_DESCRIPTION}}
    required = list(properties) if strict else [next(iter(properties))]
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


_DESCRIPTIONS = {"remember": REMEMBER_DESCRIPTION, "recall": RECALL_DESCRIPTION,
                 "forget": FORGET_DESCRIPTION}


def tool_schemas(*, names: Mapping[str, str] | None = None, api: str = "chat",
                 strict: bool = False, limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT,
                 include: Iterable[str] = TOOL_NAMES) -> list[dict[str, Any]]:
    """The tools as OpenAI function-calling definitions.

    `api="chat"` gives Chat Completions' shape (`{"type": "function", "function": {...}}`),
    `api="responses"` the Responses API's flat one. `strict=True` makes every parameter
    required (optional ones nullable), as OpenAI's strict mode wants. `names` renames
    tools, e.g. `{"recall": "search_memory"}`; `include` picks a subset. `limit` and
    `max_limit` are recall's default and maximum, as its description states them.
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
            "parameters": _parameters(tool, limit=limit, max_limit=max_limit,
                                      strict=strict)}
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


class ToolArgumentError(InvalidInputError):
    """A tool call's arguments are unusable; the message is written for the model."""


# A valid call's arguments per tool, shown to the model after a bad call.
_EXAMPLES = {"remember": '{"fact": "Prefers window seats"}',
             "recall": '{"query": "seat preferences", "limit": 5}',
             "forget": '{"memory_id": "<id shown by recall>"}'}


def tool_names(names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each tool's name once `names` renames some (`{"recall": "search_memory"}`); an
    unknown tool in `names` is a `ValueError`."""
    renamed = dict(names or {})
    unknown = set(renamed) - set(TOOL_NAMES)
    if unknown:
        raise ValueError(f"unknown tool(s) to rename: {sorted(unknown)}; "
                         f"the tools are {', '.join(TOOL_NAMES)}")
    return {tool: renamed.get(tool, tool) for tool in TOOL_NAMES}


class MemoryToolset:
    """remember / recall / forget with the scope given on each call: the one
    implementation behind `MemoryTools` (and the MCP server) and the LangChain and
    LlamaIndex tools, which only resolve the scope and translate.

    Each method checks what the model sent (a `ToolArgumentError`, whose message is
    written for the model, when it is unusable), checks the scope the caller resolved
    (never the model's choice), and returns the text the model reads. They can be awaited
    from any event loop; `toolset.bridge.run(...)` runs one from blocking code.

    `infer` and `metadata` are passed to `add` by `remember`, and `async_mode`: True
    queues the add and answers at once (the agent does not wait for the LLM's
    extraction); `limit` is `recall`'s default (the model may ask for up to `max_limit`),
    `threshold` its minimum score. `names` are the tools' names as the model knows them
    (used in messages to it). `dates`: `recall` says when each fact became true
    ("(since 2023-05-08)"), for agents asked what was true when.
    """

    def __init__(self, memory: AnyMemory, *, infer: bool = True,
                 metadata: dict[str, Any] | None = None, limit: int = DEFAULT_LIMIT,
                 max_limit: int = MAX_LIMIT, threshold: float | None = None,
                 names: Mapping[str, str] | None = None, async_mode: bool = False,
                 dates: bool = False) -> None:
        if not 1 <= limit <= max_limit:
            raise ValueError(f"limit must be between 1 and max_limit ({max_limit})")
        self.bridge = bridge(memory)
        self.infer, self.metadata, self.limit, self.max_limit = infer, metadata, limit, max_limit
        self.async_mode = async_mode
        self.threshold = threshold
        self.dates = dates
        self.names = tool_names(names)

    async def remember(self, scope: Mapping[str, Any], fact: object) -> str:
        """Save `fact` to the scope's memories (extracted and reconciled with what is
        known unless `infer=False`); says what changed."""
        text = self._text(fact, "fact", "remember")
        engine = self.bridge.async_memory
        result = await self.bridge.arun(engine.add(
            [{"role": "user", "content": text}], infer=self.infer, metadata=self.metadata,
            async_mode=self.async_mode, **self._scope(scope, "remember")))
        return describe_add(result)

    async def recall(self, scope: Mapping[str, Any], query: object, limit: object = None
                     ) -> tuple[str, list[MemoryItem]]:
        """The scope's memories most relevant to `query`: the text listing them with their
        ids, and the memories themselves."""
        text = self._text(query, "query", "recall")
        engine = self.bridge.async_memory
        result = await self.bridge.arun(engine.search(
            text, limit=self._limit(limit), threshold=self.threshold,
            **self._scope(scope, "recall")))
        return describe_recall(result, with_dates=self.dates), list(result.results)

    async def forget(self, scope: Mapping[str, Any], memory_id: object) -> str:
        """Delete one memory of the scope by id. Any other id, unknown or another scope's,
        gets the same answer, and nothing is deleted."""
        wanted = self._text(memory_id, "memory_id", "forget").strip("[]")
        ids = self._scope(scope, "forget")
        return await self.bridge.arun(self._forget(wanted, ids))

    async def _forget(self, memory_id: str, scope: Mapping[str, str]) -> str:
        # One coroutine on the engine's loop, so get and delete cost one hop, not two.
        engine = self.bridge.async_memory
        try:  # another scope's memory is MemoryOutOfScopeError, a MemoryNotFoundError
            item = await engine.get(memory_id, **scope)
            await engine.delete(item.id, **scope)
        except (MemoryNotFoundError, InvalidInputError):
            return describe_unknown_id(memory_id, recall=self.names["recall"])
        return describe_forget(item)

    def _scope(self, scope: Mapping[str, Any], tool: str) -> dict[str, str]:
        # Checked here, not only by the engine: forget reads by id, and without a scope
        # it would delete any memory.
        return Scope.of(self.names[tool], **{key: scope.get(key) for key in SCOPE_KEYS}).ids()

    def _text(self, value: object, key: str, tool: str) -> str:
        if not isinstance(value, str) or not value.strip():
            got = "nothing" if value is None else f"{type(value).__name__} {value!r}"
            raise ToolArgumentError(
                f"{self.names[tool]} needs {key!r}: a non-empty string (got {got}). "
                f"Example: {_EXAMPLES[tool]}")
        return value.strip()

    def _limit(self, value: object) -> int:
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


class MemoryTools:
    """The three memory tools bound to one scope, with a dispatcher for tool calls.

    `infer`, `metadata` and `async_mode` are passed to `add` by `remember` (see
    `MemoryToolset`); `limit` is `recall`'s default (the model may ask for up to
    `max_limit`), `threshold` its minimum score, `dates` whether it says when each fact
    became true. `names` renames the tools (the dispatcher answers to the new names).
    """

    def __init__(self, memory: AnyMemory, *, user_id: str | None = None,
                 agent_id: str | None = None, run_id: str | None = None, infer: bool = True,
                 metadata: dict[str, Any] | None = None, limit: int = DEFAULT_LIMIT,
                 max_limit: int = MAX_LIMIT, threshold: float | None = None,
                 names: Mapping[str, str] | None = None, strict: bool = False,
                 async_mode: bool = False, dates: bool = False) -> None:
        self.toolset = MemoryToolset(memory, infer=infer, metadata=metadata, limit=limit,
                                     max_limit=max_limit, threshold=threshold, names=names,
                                     async_mode=async_mode, dates=dates)
        self.memory = memory
        self.scope = Scope.of("MemoryTools", user_id=user_id, agent_id=agent_id,
                              run_id=run_id).ids()
        self.strict = strict
        self.names = self.toolset.names
        self._by_name = {name: tool for tool, name in self.names.items()}

    def __repr__(self) -> str:
        scope = ", ".join(f"{k}={v!r}" for k, v in self.scope.items())
        return f"MemoryTools({scope}, tools={list(self._by_name)})"

    # --- schemas -------------------------------------------------------------------------

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """Chat Completions tool definitions (pass as `tools=`)."""
        return tool_schemas(names=self.names, strict=self.strict, limit=self.toolset.limit,
                            max_limit=self.toolset.max_limit)

    @property
    def responses_schemas(self) -> list[dict[str, Any]]:
        """Responses API tool definitions."""
        return tool_schemas(names=self.names, api="responses", strict=self.strict,
                            limit=self.toolset.limit, max_limit=self.toolset.max_limit)

    def owns(self, call: Any) -> bool:
        """Whether a tool call is for one of these tools (to route calls in mixed agents)."""
        try:
            return parse_tool_call(call).name in self._by_name
        except TypeError:
            return False

    # --- running calls -------------------------------------------------------------------

    # The whole call runs on the engine's loop: one hop, however many engine calls it makes.

    def execute(self, call: Any) -> str:
        """Run one tool call (blocking) and return the text for the model."""
        return self.toolset.bridge.run(self._execute(parse_tool_call(call)))

    async def aexecute(self, call: Any) -> str:
        """Run one tool call and return the text for the model."""
        return await self.toolset.bridge.arun(self._execute(parse_tool_call(call)))

    def run(self, name: str, arguments: str | Mapping[str, Any] | None = None) -> str:
        """Run a tool by name with JSON or dict arguments (blocking)."""
        return self.execute(ToolCall(id=None, name=name, arguments=arguments))

    async def arun(self, name: str, arguments: str | Mapping[str, Any] | None = None) -> str:
        """Run a tool by name with JSON or dict arguments."""
        return await self.aexecute(ToolCall(id=None, name=name, arguments=arguments))

    def handle(self, source: Any) -> list[dict[str, Any]]:
        """Run every tool call of an assistant message (or a list of calls, or a Responses
        API response) and return the messages to send back: `{"role": "tool", ...}` for
        Chat Completions, `{"type": "function_call_output", ...}` for the Responses API."""
        calls = [parse_tool_call(c) for c in _calls_of(source)]
        return [self._reply(call, self.execute(call)) for call in calls]

    async def ahandle(self, source: Any) -> list[dict[str, Any]]:
        """`handle` for async code."""
        calls = [parse_tool_call(c) for c in _calls_of(source)]
        return [self._reply(call, await self.aexecute(call)) for call in calls]

    @staticmethod
    def _reply(call: ToolCall, content: str) -> dict[str, Any]:
        if call.api == "responses":
            return {"type": "function_call_output", "call_id": call.id, "output": content}
        return {"role": "tool", "tool_call_id": call.id, "content": content}

    # --- dispatching ---------------------------------------------------------------------

    async def _execute(self, call: ToolCall) -> str:
        tool = self._by_name.get(call.name)
        if tool is None:
            return (f"{ERROR_PREFIX}there is no tool named {call.name!r}. The memory tools "
                    f"are: {', '.join(self._by_name)}.")
        try:
            arguments = self._arguments(call, tool)
            if tool == "remember":
                return await self.toolset.remember(self.scope, arguments.get("fact"))
            if tool == "recall":
                text, _ = await self.toolset.recall(self.scope, arguments.get("query"),
                                                    arguments.get("limit"))
                return text
            return await self.toolset.forget(self.scope, arguments.get("memory_id"))
        except InvalidInputError as exc:  # ToolArgumentError included
            return f"{ERROR_PREFIX}{exc}"
        except ProviderError as exc:
            kept = " The text was kept and will be processed later." if exc.pending_id else ""
            return (f"{ERROR_PREFIX}the memory service could not process this right now "
                    f"({exc.reason}).{kept} Continue without it.")
        except MemoryLayerError as exc:
            log.warning("memory tool %s failed: %s", call.name, exc)
            return (f"{ERROR_PREFIX}the memory store failed ({type(exc).__name__}). "
                    "Continue without it.")
        except Exception as exc:  # a tool call must never break the agent's loop
            log.exception("memory tool %s failed unexpectedly", call.name)
            return (f"{ERROR_PREFIX}{call.name} failed unexpectedly ({type(exc).__name__}). "
                    "Continue without it.")

    def _arguments(self, call: ToolCall, tool: str) -> dict[str, Any]:
        raw = call.arguments
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise ToolArgumentError(
                    f"the arguments of {call.name} are not valid JSON ({exc.msg}); send a JSON "
                    f"object such as {_EXAMPLES[tool]}") from None
        if not isinstance(raw, Mapping):
            raise ToolArgumentError(f"the arguments of {call.name} must be a JSON object such "
                                    f"as {_EXAMPLES[tool]}")
        # Scope keys a model sends are dropped: the scope is bound, never the model's choice.
        return {k: v for k, v in raw.items() if k not in SCOPE_KEYS}


def create_memory_tools(memory: AnyMemory, **options: Any) -> MemoryTools:
    """`MemoryTools(memory, user_id=..., ...)`: the three tools and their dispatcher."""
    return MemoryTools(memory, **options)
