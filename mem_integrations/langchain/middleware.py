"""An `AgentMiddleware` for `langchain.agents.create_agent` that gives the agent long-term
memory without any tool call: relevant memories go into the system message before each
model call, and each finished turn is sent to `Memory.add`.

    agent = create_agent(model, tools, middleware=[MemoryMiddleware(memory)],
                         context_schema=Context)
    agent.invoke({"messages": [...]}, context=Context(user_id="alice"))
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest
from langchain.agents.middleware.types import ModelCallResult, ModelResponse
from langchain_core.messages import AnyMessage, SystemMessage
from langgraph.runtime import Runtime

from mem_integrations._common import (
    Background,
    Extraction,
    ScopeIds,
    check_injection,
    configurable_of,
    fixed_scope,
    merge_scopes,
    require_scope,
    scope_of,
    settle_at_exit,
)
from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.messages import with_timestamp
from mem_integrations.core.models import MemoryItem
from mem_integrations.core.sync_memory import AnyMemory, bridge
from mem_integrations.langchain.tools import create_memory_tools
from mem_integrations.rendering import MEMORY_TEMPLATE, format_memories

DEFAULT_TEMPLATE = MEMORY_TEMPLATE



class MemoryMiddleware(AgentMiddleware):
    """Injects relevant memories before the model call; remembers the turn after it.

    The scope comes, key by key, from the runtime context (`context=` of `invoke`, a dict
    or an object with `user_id` / `agent_id` / `run_id`), then `config["configurable"]`,
    then the ids given here.

    Args:
        memory: a `Memory` (or `AsyncMemory` for async-only agents).
        user_id, agent_id, run_id: default scope ids.
        limit, threshold, filters: how memories are searched for the latest user message.
        template: how they are added to the system message; `{memories}` is replaced by
            one line per memory.
        dates: each line says when its fact became true ("(since 2023-05-08) ...").
        extraction: after the agent's turn, send its user and assistant messages to `add`
            "background" (default: a non-blocking add, `add(..., async_mode=True)`: the
            turn is kept durably and queued, and the engine's queue extracts it; the
            reply is not delayed; `wait()` / `await_all()` wait for the queue), "await"
            (the run ends when the add is done; errors propagate), or "off". At
            interpreter exit the queue is waited for up to `exit_timeout` seconds; what
            it has not finished stays queued and runs when the memory next opens.
        tools: also give the agent the remember / recall / forget tools.
    """

    def __init__(
        self,
        memory: AnyMemory,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 5,
        threshold: float | None = None,
        filters: dict[str, Any] | None = None,
        template: str = DEFAULT_TEMPLATE,
        extraction: Extraction = "background",
        tools: bool = False,
        exit_timeout: float = 30.0,
        dates: bool = False,
    ) -> None:
        check_injection(extraction, template)
        self.dates = dates
        self.bridge = bridge(memory)
        self.scope = fixed_scope(user_id, agent_id, run_id)
        self.limit = limit
        self.threshold = threshold
        self.filters = filters
        self.template = template
        self.extraction = extraction
        self.tools = create_memory_tools(memory, user_id=user_id, agent_id=agent_id,
                                         run_id=run_id) if tools else []
        self._background = Background()
        self.exit_timeout = exit_timeout
        settle_at_exit(self)

    # --- scope and messages ----------------------------------------------------------------

    def _scope_for(self, runtime: Runtime[Any] | None) -> ScopeIds:
        context = getattr(runtime, "context", None)
        return require_scope(merge_scopes(scope_of(context), scope_of(_configurable()),
                                          self.scope), "MemoryMiddleware")

    def _search_args(self, request: ModelRequest[Any]) -> dict[str, Any] | None:
        query = _latest_user_text(request.messages)
        if not query:
            return None
        return {"query": query, **self._scope_for(request.runtime), "limit": self.limit,
                "threshold": self.threshold, "filters": self.filters}

    def _with_memories(self, request: ModelRequest[Any], items: list[MemoryItem]
                       ) -> ModelRequest[Any]:
        if not items:
            return request
        block = self.template.format(memories=format_memories(items, with_dates=self.dates))
        return request.override(system_message=_append_to_system(request.system_message, block))

    def _add_args(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        turn = _last_turn(state["messages"])
        if not turn:
            return None
        thread = configurable_of(_config()).get("thread_id")
        metadata = {"thread_id": str(thread)} if thread is not None else None
        return {"messages": turn, **self._scope_for(runtime), "metadata": metadata}

    # --- before the model: inject -------------------------------------------------------------

    def wrap_model_call(self, request: ModelRequest[Any],
                        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
                        ) -> ModelCallResult[Any]:
        args = self._search_args(request)
        if args is not None:
            found = self.bridge.run(self.bridge.async_memory.search(**args))
            request = self._with_memories(request, found.results)
        return handler(request)

    async def awrap_model_call(self, request: ModelRequest[Any],
                               handler: Callable[[ModelRequest[Any]],
                                                 Awaitable[ModelResponse[Any]]]
                               ) -> ModelCallResult[Any]:
        args = self._search_args(request)
        if args is not None:
            found = await self.bridge.arun(self.bridge.async_memory.search(**args))
            request = self._with_memories(request, found.results)
        return await handler(request)

    # --- after the turn: remember ----------------------------------------------------------

    def after_agent(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        args = None if self.extraction == "off" else self._add_args(state, runtime)
        if args is None:
            return None
        if self.extraction == "background":
            self._background.track(self.bridge.submit(self._add(args)), "memory add")
        else:
            self.bridge.run(self._add(args))
        return None

    async def aafter_agent(self, state: AgentState[Any], runtime: Runtime[Any]
                           ) -> dict[str, Any] | None:
        args = None if self.extraction == "off" else self._add_args(state, runtime)
        if args is None:
            return None
        if self.extraction == "background":
            self._background.track(self.bridge.submit(self._add(args)), "memory add")
        else:
            await self.bridge.arun(self._add(args))
        return None

    async def _add(self, args: dict[str, Any]) -> None:
        # a turn with no text (tool calls only) has nothing to remember
        with contextlib.suppress(InvalidInputError):
            await self.bridge.async_memory.add(
                **args, async_mode=self.extraction == "background")

    @property
    def unfinished(self) -> int:
        """How many background adds are still being queued or waiting in the queue."""
        return len(self._background) + len(self.bridge.async_memory.queue)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background adds started so far are done (queued, then run by
        the engine's queue), or `timeout` seconds have passed."""
        self._background.wait(timeout)
        self._background.wait_for(self.bridge, self.bridge.async_memory.flush(), timeout)

    async def await_all(self) -> None:
        """Await the background adds started so far (queued, then run by the queue)."""
        await self._background.await_all()
        await self.bridge.arun(self.bridge.async_memory.flush())


def _config() -> dict[str, Any] | None:
    try:
        from langgraph.config import get_config

        return dict(get_config())
    except RuntimeError:  # called outside a graph run
        return None


def _configurable() -> dict[str, Any]:
    return configurable_of(_config())


def _latest_user_text(messages: Sequence[AnyMessage]) -> str:
    for message in reversed(messages):
        if message.type == "human":
            return message.text.strip()
    return ""


def _last_turn(messages: Sequence[AnyMessage]) -> list[dict[str, str]]:
    """The latest user message(s) and what the agent answered, as role/content dicts.

    Tool calls and tool results are left out: they repeat what tools already stored or
    found (a recall result would otherwise be extracted again as new facts)."""
    last = next((i for i in range(len(messages) - 1, -1, -1)
                 if messages[i].type == "human"), None)
    if last is None:
        return []
    start = last
    while start > 0 and messages[start - 1].type == "human":
        start -= 1
    roles = {"human": "user", "ai": "assistant"}
    # a message's timestamp (additional_kwargs / response_metadata) dates its facts
    return [with_timestamp({"role": roles[m.type], "content": m.text}, m)
            for m in messages[start:] if m.type in roles and m.text.strip()]


def _append_to_system(system: SystemMessage | None, block: str) -> SystemMessage:
    if system is None:
        return SystemMessage(content=block)
    if isinstance(system.content, str):
        return SystemMessage(content=f"{system.content}\n\n{block}" if system.content else block)
    return SystemMessage(content=[*system.content, {"type": "text", "text": block}])
