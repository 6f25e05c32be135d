"""Helpers for the LlamaIndex adapter tests: storing memories verbatim, and a scripted
function-calling model built on LlamaIndex's own `MockFunctionCallingLLM`."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, TextBlock, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM

from mem_integrations import Memory


def store(memory: Memory, texts: list[str], **scope: str) -> list[str]:
    """Store texts verbatim (no extraction); their ids in order."""
    result = memory.add([{"role": "user", "content": t} for t in texts], infer=False, **scope)
    return [event.id for event in result.results]


@dataclass
class ToolCall:
    """A scripted step: the model asks for one tool."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


Step = str | ToolCall | Callable[[list[ChatMessage]], "str | ToolCall"]


def text_of(message: ChatMessage) -> str:
    return "".join(b.text for b in message.blocks if isinstance(b, TextBlock))


class ScriptedAgentLLM:
    """Plays a function-calling model from a script, one step per LLM call.

    A step is the assistant's final text, a `ToolCall`, or a function of the messages the
    model was sent (to answer from a tool result or the system prompt). Every call's
    messages (as role/text pairs) and tool schemas are recorded.
    """

    _ids = itertools.count()

    def __init__(self, *steps: Step) -> None:
        self.steps: deque[Step] = deque(steps)
        self.seen: list[list[tuple[str, str]]] = []
        self.tool_schemas: list[dict[str, dict[str, Any]]] = []

    def __call__(self, messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.seen.append([(str(getattr(m.role, "value", m.role)), text_of(m)) for m in messages])
        self.tool_schemas.append({t.metadata.name: t.metadata.get_parameters_dict()
                                  for t in kwargs.get("tools") or []})
        if not self.steps:
            raise AssertionError("the scripted LLM was called more often than scripted")
        step = self.steps.popleft()
        if callable(step) and not isinstance(step, ToolCall):
            step = step(list(messages))
        if isinstance(step, ToolCall):
            call = ToolCallBlock(tool_call_id=f"call-{next(self._ids)}", tool_name=step.name,
                                 tool_kwargs=step.kwargs)
            return ChatMessage(role="assistant", blocks=[call])
        return ChatMessage(role="assistant", content=step)

    def llm(self) -> MockFunctionCallingLLM:
        return MockFunctionCallingLLM(response_generator=self)

    def system_text(self, call: int) -> str:
        """All system text the model was sent in call number `call`."""
        return "\n".join(text for role, text in self.seen[call] if role == "system")

    def done(self) -> bool:
        return not self.steps


def last_tool_result(messages: list[ChatMessage]) -> str:
    return next(text_of(m) for m in reversed(messages)
                if str(getattr(m.role, "value", m.role)) == "tool")
