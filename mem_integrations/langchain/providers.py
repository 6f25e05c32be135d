"""LangChain chat models and embeddings as the engine's LLM and embedder.

    from langchain_openai import ChatOpenAI
    memory = Memory(chat_model=LangChainChatModel(ChatOpenAI(model="gpt-4.1-mini")),
                    embedder=LangChainEmbedder(OllamaEmbeddings(model="nomic-embed-text")))

The chat model is asked for structured output (`with_structured_output`) when it
supports it, and for plain text otherwise; the engine's prompts state the JSON shape and
its parser is tolerant, so both work.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages
from langchain_core.runnables import Runnable

from mem_integrations.core.errors import ConfigurationError, ProviderError
from mem_integrations.core.providers.base import BaseEmbedder, ChatReply, EmbedKind

log = logging.getLogger(__name__)

StructuredMode = Literal["auto", "none"]


class LangChainChatModel:
    """Any LangChain `BaseChatModel` (ChatOpenAI, ChatOllama, ChatAnthropic...) as the
    engine's `ChatModel`.

    Args:
        model: the chat model.
        structured_output: "auto" (default) uses `with_structured_output(json_schema,
            include_raw=True)` when the model implements it, falling back to plain text
            for good if the model refuses; "none" always asks for plain text.
        method: passed to `with_structured_output` ("json_schema", "function_calling",
            "json_mode"); None keeps the model's default.
    """

    def __init__(self, model: BaseChatModel, *, structured_output: StructuredMode = "auto",
                 method: str | None = None) -> None:
        if not isinstance(model, BaseChatModel):
            raise ConfigurationError(
                f"expected a LangChain BaseChatModel, got {type(model).__name__}")
        self.model = model
        self.method = method
        self._structured = structured_output == "auto"
        self._runnables: dict[str, Runnable[Any, Any]] = {}

    def __repr__(self) -> str:
        return f"LangChainChatModel({type(self.model).__name__})"

    def _structured_runnable(self, schema: dict[str, Any], name: str) -> Runnable[Any, Any]:
        if name not in self._runnables:
            # LangChain names the schema (a function or response format) by its title.
            titled = {"title": name, "description": f"The {name} reply.", **schema}
            kwargs: dict[str, Any] = {"include_raw": True}
            if self.method:
                kwargs["method"] = self.method
            self._runnables[name] = self.model.with_structured_output(titled, **kwargs)
        return self._runnables[name]

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "reply",
    ) -> ChatReply:
        prompt = convert_to_messages(messages)
        if json_schema is not None and self._structured:
            try:
                runnable = self._structured_runnable(json_schema, schema_name)
                output = await runnable.ainvoke(prompt)
                return _structured_reply(output)
            except NotImplementedError:
                log.info("%s has no structured output; asking for plain JSON text",
                         type(self.model).__name__)
                self._structured = False
            except Exception as exc:  # providers raise their own error types
                log.warning("structured output failed with %s (%s); retrying as plain text",
                            type(self.model).__name__, exc)
                reply = await self._plain(prompt)
                self._structured = False  # plain text worked: keep using it
                return reply
        return await self._plain(prompt)

    async def _plain(self, prompt: list[BaseMessage]) -> ChatReply:
        try:
            message = await self.model.ainvoke(prompt)
        except Exception as exc:
            raise ProviderError(f"LangChain chat model {type(self.model).__name__} "
                                f"failed: {exc}") from exc
        return _reply(message, message.text)


def _structured_reply(output: Any) -> ChatReply:
    """A reply from `with_structured_output(include_raw=True)`: the parsed object as JSON
    text, or the raw text (or tool-call arguments) for the engine's tolerant parser."""
    raw = output.get("raw") if isinstance(output, dict) else None
    parsed = output.get("parsed") if isinstance(output, dict) else output
    if parsed is not None:
        if hasattr(parsed, "model_dump"):
            parsed = parsed.model_dump()
        text = json.dumps(parsed, ensure_ascii=False)
    elif isinstance(raw, AIMessage) and raw.tool_calls:
        text = json.dumps(raw.tool_calls[0]["args"], ensure_ascii=False)
    else:
        text = raw.text if isinstance(raw, BaseMessage) else ""
    return _reply(raw, text)


def _reply(message: Any, text: str) -> ChatReply:
    usage = getattr(message, "usage_metadata", None) or {}
    return ChatReply(text=str(text), prompt_tokens=usage.get("input_tokens"),
                     completion_tokens=usage.get("output_tokens"))


class LangChainEmbedder(BaseEmbedder):
    """Any LangChain `Embeddings` (OpenAIEmbeddings, OllamaEmbeddings, HuggingFace...) as
    the engine's `Embedder`.

    The collection records the embedder's `model_name` and refuses another one later, so
    the name must be stable: by default it is the class name plus the model attribute
    (`model` or `model_name`). The dimension is probed with one embedding on first use
    unless given.
    """

    def __init__(self, embeddings: Embeddings, *, model_name: str | None = None,
                 dimension: int | None = None) -> None:
        if not isinstance(embeddings, Embeddings):
            raise ConfigurationError(
                f"expected a LangChain Embeddings, got {type(embeddings).__name__}")
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        super().__init__(model_name or f"langchain:{type(embeddings).__name__}" + (
            f":{model}" if isinstance(model, str) and model else ""), dimension)
        self.embeddings = embeddings

    async def _embed(self, texts: list[str], kind: EmbedKind) -> list[list[float]]:
        try:
            if kind == "query":
                # Some models embed queries differently (instruction prefixes, e.g. nomic).
                return list(await asyncio.gather(
                    *(self.embeddings.aembed_query(t) for t in texts)))
            return await self.embeddings.aembed_documents(texts)
        except Exception as exc:
            raise ProviderError(f"LangChain embeddings {type(self.embeddings).__name__} "
                                f"failed: {exc}") from exc
