"""Any OpenAI-compatible chat endpoint (OpenAI, Azure, DeepSeek, Ollama, vLLM, Groq...)."""

from __future__ import annotations

import logging
from typing import Any

import openai

from mem_integrations.core.config import LLMConfig
from mem_integrations.core.errors import ConfigurationError, ProviderError
from mem_integrations.core.providers.base import ChatReply, provider_failure

log = logging.getLogger(__name__)

_MODES = ("json_schema", "json_object", "none")


class OpenAIChatModel:
    """Chat completions through the `openai` package, with its own base_url and api_key.

    Timeouts, 429 and 5xx are retried by the client with exponential backoff
    (`max_retries`). When the endpoint rejects `response_format=json_schema`, the model
    falls back to `json_object` and then to plain text, once, and remembers it.
    """

    def __init__(self, config: LLMConfig, client: openai.AsyncOpenAI | None = None) -> None:
        self.config = config
        self._mode = config.structured_output
        if client is None:
            api_key = config.api_key.get_secret_value() if config.api_key else None
            if not api_key and not config.base_url:
                raise ConfigurationError(
                    "the openai LLM needs an api_key (or OPENAI_API_KEY) or a base_url"
                )
            client = openai.AsyncOpenAI(
                api_key=api_key or "not-needed",  # local servers (Ollama, vLLM) take any key
                base_url=config.base_url,
                timeout=config.timeout,
                max_retries=config.max_retries,
            )
        self._client = client

    async def aclose(self) -> None:
        await self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIChatModel(model={self.config.model!r}, base_url={self.config.base_url!r})"

    def _response_format(self, schema: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
        if schema is None or self._mode == "none":
            return None
        if self._mode == "json_object":
            return {"type": "json_object"}
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "reply",
    ) -> ChatReply:
        while True:
            kwargs: dict[str, Any] = {"model": self.config.model, "messages": messages,
                                      "temperature": self.config.temperature}
            if self.config.max_tokens:
                kwargs["max_tokens"] = self.config.max_tokens
            response_format = self._response_format(json_schema, schema_name)
            if response_format:
                kwargs["response_format"] = response_format
            try:
                response = await self._client.chat.completions.create(**kwargs)
            except openai.BadRequestError as exc:
                reason = str(exc).lower()
                if response_format and ("response_format" in reason or "json" in reason):
                    self._mode = _MODES[_MODES.index(self._mode) + 1]
                    log.warning("LLM endpoint rejected structured output; using %s", self._mode)
                    continue
                raise ProviderError(f"LLM request rejected: {exc}") from exc
            except openai.OpenAIError as exc:
                raise ProviderError(
                    provider_failure("LLM call", exc, self.config.max_retries)
                ) from exc
            choice = response.choices[0] if response.choices else None
            text = (choice.message.content if choice and choice.message else None) or ""
            usage = response.usage
            return ChatReply(
                text=text,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                finish_reason=choice.finish_reason if choice else None,
            )
