"""A fake chat model for agents: LangChain's `GenericFakeChatModel`, bindable to tools,
recording every prompt it is sent."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import Field


class FakeToolModel(GenericFakeChatModel):
    """`GenericFakeChatModel` that agents can bind tools to; keeps every prompt it got."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> FakeToolModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def fake_model(*replies: AIMessage | str) -> FakeToolModel:
    """A model that answers with `replies`, in order."""
    return FakeToolModel(messages=iter(replies))


def tool_call(name: str, call_id: str = "call_1", **args: Any) -> AIMessage:
    """An assistant message that calls one tool."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id,
                                               "type": "tool_call"}])
