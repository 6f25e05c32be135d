"""`POST /v1/chat/completions`: OpenAI's chat API with memory, so an application built on
an OpenAI client gets long-term memory by changing its base URL to this server's
(`http://host:port/v1`) and its API key to the server's.

The request is OpenAI's. The scope comes from the `X-User-Id` / `X-Agent-Id` / `X-Run-Id`
headers, then `user_id` / `agent_id` / `run_id` in the body (the `openai` client's
`extra_body`), then OpenAI's own `user` field as the user id. The call goes through
`mem_integrations.chat` (memories into the system message, the turn remembered in the
background) to the upstream chat model: `create_app(chat_upstream=...)`, else the
memory's own LLM settings (`llm.base_url`, `llm.api_key`, `llm.model` when the request
names no model). `stream=True` answers with server-sent events, as OpenAI does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

import openai
from fastapi import Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from mem_integrations._common import fixed_scope, merge_scopes
from mem_integrations.chat import AsyncMemoryOpenAI, AsyncRememberingStream, ChatMemory
from mem_integrations.core.errors import ConfigurationError, InvalidInputError, ProviderError
from mem_integrations.core.sync_memory import AnyMemory
from mem_integrations.server.access import Caller

CHAT_ROUTE = "/v1/chat/completions"
_OPERATION = (f"POST {CHAT_ROUTE} (send an X-User-Id, X-Agent-Id or X-Run-Id header, or "
              "OpenAI's `user` field)")


class ChatUpstream(BaseModel):
    """The chat model `POST /v1/chat/completions` forwards to."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(default=None, description="Unset: OpenAI's API.")
    api_key: SecretStr | None = None
    model: str | None = Field(default=None,
                              description="Used when a request names no model.")
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=2, ge=0)


def parse_upstream(given: ChatUpstream | Mapping[str, Any] | None) -> ChatUpstream | None:
    """`create_app(chat_upstream=...)` checked when the app is built: a typo is an error
    at startup, not at the first chat request."""
    if given is None or isinstance(given, ChatUpstream):
        return given
    try:
        return ChatUpstream.model_validate(dict(given))
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise ConfigurationError(
            f"chat_upstream has invalid or unknown settings ({fields}): it takes "
            f"{', '.join(ChatUpstream.model_fields)}") from None


def upstream_of(given: ChatUpstream | None, memory: AnyMemory) -> ChatUpstream | None:
    """The upstream to use: the one given, else the memory's LLM settings, else None (no
    chat model is configured)."""
    if given is not None:
        return given
    llm = memory.config.llm
    if llm.provider == "offline" or (llm.base_url is None and llm.api_key is None):
        return None
    return ChatUpstream(base_url=llm.base_url, api_key=llm.api_key, model=llm.model,
                        timeout=llm.timeout, max_retries=llm.max_retries)


class ChatEndpoint:
    """The state behind the route: the memory wrapper around one upstream client, built
    on first use (on the server's event loop)."""

    def __init__(self, memory: AnyMemory, upstream: ChatUpstream | None) -> None:
        self.memory = memory
        self.upstream = upstream
        self._client: AsyncMemoryOpenAI | None = None

    @property
    def client(self) -> AsyncMemoryOpenAI:
        if self.upstream is None:
            raise ConfigurationError(
                f"{CHAT_ROUTE} forwards to a chat model and none is configured: set llm.base_url "
                "/ llm.api_key in the memory's config, or pass create_app(chat_upstream="
                "{'base_url': ..., 'api_key': ..., 'model': ...})")
        if self._client is None:
            key = self.upstream.api_key.get_secret_value() if self.upstream.api_key else None
            self._client = AsyncMemoryOpenAI(self.memory, openai.AsyncOpenAI(
                base_url=self.upstream.base_url,
                # local servers (Ollama, vLLM) need no key, but the client insists on one
                api_key=key or "not-needed",
                timeout=self.upstream.timeout, max_retries=self.upstream.max_retries))
        return self._client

    @property
    def chat(self) -> ChatMemory | None:
        """The memory side of the wrapper (None before the first request)."""
        return self._client.memory if self._client is not None else None

    async def complete(self, body: dict[str, Any], headers: Mapping[str, str | None],
                       caller: Caller | None = None) -> Any:
        """One chat request; `caller` (the request's key) limits the scope to its own."""
        messages = body.pop("messages", None)
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise InvalidInputError("`messages` must be a list of message objects, as in "
                                    "OpenAI's chat API")
        ids = merge_scopes(
            fixed_scope(headers.get("user_id"), headers.get("agent_id"), headers.get("run_id")),
            fixed_scope(_str(body.pop("user_id", None)), _str(body.pop("agent_id", None)),
                        _str(body.pop("run_id", None))),
            fixed_scope(_str(body.get("user")), None, None))
        if caller is not None:
            ids = fixed_scope(**caller.scope_for(CHAT_ROUTE, **ids))
        client = self.client
        client.memory.scope_for(ids, _OPERATION)
        if self.upstream is not None and self.upstream.model and not body.get("model"):
            body["model"] = self.upstream.model
        try:
            response = await client.chat.completions.create(messages=messages, **ids, **body)
        except openai.APIStatusError as exc:
            return _upstream_error(exc)
        except openai.APIError as exc:
            raise ProviderError(f"the upstream chat model failed: {exc}") from exc
        if isinstance(response, AsyncRememberingStream):
            return StreamingResponse(_events(response), media_type="text/event-stream")
        return response.model_dump(mode="json", exclude_unset=True)

    async def aclose(self) -> None:
        """Let the background adds finish, then close the upstream client."""
        if self._client is not None:
            await self._client.await_all()
            await self._client.client.close()


async def chat_completions(
    request: Request,
    x_user_id: Annotated[str | None, Header(description="The user whose memory to use.")] = None,
    x_agent_id: Annotated[str | None, Header()] = None,
    x_run_id: Annotated[str | None, Header()] = None,
) -> Any:
    """OpenAI's chat completions with the scope's memories (the route's handler)."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInputError("the body must be a JSON object: an OpenAI chat request")
    endpoint: ChatEndpoint = request.app.state.chat
    return await endpoint.complete(body, {"user_id": x_user_id, "agent_id": x_agent_id,
                                          "run_id": x_run_id}, request.state.caller)


async def _events(stream: AsyncRememberingStream) -> AsyncIterator[str]:
    """A stream as OpenAI's server-sent events. A failure mid-stream, after the status
    was sent, is an `error` event, which the `openai` client raises as an APIError."""
    try:
        async for chunk in stream:
            yield f"data: {chunk.model_dump_json(exclude_unset=True)}\n\n"
    except openai.APIError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'upstream'}})}\n\n"
        return
    yield "data: [DONE]\n\n"


def _upstream_error(exc: openai.APIStatusError) -> JSONResponse:
    # the upstream's 4xx is the caller's mistake (unknown model, bad argument): pass it on;
    # its 5xx is a failure of the provider behind this server
    status = exc.status_code if 400 <= exc.status_code < 500 else 502
    return JSONResponse(status_code=status, content={
        "detail": f"the upstream chat model answered {exc.status_code}: {exc.message}",
        "error": "UpstreamError"})


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
