"""`remember`, `recall` and `forget` as LangChain tools.

The scope (whose memories) never comes from the model: the model only sees the fact, the
query or the memory id. The scope is read, per key, from the first of:

1. the `ToolRuntime` context inside a LangGraph / `create_agent` agent
   (`agent.invoke(..., context={"user_id": "alice"})`);
2. `InjectedToolArg` arguments when the tool is called directly
   (`tool.invoke({"fact": "...", "user_id": "alice"})`); inside an agent they are
   ignored, since there only the model could have filled them in;
3. `config["configurable"]` (`{"configurable": {"user_id": "alice"}}`);
4. the ids given when the tool was built (`create_memory_tools(memory, agent_id="bot")`).

So a model cannot pick another user's scope; `forget` also refuses ids outside the
caller's scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolArg
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from mem_integrations.core.errors import InvalidInputError, MemoryNotFoundError
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.langchain._core import (
    Engine,
    ScopeIds,
    configurable_of,
    fixed_scope,
    merge_scopes,
    require_scope,
    scope_of,
)
from mem_integrations.rendering import describe_add, describe_recall

try:  # ToolRuntime comes with langgraph (installed with `langchain`); tools work without it
    from langgraph.prebuilt import ToolRuntime
except ImportError:  # pragma: no cover - exercised only without langgraph
    ToolRuntime = Any  # type: ignore[misc,assignment]


class _ScopeArgs(BaseModel):
    """Arguments the runtime supplies; none of them is shown to the model."""

    user_id: Annotated[str | None, InjectedToolArg] = None
    agent_id: Annotated[str | None, InjectedToolArg] = None
    run_id: Annotated[str | None, InjectedToolArg] = None
    # Declared here so that ToolNode (which reads the schema) injects it, and excluded
    # from dumps: LangChain dumps the validated input, and a ToolRuntime (state, store,
    # context) is neither cheap nor clean to serialise. `_run` takes it as `Runtime`.
    runtime: Annotated[Any, InjectedToolArg] = Field(default=None, exclude=True)


# How `_run` / `_arun` declare the runtime: LangChain passes arguments annotated as
# injected straight through to them.
Runtime = Annotated[ToolRuntime | None, InjectedToolArg]


class RememberInput(_ScopeArgs):
    fact: str = Field(description="One short, self-contained fact to remember, e.g. "
                                  "'Prefers window seats on flights'.")


class RecallInput(_ScopeArgs):
    query: str = Field(description="What to look for, in natural language.")
    limit: int = Field(default=5, ge=1, le=20, description="How many memories to return.")


class ForgetInput(_ScopeArgs):
    memory_id: str = Field(description="The id of the memory to delete, as shown by recall.")


class _MemoryTool(BaseTool):
    """Shared by the three tools: the engine, the build-time scope, scope resolution."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(description="A mem_integrations Memory (or AsyncMemory, async only).",
                        exclude=True)
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    _engine: Engine = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._engine = Engine(self.memory)

    @property
    def _injected_args_keys(self) -> frozenset[str]:
        # The runtime is excluded from the schema's dumps (see `_ScopeArgs`), where input
        # parsing takes the arguments from; every langchain-core 1.x passes the keys listed
        # here through as given. (Recent versions find it in `_run`'s signature already.)
        return frozenset({"runtime"})

    def _scope(self, injected: Mapping[str, Any], runtime: Any,
               config: RunnableConfig | None) -> ScopeIds:
        if runtime is None:  # called directly: the caller passed the injected arguments
            context, direct = None, scope_of({k: injected.get(k) for k in SCOPE_KEYS})
        else:
            # Inside an agent, injected arguments could only come from the model's tool
            # call (ToolNode strips them, older versions did not): never trust them.
            context, direct = getattr(runtime, "context", None), ScopeIds()
            config = getattr(runtime, "config", None) or config
        return require_scope(merge_scopes(
            scope_of(context), direct, scope_of(configurable_of(config)),
            fixed_scope(self.user_id, self.agent_id, self.run_id),
        ), self.name)


class RememberTool(_MemoryTool):
    """Saves a fact to the caller's long-term memory. With `infer=True` (default) the
    engine extracts and reconciles it with what is known (updates instead of duplicates);
    with `infer=False` the text is stored verbatim."""

    name: str = "remember"
    description: str = (
        "Save a durable fact about the user or the task to long-term memory, so that it "
        "can be recalled in later conversations. Pass one short, self-contained statement."
    )
    args_schema: type[BaseModel] = RememberInput
    infer: bool = True
    metadata_to_store: dict[str, Any] | None = Field(
        default=None, description="Metadata attached to every memory this tool saves.")

    def _add_args(self, fact: str, scope: ScopeIds) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": fact}], **scope, "infer": self.infer,
                "metadata": self.metadata_to_store}

    def _run(self, fact: str, user_id: str | None = None, agent_id: str | None = None,
             run_id: str | None = None, runtime: Runtime = None, *,
             config: RunnableConfig, **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                             runtime, config)
        return describe_add(self._engine.run(self._engine.core.add(**self._add_args(fact, scope))))

    async def _arun(self, fact: str, user_id: str | None = None, agent_id: str | None = None,
                    run_id: str | None = None, runtime: Runtime = None, *,
                    config: RunnableConfig, **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                             runtime, config)
        result = await self._engine.arun(self._engine.core.add(**self._add_args(fact, scope)))
        return describe_add(result)


class RecallTool(_MemoryTool):
    """Searches the caller's long-term memory. The tool message's content lists the
    memories with their ids (so the model can `forget` one); its artifact holds them as
    dicts."""

    name: str = "recall"
    description: str = (
        "Search long-term memory for facts relevant to a query (preferences, earlier "
        "decisions, personal details). Returns matching memories with their ids."
    )
    args_schema: type[BaseModel] = RecallInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    threshold: float | None = None

    def _search_args(self, query: str, limit: int, scope: ScopeIds) -> dict[str, Any]:
        return {"query": query, **scope, "limit": limit, "threshold": self.threshold}

    def _run(self, query: str, limit: int = 5, user_id: str | None = None,
             agent_id: str | None = None, run_id: str | None = None, runtime: Runtime = None, *,
             config: RunnableConfig, **_: Any) -> tuple[str, list[dict[str, Any]]]:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                             runtime, config)
        result = self._engine.run(self._engine.core.search(**self._search_args(query, limit, scope)))
        return _describe_search(result.results)

    async def _arun(self, query: str, limit: int = 5, user_id: str | None = None,
                    agent_id: str | None = None, run_id: str | None = None,
                    runtime: Runtime = None, *, config: RunnableConfig,
                    **_: Any) -> tuple[str, list[dict[str, Any]]]:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                             runtime, config)
        result = await self._engine.arun(
            self._engine.core.search(**self._search_args(query, limit, scope)))
        return _describe_search(result.results)


class ForgetTool(_MemoryTool):
    """Deletes one memory of the caller's scope by id. An id from another scope is
    answered exactly like an unknown id, so the tool reveals nothing about it."""

    name: str = "forget"
    description: str = (
        "Delete a memory by its id (as shown by recall) when it is wrong, outdated, or the "
        "user asks you to forget it."
    )
    args_schema: type[BaseModel] = ForgetInput

    async def _forget(self, memory_id: str, scope: ScopeIds) -> str:
        core = self._engine.core
        try:
            item = await core.get(memory_id)
        except (MemoryNotFoundError, InvalidInputError):
            item = None
        if item is None or any(getattr(item, k) != v for k, v in scope.items()):
            return f"No memory with id {memory_id} was found."
        await core.delete(item.id)
        return f"Forgot: {item.memory}"

    def _run(self, memory_id: str, user_id: str | None = None, agent_id: str | None = None,
             run_id: str | None = None, runtime: Runtime = None, *,
             config: RunnableConfig, **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                             runtime, config)
        return self._engine.run(self._forget(memory_id.strip(), scope))

    async def _arun(self, memory_id: str, user_id: str | None = None,
                    agent_id: str | None = None, run_id: str | None = None,
                    runtime: Runtime = None, *, config: RunnableConfig,
                    **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                             runtime, config)
        return await self._engine.arun(self._forget(memory_id.strip(), scope))


def create_memory_tools(
    memory: Any,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    names: Mapping[str, str] | None = None,
    infer: bool = True,
) -> list[BaseTool]:
    """The three memory tools, sharing one engine and one build-time scope.

    `names` renames them, e.g. `{"remember": "save_memory", "recall": "search_memory"}`.
    The ids given here are defaults; the runtime's (context, injected arguments, config)
    take precedence, key by key.
    """
    names = dict(names or {})
    unknown = set(names) - {"remember", "recall", "forget"}
    if unknown:
        raise ValueError(f"unknown tool(s) to rename: {sorted(unknown)}; "
                         "use 'remember', 'recall', 'forget'")
    common = {"memory": memory, "user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    return [
        RememberTool(name=names.get("remember", "remember"), infer=infer, **common),
        RecallTool(name=names.get("recall", "recall"), **common),
        ForgetTool(name=names.get("forget", "forget"), **common),
    ]


def _describe_search(items: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    return describe_recall(items), [item.model_dump(mode="json") for item in items]
