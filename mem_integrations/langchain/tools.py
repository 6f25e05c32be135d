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
from typing import Annotated, Any, ClassVar, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolArg
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from mem_integrations._common import (
    ScopeIds,
    configurable_of,
    fixed_scope,
    merge_scopes,
    require_scope,
    scope_of,
)
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.tools import (
    DEFAULT_LIMIT,
    FACT_DESCRIPTION,
    FORGET_DESCRIPTION,
    MAX_LIMIT,
    MEMORY_ID_DESCRIPTION,
    QUERY_DESCRIPTION,
    RECALL_DESCRIPTION,
    REMEMBER_DESCRIPTION,
    MemoryToolset,
    limit_description,
    tool_names,
)

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
    fact: str = Field(description=FACT_DESCRIPTION)


class RecallInput(_ScopeArgs):
    query: str = Field(description=QUERY_DESCRIPTION)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT,
                       description=limit_description())


class ForgetInput(_ScopeArgs):
    memory_id: str = Field(description=MEMORY_ID_DESCRIPTION)


class _MemoryTool(BaseTool):
    """Shared by the three tools: the build-time scope and scope resolution. What the
    tool does is `mem_integrations.tools.MemoryToolset`'s."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(description="A mem_integrations Memory (or AsyncMemory, async only).",
                        exclude=True)
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None

    _tool: ClassVar[str]  # which of the three tools this is
    _toolset: MemoryToolset = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._toolset = MemoryToolset(self.memory, names=self._names(), **self._options())

    def _names(self) -> dict[str, str]:
        return {self._tool: self.name}

    def _options(self) -> dict[str, Any]:
        return {}

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
    description: str = REMEMBER_DESCRIPTION
    args_schema: type[BaseModel] = RememberInput
    infer: bool = True
    metadata_to_store: dict[str, Any] | None = Field(
        default=None, description="Metadata attached to every memory this tool saves.")

    _tool: ClassVar[str] = "remember"

    def _options(self) -> dict[str, Any]:
        return {"infer": self.infer, "metadata": self.metadata_to_store}

    def _run(self, fact: str, user_id: str | None = None, agent_id: str | None = None,
             run_id: str | None = None, runtime: Runtime = None, *,
             config: RunnableConfig, **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                            runtime, config)
        return self._toolset.bridge.run(self._toolset.remember(scope, fact))

    async def _arun(self, fact: str, user_id: str | None = None, agent_id: str | None = None,
                    run_id: str | None = None, runtime: Runtime = None, *,
                    config: RunnableConfig, **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                            runtime, config)
        return await self._toolset.bridge.arun(self._toolset.remember(scope, fact))


class RecallTool(_MemoryTool):
    """Searches the caller's long-term memory. The tool message's content lists the
    memories with their ids (so the model can `forget` one); its artifact holds them as
    dicts."""

    name: str = "recall"
    description: str = RECALL_DESCRIPTION
    args_schema: type[BaseModel] = RecallInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    threshold: float | None = None
    dates: bool = Field(default=False, description="Say when each fact became true "
                        "('(since 2023-05-08)').")

    _tool: ClassVar[str] = "recall"

    def _options(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "dates": self.dates}

    async def _recall(self, query: str, limit: int, scope: ScopeIds
                      ) -> tuple[str, list[dict[str, Any]]]:
        text, items = await self._toolset.recall(scope, query, limit)
        return text, [item.model_dump(mode="json") for item in items]

    def _run(self, query: str, limit: int = DEFAULT_LIMIT, user_id: str | None = None,
             agent_id: str | None = None, run_id: str | None = None, runtime: Runtime = None, *,
             config: RunnableConfig, **_: Any) -> tuple[str, list[dict[str, Any]]]:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                            runtime, config)
        return self._toolset.bridge.run(self._recall(query, limit, scope))

    async def _arun(self, query: str, limit: int = DEFAULT_LIMIT, user_id: str | None = None,
                    agent_id: str | None = None, run_id: str | None = None,
                    runtime: Runtime = None, *, config: RunnableConfig,
                    **_: Any) -> tuple[str, list[dict[str, Any]]]:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                            runtime, config)
        return await self._toolset.bridge.arun(self._recall(query, limit, scope))


class ForgetTool(_MemoryTool):
    """Deletes one memory of the caller's scope by id. An id from another scope is
    answered exactly like an unknown id, so the tool reveals nothing about it."""

    name: str = "forget"
    description: str = FORGET_DESCRIPTION
    args_schema: type[BaseModel] = ForgetInput
    recall_name: str = Field(default="recall", description="The name of the recall tool, "
                             "which the answer to an unknown id points the model to.")

    _tool: ClassVar[str] = "forget"

    def _names(self) -> dict[str, str]:
        return {"forget": self.name, "recall": self.recall_name}

    def _run(self, memory_id: str, user_id: str | None = None, agent_id: str | None = None,
             run_id: str | None = None, runtime: Runtime = None, *,
             config: RunnableConfig, **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                            runtime, config)
        return self._toolset.bridge.run(self._toolset.forget(scope, memory_id))

    async def _arun(self, memory_id: str, user_id: str | None = None,
                    agent_id: str | None = None, run_id: str | None = None,
                    runtime: Runtime = None, *, config: RunnableConfig,
                    **_: Any) -> str:
        scope = self._scope({"user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                            runtime, config)
        return await self._toolset.bridge.arun(self._toolset.forget(scope, memory_id))


def create_memory_tools(
    memory: Any,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    names: Mapping[str, str] | None = None,
    infer: bool = True,
) -> list[BaseTool]:
    """The three memory tools, sharing one build-time scope.

    `names` renames them, e.g. `{"remember": "save_memory", "recall": "search_memory"}`.
    The ids given here are defaults; the runtime's (context, injected arguments, config)
    take precedence, key by key.
    """
    named = tool_names(names)
    common = {"memory": memory, "user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    return [
        RememberTool(name=named["remember"], infer=infer, **common),
        RecallTool(name=named["recall"], **common),
        ForgetTool(name=named["forget"], recall_name=named["recall"], **common),
    ]
