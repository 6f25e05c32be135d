"""`remember`, `recall` and `forget` as LlamaIndex `FunctionTool`s, scoped by the app.

    from mem_integrations.llamaindex import memory_tools

    agent = FunctionAgent(tools=memory_tools(Memory(), user_id=current_user), llm=llm)

The scope (user_id, agent_id, run_id) is bound through `partial_params`: it is not in the
tools' JSON schema, so the model never sees or chooses it, and a model that sends a
`user_id` anyway is ignored — the bound value always wins. `forget` only deletes memories
of the bound scope, whatever id the model passes.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.tools import FunctionTool, ToolOutput

from mem_integrations.core.errors import InvalidInputError, MemoryNotFoundError
from mem_integrations.core.models import MemoryItem
from mem_integrations.llamaindex._bridge import AnyMemory, BoundScope, Engine
from mem_integrations.rendering import describe_add, describe_recall

SCOPE_PARAMS = ("user_id", "agent_id", "run_id")

REMEMBER_DESCRIPTION = (
    "Save information to long-term memory so it is available in later conversations: "
    "facts about the user, preferences, plans, standing instructions. Pass one short, "
    "self-contained statement. Memories that contradict or refine it are updated.")
RECALL_DESCRIPTION = (
    "Search long-term memory for what is known that is relevant to a query. Returns one "
    "memory per line with its id in brackets.")
FORGET_DESCRIPTION = (
    "Delete one memory from long-term memory, by the id shown in brackets by recall. Use "
    "it when the user asks to forget something or a memory is wrong.")


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
    infer: bool = True,
    metadata: dict[str, Any] | None = None,
    name_prefix: str = "",
) -> list[FunctionTool]:
    """The tools `remember`, `recall` and `forget` for one scope (at least one id).

    `limit` caps what `recall` returns; `infer` and `metadata` are passed to `add` by
    `remember` (with `infer=True` the statement goes through extraction and reconcile,
    so it updates what it contradicts). `name_prefix` tells apart two sets of tools in
    one agent (say, "user_" and "team_").
    """
    scope = BoundScope.of("memory_tools", user_id=user_id, agent_id=agent_id, run_id=run_id)
    engine = Engine(memory)
    # Every scope parameter is bound (unset ones to None) so none appears in the schema.
    bound: dict[str, Any] = {key: getattr(scope, key) for key in SCOPE_PARAMS}

    def ids(user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, str]:
        return {k: v for k, v in (("user_id", user_id), ("agent_id", agent_id),
                                  ("run_id", run_id)) if v is not None}

    async def remember(text: str, user_id: str | None = None, agent_id: str | None = None,
                       run_id: str | None = None) -> str:
        """Save a statement to long-term memory."""
        if not text or not text.strip():
            return "Nothing to remember: the text is empty."
        result = await engine.acall("add", [{"role": "user", "content": text}],
                                    infer=infer, metadata=metadata,
                                    **ids(user_id, agent_id, run_id))
        return describe_add(result)

    async def recall(query: str, user_id: str | None = None, agent_id: str | None = None,
                     run_id: str | None = None) -> str:
        """Search long-term memory."""
        if not query or not query.strip():
            return "Nothing to search for: the query is empty."
        result = await engine.acall("search", query, limit=limit,
                                    **ids(user_id, agent_id, run_id))
        return describe_recall(result)

    async def forget(memory_id: str, user_id: str | None = None,
                     agent_id: str | None = None, run_id: str | None = None) -> str:
        """Delete one memory of this scope by id."""
        owner = BoundScope(**ids(user_id, agent_id, run_id))
        try:
            item: MemoryItem = await engine.acall("get", memory_id)
        except (MemoryNotFoundError, InvalidInputError):
            item = None  # type: ignore[assignment]
        if item is None or not owner.contains(item):
            return f"No memory with id {memory_id!r} to forget."
        await engine.acall("delete", item.id)
        return f"Forgot: {item.memory}"

    specs = ((remember, REMEMBER_DESCRIPTION), (recall, RECALL_DESCRIPTION),
             (forget, FORGET_DESCRIPTION))
    return [ScopedFunctionTool.from_defaults(async_fn=fn, name=f"{name_prefix}{fn.__name__}",
                                             description=description, partial_params=bound)
            for fn, description in specs]
