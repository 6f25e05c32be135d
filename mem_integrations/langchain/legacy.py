"""Long-term memory for legacy chains (`langchain-classic`'s `BaseMemory`), e.g.
`ConversationChain(llm=llm, memory=LongTermMemory(memory=memory, user_id="alice"))`.

New code should prefer `MemoryMiddleware` with `create_agent`, or
`MemoryChatMessageHistory` with `RunnableWithMessageHistory`.
"""

from __future__ import annotations

import contextlib
from typing import Any

try:
    from langchain_classic.base_memory import BaseMemory
except ImportError as exc:  # pragma: no cover - exercised by a test that hides the package
    raise ImportError(
        "mem_integrations.langchain.legacy needs the langchain-classic package: "
        "pip install langchain-classic"
    ) from exc

from langchain_core.messages import BaseMessage, SystemMessage
from pydantic import ConfigDict, Field, PrivateAttr

from mem_integrations._common import ScopeIds, fixed_scope, require_scope
from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.sync_memory import MemoryBridge, bridge
from mem_integrations.rendering import format_memories


class LongTermMemory(BaseMemory):
    """A legacy chain memory backed by the engine.

    `load_memory_variables` returns the memories relevant to the chain's input (one line
    each, or a system message with `return_messages=True`); `save_context` sends the
    exchange to `Memory.add`; `clear` deletes every memory of the scope.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: Any = Field(description="A mem_integrations Memory.", exclude=True)
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    memory_key: str = "history"
    input_key: str | None = None
    output_key: str | None = None
    return_messages: bool = False
    limit: int = 5
    header: str = "Relevant facts from earlier conversations:"

    _bridge: MemoryBridge = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._bridge = bridge(self.memory)
        require_scope(self._scope, "LongTermMemory")

    @property
    def _scope(self) -> ScopeIds:
        return fixed_scope(self.user_id, self.agent_id, self.run_id)

    @property
    def memory_variables(self) -> list[str]:
        return [self.memory_key]

    def _input(self, inputs: dict[str, Any]) -> str:
        if self.input_key is not None:
            return str(inputs[self.input_key])
        candidates = [k for k in inputs if k not in (self.memory_key, "stop")]
        if len(candidates) != 1:
            raise ValueError(f"cannot tell the input among {sorted(inputs)}: set input_key=")
        return str(inputs[candidates[0]])

    def _output(self, outputs: dict[str, Any]) -> str:
        if self.output_key is not None:
            return str(outputs[self.output_key])
        if len(outputs) != 1:
            raise ValueError(f"cannot tell the output among {sorted(outputs)}: set output_key=")
        return str(next(iter(outputs.values())))

    def _variables(self, items: list[Any]) -> dict[str, Any]:
        text = f"{self.header}\n{format_memories(items)}" if items else ""
        if self.return_messages:
            messages: list[BaseMessage] = [SystemMessage(content=text)] if text else []
            return {self.memory_key: messages}
        return {self.memory_key: text}

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        query = self._input(inputs)
        if not query.strip():
            return self._variables([])
        found = self._bridge.run(self._bridge.async_memory.search(query, **self._scope,
                                                                  limit=self.limit))
        return self._variables(found.results)

    async def aload_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        query = self._input(inputs)
        if not query.strip():
            return self._variables([])
        found = await self._bridge.arun(self._bridge.async_memory.search(
            query, **self._scope, limit=self.limit))
        return self._variables(found.results)

    def _exchange(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> list[dict[str, str]]:
        return [{"role": "user", "content": self._input(inputs)},
                {"role": "assistant", "content": self._output(outputs)}]

    async def _save(self, messages: list[dict[str, str]]) -> None:
        with contextlib.suppress(InvalidInputError):  # an empty exchange: nothing to remember
            await self._bridge.async_memory.add(messages, **self._scope)

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        self._bridge.run(self._save(self._exchange(inputs, outputs)))

    async def asave_context(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        await self._bridge.arun(self._save(self._exchange(inputs, outputs)))

    def clear(self) -> None:
        """Delete every memory of this scope (not only this chain's)."""
        self._bridge.run(self._bridge.async_memory.delete_all(**self._scope))

    async def aclear(self) -> None:
        await self._bridge.arun(self._bridge.async_memory.delete_all(**self._scope))
