"""The two provider roles the core needs, as protocols any adapter can implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable


@dataclass
class ChatReply:
    """A chat model's reply: the text and, when the provider reports it, token usage."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # "length" when the provider cut the reply at its token limit: the text is incomplete
    finish_reason: str | None = None


@runtime_checkable
class ChatModel(Protocol):
    """Anything that answers a list of chat messages, optionally constrained to JSON."""

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "reply",
    ) -> ChatReply:
        """Answer `messages`. With `json_schema`, ask the provider for JSON of that shape
        by whatever means it supports; the caller still parses tolerantly."""
        ...


EmbedKind = Literal["document", "query"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into dense vectors of a fixed dimension."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: list[str], kind: EmbedKind = "document") -> list[list[float]]:
        """One vector per text, in order."""
        ...
