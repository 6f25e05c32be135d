"""LlamaIndex LLMs and embedding models as the engine's chat model and embedder.

    from llama_index.llms.openai import OpenAI
    from llama_index.embeddings.openai import OpenAIEmbedding
    from mem_integrations import Memory
    from mem_integrations.llamaindex import LlamaIndexChatModel, LlamaIndexEmbedder

    memory = Memory(chat_model=LlamaIndexChatModel(OpenAI(model="gpt-4.1-mini")),
                    embedder=LlamaIndexEmbedder(OpenAIEmbedding()))

Any `llama_index.core.llms.LLM` works (chat or completion models: LlamaIndex adapts
them); the engine's prompts state the JSON they expect, so no structured-output support
is needed. Any `llama_index.core.base.embeddings.base.BaseEmbedding` works as embedder.

The blocking `Memory` runs the engine on its own event loop. An LLM object that caches an
async HTTP client (most do) and is also used by your agent on another loop can then fail
with "bound to a different event loop"; so by default these adapters call the models'
blocking methods in a worker thread, which is safe on any loop. Pass `use_async=True`
when the model is used from one event loop only (say, with `AsyncMemory`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.llms import LLM

from mem_integrations.core.errors import ConfigurationError, ProviderError
from mem_integrations.core.providers.base import BaseEmbedder, ChatReply, EmbedKind

_ROLES = {"system", "user", "assistant", "tool", "developer"}


def _usage(response: ChatResponse) -> tuple[int | None, int | None]:
    """Token counts, where the LLM integration reports them (additional_kwargs or raw)."""
    kwargs = response.additional_kwargs or {}
    if "prompt_tokens" in kwargs or "completion_tokens" in kwargs:
        return kwargs.get("prompt_tokens"), kwargs.get("completion_tokens")
    raw = response.raw
    usage = raw.get("usage") if isinstance(raw, Mapping) else getattr(raw, "usage", None)
    if usage is None:
        return None, None

    def read(name: str) -> int | None:
        value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)
        return value if isinstance(value, int) else None

    return (read("prompt_tokens") or read("input_tokens"),
            read("completion_tokens") or read("output_tokens"))


class LlamaIndexChatModel:
    """Any LlamaIndex `LLM` as the engine's `ChatModel` (extraction and reconcile)."""

    def __init__(self, llm: LLM, *, use_async: bool = False, **chat_kwargs: Any) -> None:
        """`chat_kwargs` are passed to every `chat` call (for example `temperature=0`
        where the integration accepts it)."""
        if not isinstance(llm, LLM):
            raise ConfigurationError(f"expected a LlamaIndex LLM, got {type(llm).__name__}")
        self.llm = llm
        self.use_async = use_async
        self.chat_kwargs = chat_kwargs

    def __repr__(self) -> str:
        return f"LlamaIndexChatModel({type(self.llm).__name__})"

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "reply",
    ) -> ChatReply:
        """Ask the LLM; `json_schema` is already stated in the engine's prompt."""
        chat = [ChatMessage(role=m["role"] if m["role"] in _ROLES else "user",
                            content=m["content"]) for m in messages]
        try:
            if self.use_async:
                response = await self.llm.achat(chat, **self.chat_kwargs)
            else:
                response = await asyncio.to_thread(self.llm.chat, chat, **self.chat_kwargs)
        except Exception as exc:  # any integration's error: typed, messages kept by add
            raise ProviderError(f"LlamaIndex LLM {type(self.llm).__name__} failed: "
                                f"{type(exc).__name__}: {exc}") from exc
        prompt_tokens, completion_tokens = _usage(response)
        return ChatReply(text=response.message.content or "", prompt_tokens=prompt_tokens,
                         completion_tokens=completion_tokens)


def _default_name(embed_model: BaseEmbedding) -> str:
    """The model's own name, so that the same model through another provider (say
    sentence-transformers directly) matches the collection; the integration's class name
    when the model has no real name."""
    name = (embed_model.model_name or "").strip()
    return name if name and name != "unknown" else f"llamaindex:{embed_model.class_name()}"


class LlamaIndexEmbedder(BaseEmbedder):
    """Any LlamaIndex `BaseEmbedding` as the engine's `Embedder`.

    The model's name and dimension are recorded with the collection, and a different
    model on the same collection is refused (`EmbeddingMismatchError`). The name is the
    model's own (`model_name=` overrides it); give `dimension=` when you know it, or it is
    measured with one embedding call.
    """

    def __init__(self, embed_model: BaseEmbedding, *, dimension: int | None = None,
                 model_name: str | None = None, use_async: bool = False) -> None:
        if not isinstance(embed_model, BaseEmbedding):
            raise ConfigurationError(
                f"expected a LlamaIndex BaseEmbedding, got {type(embed_model).__name__}")
        super().__init__(model_name or _default_name(embed_model), dimension)
        self.embed_model = embed_model
        self.use_async = use_async

    async def _embed(self, texts: list[str], kind: EmbedKind) -> list[list[float]]:
        model = self.embed_model
        try:
            if kind == "query":
                if self.use_async:
                    return list(await asyncio.gather(
                        *(model.aget_query_embedding(t) for t in texts)))
                return await asyncio.to_thread(
                    lambda: [model.get_query_embedding(t) for t in texts])
            if self.use_async:
                return await model.aget_text_embedding_batch(texts)
            return await asyncio.to_thread(model.get_text_embedding_batch, texts)
        except Exception as exc:
            raise ProviderError(f"LlamaIndex embedding {self.model_name} failed: "
                                f"{type(exc).__name__}: {exc}") from exc
