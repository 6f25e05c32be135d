"""The REST server: every memory operation over HTTP, with OpenAPI docs at /docs.

    from mem_integrations.server import create_app
    app = create_app({"data_dir": "./mem"}, api_key="s3cret")     # uvicorn module:app

or `mem-integrations serve --api-key s3cret`. Paths follow mem0's REST server (POST
/memories, POST /search, GET /memories/{id}/history, ...), so its clients keep working.

* One `AsyncMemory` per app, opened in the lifespan and closed at shutdown (when the
  app built it; a memory passed in belongs to the caller).
* With an API key set, every route but /health and the docs needs `X-API-Key: <key>`
  or `Authorization: Bearer <key>` (401 otherwise); keys are compared in constant time.
* Bodies over `max_body_bytes` get 413 before they are read into memory.
* Errors are JSON `{"detail": "...", "error": "<type>"}`: 400 bad input (no scope,
  empty message, malformed filter, bad id), 422 a body of the wrong shape, 404 unknown
  memory, 502 the LLM or embedding provider failed (with `pending_id` when the messages
  were kept for `POST /pending/{id}/reprocess`), 503 a store is unavailable.
* `POST /v1/chat/completions` is OpenAI's chat API with memory (`server.chat`): point an
  OpenAI client's base URL at `http://host:port/v1`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import (
    ConfigurationError,
    InvalidInputError,
    MemoryLayerError,
    MemoryNotFoundError,
    ProviderError,
    StoreError,
)
from mem_integrations.core.models import (
    AddResult,
    HistoryEntry,
    MemoryItem,
    MessageResult,
    PendingAdd,
    SearchResult,
    UsersResult,
)
from mem_integrations.core.sync_memory import Memory, MemoryBridge, bridge
from mem_integrations.server.chat import (
    CHAT_ROUTE,
    ChatEndpoint,
    ChatUpstream,
    chat_completions,
    parse_upstream,
    upstream_of,
)
from mem_integrations.server.schemas import (
    AddRequest,
    ErrorBody,
    HealthBody,
    SearchRequest,
    UpdateRequest,
)
from mem_integrations.server.security import (
    API_KEY_HEADER,
    DEFAULT_MAX_BODY_BYTES,
    UNAUTHORIZED,
    APIKeys,
    BodySizeLimitMiddleware,
    keys_from_text,
)

log = logging.getLogger(__name__)

MemorySource = AsyncMemory | Memory | MemoryConfig | dict[str, Any] | str | Path | None

_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                               description="The server's API key.")
_bearer = HTTPBearer(auto_error=False, description="The server's API key as a bearer token.")


class _Unauthorized(Exception):
    pass


class _FromEnv:
    def __repr__(self) -> str:
        return "MEMINT_API_KEY"


FROM_ENV = _FromEnv()


def _bridge_of(request: Request) -> MemoryBridge:
    return request.app.state.bridge


# The app's memory, whichever facade it is (`bridge` runs its coroutines where it lives).
# Module level: routes' annotations are resolved in this module's namespace.
Served = Annotated[MemoryBridge, Depends(_bridge_of)]


def _error(status: int, exc: BaseException, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status,
                        content={"detail": str(exc), "error": type(exc).__name__, **extra})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(_Unauthorized)
    async def unauthorized(_: Request, __: _Unauthorized) -> JSONResponse:
        return JSONResponse(status_code=401, content=UNAUTHORIZED,
                            headers={"WWW-Authenticate": 'Bearer realm="mem-integrations"'})

    @app.exception_handler(InvalidInputError)
    async def invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        return _error(400, exc)

    @app.exception_handler(MemoryNotFoundError)
    async def not_found(_: Request, exc: MemoryNotFoundError) -> JSONResponse:
        return _error(404, exc)

    @app.exception_handler(ProviderError)
    async def provider(_: Request, exc: ProviderError) -> JSONResponse:
        log.warning("provider error: %s", exc)
        return _error(502, exc, pending_id=exc.pending_id)

    @app.exception_handler(StoreError)
    async def store(_: Request, exc: StoreError) -> JSONResponse:
        log.error("store error: %s", exc)
        return _error(503, exc)

    @app.exception_handler(ConfigurationError)
    async def configuration(_: Request, exc: ConfigurationError) -> JSONResponse:
        log.error("configuration error: %s", exc)
        return _error(500, exc)

    @app.exception_handler(MemoryLayerError)
    async def other(_: Request, exc: MemoryLayerError) -> JSONResponse:
        log.error("memory error: %s", exc)
        return _error(500, exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(status_code=500, content={"detail": "internal server error",
                                                      "error": "InternalServerError"})


def _parse_filters(raw: str | None) -> dict[str, Any] | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInputError(f"filters must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInputError("filters must be a JSON object")
    return value


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid input (no scope id, empty message, "
                                             "malformed filter, bad id)"},
    401: {"model": ErrorBody, "description": "Missing or invalid API key"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    502: {"model": ErrorBody, "description": "The LLM or embedding provider failed"},
    503: {"model": ErrorBody, "description": "A store is unavailable"},
}


def create_app(
    memory: MemorySource = None,
    *,
    api_key: str | Iterable[str] | None | _FromEnv = FROM_ENV,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    allow_reset: bool = True,
    close_memory: bool | None = None,
    title: str = "mem-integrations",
    chat_upstream: ChatUpstream | dict[str, Any] | None = None,
    **memory_parts: Any,
) -> FastAPI:
    """The FastAPI app.

    `memory` is an `AsyncMemory` or `Memory` to serve, or a config (dict, `MemoryConfig`,
    JSON/TOML path, or None for the defaults and the environment) from which the app
    builds an `AsyncMemory` at startup; `memory_parts` (`embedder=`, `chat_model=`...)
    are passed to it. `api_key` (one or several) turns authentication on; by default it
    is read from `MEMINT_API_KEY` (several keys separated by commas), and `None` turns
    authentication off. So `uvicorn --factory mem_integrations.server:create_app` serves
    the configured memory behind the key from the environment.
    `allow_reset=False` refuses `POST /reset` with 403. `close_memory` defaults to
    closing only a memory the app built. `chat_upstream` (`base_url`, `api_key`,
    `model`...) is the chat model `POST /v1/chat/completions` forwards to; by default the
    memory's own LLM.
    """
    from mem_integrations import __version__

    if isinstance(api_key, _FromEnv):
        api_key = keys_from_text(os.environ.get("MEMINT_API_KEY"))
    keys = APIKeys(api_key)
    if not keys.enabled:
        log.warning("no API key set: anyone who can reach this server can read and change "
                    "every memory")
    given = memory if isinstance(memory, (AsyncMemory, Memory)) else None
    if given is not None and memory_parts:
        raise TypeError("memory parts (embedder=, ...) only apply when the app builds the memory")
    should_close = close_memory if close_memory is not None else given is None
    upstream = parse_upstream(chat_upstream)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = given
        if built is None:
            built = await asyncio.to_thread(AsyncMemory, memory, **memory_parts)
        app.state.memory = built
        app.state.bridge = bridge(built)
        app.state.chat = ChatEndpoint(built, upstream_of(upstream, built))
        try:
            yield
        finally:
            await app.state.chat.aclose()  # remember the turns in flight before closing
            if should_close:
                if isinstance(built, Memory):
                    await asyncio.to_thread(built.close)
                else:
                    await built.close()

    async def authenticate(
        api_key_value: Annotated[str | None, Depends(_api_key_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        given_key = api_key_value or (bearer.credentials if bearer else None)
        if not keys.check(given_key):
            raise _Unauthorized()

    router = APIRouter(dependencies=[Depends(authenticate)] if keys.enabled else [],
                       responses=ERRORS)

    @router.post("/memories", response_model=AddResult, tags=["memories"],
                 summary="Add memories from messages")
    async def add(body: AddRequest, served: Served) -> Any:
        result = await served.arun(served.async_memory.add(
            body.messages, user_id=body.user_id, agent_id=body.agent_id, run_id=body.run_id,
            metadata=body.metadata, infer=body.infer, memory_type=body.memory_type,
            prompt=body.prompt))
        return result.model_dump(mode="json")

    @router.get("/memories", response_model=SearchResult, tags=["memories"],
                summary="List a scope's memories, newest first")
    async def list_memories(
        served: Served,
        user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
        filters: Annotated[str | None, Query(description="A JSON filter object, e.g. "
                                                          '{"topic": "travel"}')] = None,
    ) -> Any:
        result = await served.arun(served.async_memory.get_all(
            user_id=user_id, agent_id=agent_id, run_id=run_id, filters=_parse_filters(filters),
            limit=limit))
        return result.model_dump(mode="json")

    @router.delete("/memories", response_model=MessageResult, tags=["memories"],
                   summary="Delete every memory of a scope (a scope id is required)")
    async def delete_all(served: Served, user_id: str | None = None, agent_id: str | None = None,
                         run_id: str | None = None) -> Any:
        result = await served.arun(served.async_memory.delete_all(
            user_id=user_id, agent_id=agent_id, run_id=run_id))
        return result.model_dump(mode="json")

    @router.get("/memories/{memory_id}", response_model=MemoryItem, tags=["memories"],
                summary="Get one memory", responses={404: {"model": ErrorBody}})
    async def get(memory_id: str, served: Served) -> Any:
        return (await served.arun(served.async_memory.get(memory_id))).model_dump(mode="json")

    @router.put("/memories/{memory_id}", response_model=MessageResult, tags=["memories"],
                summary="Change a memory's text and/or metadata",
                responses={404: {"model": ErrorBody}})
    async def update(memory_id: str, body: UpdateRequest, served: Served) -> Any:
        result = await served.arun(served.async_memory.update(
            memory_id, text=body.text, metadata=body.metadata))
        return result.model_dump(mode="json")

    @router.delete("/memories/{memory_id}", response_model=MessageResult, tags=["memories"],
                   summary="Delete one memory (its history is kept)",
                   responses={404: {"model": ErrorBody}})
    async def delete(memory_id: str, served: Served) -> Any:
        return (await served.arun(served.async_memory.delete(memory_id))).model_dump(mode="json")

    @router.get("/memories/{memory_id}/history", response_model=list[HistoryEntry],
                tags=["memories"], summary="Every change to a memory, oldest first")
    async def history(memory_id: str, served: Served) -> Any:
        entries = await served.arun(served.async_memory.history(memory_id))
        return [e.model_dump(mode="json") for e in entries]

    @router.post("/search", response_model=SearchResult, tags=["memories"],
                 summary="Hybrid search of a scope's memories")
    async def search(body: SearchRequest, served: Served) -> Any:
        result = await served.arun(served.async_memory.search(
            body.query, user_id=body.user_id, agent_id=body.agent_id, run_id=body.run_id,
            limit=body.limit, filters=body.filters, threshold=body.threshold))
        return result.model_dump(mode="json")

    @router.get("/users", response_model=UsersResult, tags=["scopes"],
                summary="The users, agents and runs that hold memories")
    async def users(served: Served) -> Any:
        return (await served.arun(served.async_memory.users())).model_dump(mode="json")

    @router.get("/pending", response_model=list[PendingAdd], tags=["pending"],
                summary="Adds whose messages are kept after an LLM failure or a crash")
    async def pending(served: Served) -> Any:
        kept = await served.arun(served.async_memory.pending())
        return [p.model_dump(mode="json") for p in kept]

    @router.post("/pending/{pending_id}/reprocess", response_model=AddResult, tags=["pending"],
                 summary="Run a kept add again")
    async def reprocess(pending_id: str, served: Served) -> Any:
        result = await served.arun(served.async_memory.reprocess(pending_id))
        return result.model_dump(mode="json")

    @router.post("/reset", response_model=MessageResult, tags=["admin"],
                 summary="Delete every memory of every scope, and all history",
                 responses={403: {"model": ErrorBody}})
    async def reset(served: Served) -> Any:
        if not allow_reset:
            return JSONResponse(status_code=403, content={
                "detail": "reset is disabled on this server", "error": "Forbidden"})
        return (await served.arun(served.async_memory.reset())).model_dump(mode="json")

    router.post(CHAT_ROUTE, tags=["chat"], summary="OpenAI chat completions with memory "
                "(scope: X-User-Id header or the `user` field; stream=True for SSE)"
                )(chat_completions)

    app = FastAPI(
        title=title, version=__version__, lifespan=lifespan,
        # Results dump in mem0's shape (a serializer drops unset fields), which hides their
        # fields from the serialization schema: document the validation schema instead.
        separate_input_output_schemas=False,
        description="Long-term memory for LLM agents: add conversations, search, list, "
                    "update, delete and inspect the history of memories. "
                    + ("Every route but /health needs the API key (X-API-Key header or "
                       "Authorization: Bearer)." if keys.enabled else ""))

    @app.get("/health", response_model=HealthBody, tags=["admin"],
             summary="Liveness (no API key needed; reveals nothing)")
    async def health() -> Any:
        return {"status": "ok", "version": __version__}

    app.include_router(router)
    _install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_body_bytes)
    return app
