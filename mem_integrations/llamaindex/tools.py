"""`remember`, `recall` and `forget` as LlamaIndex `FunctionTool`s, scoped by the app.

    from mem_integrations.llamaindex import memory_tools

    agent = FunctionAgent(tools=memory_tools(Memory(), user_id=current_user), llm=llm)

The scope (user_id, agent_id, run_id) is bound through `partial_params`: it is not in the
tools' JSON schema, so the model never sees or chooses it, and a model that sends a
`user_id` anyway is ignored — the bound value always wins. `forget` only deletes memories
of the bound scope, whatever id the model passes.
"""

# No `from __future__ import annotations`: LlamaIndex reads the argument descriptions from
# the tools' `Annotated` hints at runtime, and they refer to `memory_tools`' locals.
from typing import Annotated, Any

from llama_index.core.tools import FunctionTool, ToolOutput

from mem_integrations.core.scope import SCOPE_KEYS, Scope
from mem_integrations.core.sync_memory import AnyMemory
from mem_integrations.tools import (
    FACT_DESCRIPTION,
    FORGET_DESCRIPTION,
    MAX_LIMIT,
    MEMORY_ID_DESCRIPTION,
    QUERY_DESCRIPTION,
    RECALL_DESCRIPTION,
    REMEMBER_DESCRIPTION,
    TOOL_NAMES,
    MemoryToolset,
    limit_description,
)


class ScopedFunctionTool(FunctionTool):
    """A `FunctionTool` whose `partial_params` cannot be overridden by the caller.

    `FunctionTool` lets call arguments replace partial parameters; for a scope that
    would let the model read or write another user's memories by sending `user_id`.
    Here arguments named like a partial parameter are dropped before the call.
    """

    def _without_bound(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in kwargs.items() if k not in self.partial_params}

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return super().call(*args, **self._without_bound(kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return await super().acall(*args, **self._without_bound(kwargs))


def memory_tools(
    memory: AnyMemory,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    limit: int = 5,
    max_limit: int = MAX_LIMIT,
    infer: bool = True,
    metadata: dict[str, Any] | None = None,
    name_prefix: str = "",
    dates: bool = False,
) -> list[FunctionTool]:
    """The tools `remember`, `recall` and `forget` for one scope (at least one id).

    `limit` is how many memories `recall` returns unless the model asks for another
    number (up to `max_limit`); `infer` and `metadata` are passed to `add` by `remember`
    (with `infer=True` the fact goes through extraction and reconcile, so it updates what
    it contradicts). `name_prefix` tells apart two sets of tools in one agent (say,
    "user_" and "team_"). `dates`: `recall` says when each fact became true.

    What the tools do, and how they answer, is `mem_integrations.tools.MemoryToolset`'s;
    an unusable argument raises its `ToolArgumentError`, which LlamaIndex agents show the
    model.
    """
    scope = Scope.of("memory_tools", user_id=user_id, agent_id=agent_id, run_id=run_id)
    toolset = MemoryToolset(memory, infer=infer, metadata=metadata, limit=limit,
                            max_limit=max_limit, dates=dates,
                            names={tool: f"{name_prefix}{tool}" for tool in TOOL_NAMES})
    # Every scope parameter is bound (unset ones to None) so none appears in the schema.
    bound: dict[str, Any] = {key: getattr(scope, key) for key in SCOPE_KEYS}

    def scope_of(user_id: str | None, agent_id: str | None, run_id: str | None
                 ) -> dict[str, str | None]:
        return {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}

    async def remember(fact: Annotated[str, FACT_DESCRIPTION], user_id: str | None = None,
                       agent_id: str | None = None, run_id: str | None = None) -> str:
        return await toolset.remember(scope_of(user_id, agent_id, run_id), fact)

    async def recall(query: Annotated[str, QUERY_DESCRIPTION],
                     limit: Annotated[int | None, limit_description(limit, max_limit)] = None,
                     user_id: str | None = None, agent_id: str | None = None,
                     run_id: str | None = None) -> str:
        text, _ = await toolset.recall(scope_of(user_id, agent_id, run_id), query, limit)
        return text

    async def forget(memory_id: Annotated[str, MEMORY_ID_DESCRIPTION],
                     user_id: str | None = None, agent_id: str | None = None,
                     run_id: str | None = None) -> str:
        return await toolset.forget(scope_of(user_id, agent_id, run_id), memory_id)

    specs = ((remember, REMEMBER_DESCRIPTION), (recall, RECALL_DESCRIPTION),
             (forget, FORGET_DESCRIPTION))
    return [ScopedFunctionTool.from_defaults(async_fn=fn, name=toolset.names[fn.__name__],
                                             description=description, partial_params=bound)
            for fn, description in specs]
