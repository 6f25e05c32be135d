"""The REST server: every memory operation over HTTP, with OpenAPI docs at /docs.

    from mem_integrations.server import create_app
    app = create_app({"data_dir": "./mem"}, api_key="s3cret")     # uvicorn module:app

or `mem-integrations serve`. Paths follow mem0's REST server (POST /memories, POST
/search, GET /memories/{id}/history, ...), so its clients keep working.

* One `AsyncMemory` per app, opened in the lifespan and closed at shutdown (when the
  app built it; a memory passed in belongs to the caller).
* Keys: those in the data directory's key store (`mem-integrations keys create`), each
  bound to a user, an agent, a tenant prefix or admin, and the legacy `api_key=` /
  `MEMINT_API_KEY` (an admin key). With any key configured (or the key file present),
  every route but /health and the docs needs `X-API-Key: <key>` or `Authorization:
  Bearer <key>` (401 otherwise), and every route keeps to the key's scope (`access`).
  A per-key rate limit answers 429.
* Bodies over `max_body_bytes` get 413 before they are read into memory.
* Every error has one body, `{"detail": "...", "error": "<type>"}` (`server.errors`).
* `POST /reset` is off unless `allow_reset=True` (`serve --allow-reset`), and admin only.
* /docs and /redoc are served from packaged assets (fastapi-offline): no CDN.
* `POST /v1/chat/completions` is OpenAI's chat API with memory (`server.chat`): point an
  OpenAI client's base URL at `http://host:port/v1`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryNotFoundError,
    PendingNotFoundError,
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
from mem_integrations.server.access import AccessDeniedError, Authenticator, Caller
from mem_integrations.server.chat import (
    CHAT_ROUTE,
    ChatEndpoint,
    ChatUpstream,
    chat_completions,
    parse_upstream,
    upstream_of,
)
from mem_integrations.server.errors import error_response, install_error_handlers
from mem_integrations.server.keys import KeyStore
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
    APIKeys,
    BodySizeLimitMiddleware,
    keys_from_text,
)

log = logging.getLogger(__name__)

MemorySource = AsyncMemory | Memory | MemoryConfig | dict[str, Any] | str | Path | None

_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                               description="The server's API key.")
_bearer = HTTPBearer(auto_error=False, description="The server's API key as a bearer token.")


class _FromEnv:
    def __repr__(self) -> str:
        return "MEMINT_API_KEY"


FROM_ENV = _FromEnv()
_DEFAULT_STORE = object()  # create_app(key_store=...) unset: the memory's data directory


def _bridge_of(request: Request) -> MemoryBridge:
    return request.app.state.bridge


def _caller_of(
    request: Request,
    api_key_value: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    auth: Authenticator = request.app.state.authenticator
    caller = auth.authenticate(api_key_value or (bearer.credentials if bearer else None))
    request.state.caller = caller  # for the chat route, which reads the request itself
    return caller


# The app's memory, whichever facade it is (`bridge` runs its coroutines where it lives),
# and the key behind the request. Module level: routes' annotations resolve here.
Served = Annotated[MemoryBridge, Depends(_bridge_of)]
Calling = Annotated[Caller, Depends(_caller_of)]


async def _by_id(served: MemoryBridge, caller: Caller, memory_id: str) -> dict[str, str]:
    """The scope ids a call by memory id passes to the core (`Caller.by_id_scope`). For a
    tenant key, the memory's owner from its history (kept after a delete), checked against
    the prefix; another tenant's id is answered as an unknown one."""
    ids = caller.by_id_scope()
    if ids is not None:
        return ids
    entries = await served.arun(served.async_memory.history(memory_id))
    if not entries or not caller.owns(entries[0]) or entries[0].user_id is None:
        raise MemoryNotFoundError(memory_id)
    return {"user_id": entries[0].user_id}


async def _check_pending_owner(served: MemoryBridge, caller: Caller, pending_id: str,
                               operation: str) -> None:
    """A scoped key may only touch its own scope's pending adds; another scope's is
    answered as an unknown one."""
    if caller.admin:
        return
    kept = await served.arun(served.async_memory.pending())
    if not any(p.id == pending_id and caller.owns(p.scope) for p in kept):
        raise PendingNotFoundError(pending_id, operation)


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
    403: {"model": ErrorBody, "description": "The key is bound to another scope, or the "
                                             "route needs an admin key or is disabled"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    422: {"model": ErrorBody, "description": "The request does not have the expected shape"},
    429: {"model": ErrorBody, "description": "Over the key's rate limit (see Retry-After)"},
    502: {"model": ErrorBody, "description": "The LLM or embedding provider failed"},
    503: {"model": ErrorBody, "description": "A store is unavailable"},
}
_BY_ID = {404: {"model": ErrorBody, "description": "No memory with this id in the key's scope"}}


def _key_store(given: Any, memory: AsyncMemory | Memory) -> KeyStore | None:
    if given is _DEFAULT_STORE:
        return KeyStore.in_dir(memory.config.data_dir)
    if given is None or isinstance(given, KeyStore):
        return given
    return KeyStore(given)


def create_app(
    memory: MemorySource = None,
    *,
    api_key: str | Iterable[str] | None | _FromEnv = FROM_ENV,
    key_store: KeyStore | str | Path | None | Any = _DEFAULT_STORE,
    rate_limit: float | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    allow_reset: bool = False,
    close_memory: bool | None = None,
    title: str = "mem-integrations",
    chat_upstream: ChatUpstream | dict[str, Any] | None = None,
    announce: Callable[[str], None] | None = None,
    **memory_parts: Any,
) -> FastAPI:
    """The FastAPI app.

    `memory` is an `AsyncMemory` or `Memory` to serve, or a config (dict, `MemoryConfig`,
    JSON/TOML path, or None for the defaults and the environment) from which the app
    builds an `AsyncMemory` at startup; `memory_parts` (`embedder=`, `chat_model=`...)
    are passed to it. Startup opens the stores and loads the embedding model before the
    server reports it is ready; `announce` (e.g. `print`) hears of any step over a second.

    Keys: `key_store` holds keys bound to scopes (by default `api_keys.json` in the
    memory's data directory, made by `mem-integrations keys create`; None: no store).
    `api_key` (one or several) is the legacy option: each is an admin key. By default it
    is read from `MEMINT_API_KEY` (several keys separated by commas); `None` sets none. So
    `uvicorn --factory mem_integrations.server:create_app` serves the configured memory
    behind the keys of its data directory and the environment. With no key at all, the
    server is open. `rate_limit` is requests per minute per key (a key's own limit wins;
    None: unlimited).

    `POST /reset` answers 403 unless `allow_reset=True`, and needs an admin key.
    `close_memory` defaults to closing only a memory the app built. `chat_upstream`
    (`base_url`, `api_key`, `model`...) is the chat model `POST /v1/chat/completions`
    forwards to; by default the memory's own LLM.
    """
    from mem_integrations import __version__

    if isinstance(api_key, _FromEnv):
        api_key = keys_from_text(os.environ.get("MEMINT_API_KEY"))
    legacy = APIKeys(api_key)
    if rate_limit is not None and not rate_limit > 0:
        raise InvalidInputError("rate_limit is requests per minute per key: a positive "
                                "number, or None for no limit")
    given = memory if isinstance(memory, (AsyncMemory, Memory)) else None
    if given is not None and memory_parts:
        raise TypeError("memory parts (embedder=, ...) only apply when the app builds the memory")
    if isinstance(key_store, (str, Path)):
        key_store = KeyStore(key_store)
    should_close = close_memory if close_memory is not None else given is None
    upstream = parse_upstream(chat_upstream)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = given
        if built is None:
            built = await asyncio.to_thread(AsyncMemory, memory, **memory_parts)
        if isinstance(built, Memory):
            await asyncio.to_thread(built.warm_up, announce)
        else:
            await built.warm_up(announce)
        app.state.memory = built
        app.state.bridge = bridge(built)
        app.state.authenticator = Authenticator(legacy, _key_store(key_store, built),
                                                rate_limit=rate_limit)
        if not app.state.authenticator.enabled:
            log.warning("no API key set: anyone who can reach this server can read and change "
                        "every memory")
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

    router = APIRouter(dependencies=[Depends(_caller_of)], responses=ERRORS)

    @router.post("/memories", response_model=AddResult, tags=["memories"],
                 summary="Add memories from messages (async_mode: queue them, 202)",
                 responses={202: {"model": AddResult, "description": "async_mode: queued; "
                                  "GET /pending/{pending_id} follows it"}})
    async def add(body: AddRequest, served: Served, caller: Calling) -> Any:
        ids = caller.scope_for("add", user_id=body.user_id, agent_id=body.agent_id,
                               run_id=body.run_id)
        result = await served.arun(served.async_memory.add(
            body.messages, **ids, metadata=body.metadata, infer=body.infer,
            memory_type=body.memory_type, prompt=body.prompt, async_mode=body.async_mode,
            timestamp=body.timestamp))
        if body.async_mode:
            return JSONResponse(status_code=202, content=result.model_dump(mode="json"))
        return result.model_dump(mode="json")

    @router.get("/memories", response_model=SearchResult, tags=["memories"],
                summary="List a scope's memories, newest first")
    async def list_memories(
        served: Served, caller: Calling,
        user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
        filters: Annotated[str | None, Query(description="A JSON filter object, e.g. "
                                                          '{"topic": "travel"}')] = None,
        as_of: Annotated[datetime | None, Query(description="What was valid then (ISO "
                                                           "8601) instead of now.")] = None,
    ) -> Any:
        ids = caller.scope_for("list", user_id=user_id, agent_id=agent_id, run_id=run_id)
        result = await served.arun(served.async_memory.get_all(
            **ids, filters=_parse_filters(filters), limit=limit, as_of=as_of))
        return result.model_dump(mode="json")

    @router.delete("/memories", response_model=MessageResult, tags=["memories"],
                   summary="Delete every memory of a scope (a scope id is required)")
    async def delete_all(served: Served, caller: Calling, user_id: str | None = None,
                         agent_id: str | None = None, run_id: str | None = None) -> Any:
        ids = caller.scope_for("delete all", user_id=user_id, agent_id=agent_id,
                               run_id=run_id)
        result = await served.arun(served.async_memory.delete_all(**ids))
        return result.model_dump(mode="json")

    @router.get("/memories/{memory_id}", response_model=MemoryItem, tags=["memories"],
                summary="Get one memory", responses=_BY_ID)
    async def get(memory_id: str, served: Served, caller: Calling) -> Any:
        ids = await _by_id(served, caller, memory_id)
        return (await served.arun(served.async_memory.get(memory_id, **ids))
                ).model_dump(mode="json")

    @router.put("/memories/{memory_id}", response_model=MessageResult, tags=["memories"],
                summary="Change a memory's text and/or metadata", responses=_BY_ID)
    async def update(memory_id: str, body: UpdateRequest, served: Served,
                     caller: Calling) -> Any:
        ids = await _by_id(served, caller, memory_id)
        result = await served.arun(served.async_memory.update(
            memory_id, text=body.text, metadata=body.metadata, **ids))
        return result.model_dump(mode="json")

    @router.delete("/memories/{memory_id}", response_model=MessageResult, tags=["memories"],
                   summary="Delete one memory (its history is kept)", responses=_BY_ID)
    async def delete(memory_id: str, served: Served, caller: Calling) -> Any:
        ids = await _by_id(served, caller, memory_id)
        return (await served.arun(served.async_memory.delete(memory_id, **ids))
                ).model_dump(mode="json")

    @router.get("/memories/{memory_id}/history", response_model=list[HistoryEntry],
                tags=["memories"], summary="Every change to a memory, oldest first",
                responses=_BY_ID)
    async def history(memory_id: str, served: Served, caller: Calling) -> Any:
        ids = await _by_id(served, caller, memory_id)
        entries = await served.arun(served.async_memory.history(memory_id, **ids))
        return [e.model_dump(mode="json") for e in entries]

    @router.post("/search", response_model=SearchResult, tags=["memories"],
                 summary="Hybrid search of a scope's memories")
    async def search(body: SearchRequest, served: Served, caller: Calling) -> Any:
        ids = caller.scope_for("search", user_id=body.user_id, agent_id=body.agent_id,
                               run_id=body.run_id)
        result = await served.arun(served.async_memory.search(
            body.query, **ids, limit=body.limit, filters=body.filters,
            threshold=body.threshold, as_of=body.as_of, include_sources=body.include_sources,
            narrow_dates=body.narrow_dates))
        return result.model_dump(mode="json")

    @router.get("/users", response_model=UsersResult, tags=["scopes"],
                summary="The users, agents and runs that hold memories (a scoped key: "
                        "only its own)")
    async def users(served: Served, caller: Calling) -> Any:
        found = await served.arun(served.async_memory.users())
        found.results = [s for s in found.results if caller.sees(s.type, s.id)]
        return found.model_dump(mode="json")

    @router.get("/pending", response_model=list[PendingAdd], tags=["pending"],
                summary="Adds whose messages are kept after an LLM failure or a crash")
    async def pending(served: Served, caller: Calling) -> Any:
        kept = await served.arun(served.async_memory.pending())
        return [p.model_dump(mode="json") for p in kept if caller.owns(p.scope)]

    @router.get("/pending/{pending_id}", response_model=PendingAdd, tags=["pending"],
                summary="One kept or queued add: its status (queued, processing, failed, "
                "interrupted); 404 once it has run")
    async def pending_status(pending_id: str, served: Served, caller: Calling) -> Any:
        kept = await served.arun(served.async_memory.pending())
        found = next((p for p in kept if p.id == pending_id and caller.owns(p.scope)), None)
        if found is None:  # another scope's is answered as an unknown one
            return error_response(404, PendingNotFoundError(
                pending_id, "show (it has run and its memories are stored, or it never "
                "existed)"))
        return found.model_dump(mode="json")

    @router.post("/pending/{pending_id}/reprocess", response_model=AddResult, tags=["pending"],
                 summary="Run a kept add again")
    async def reprocess(pending_id: str, served: Served, caller: Calling) -> Any:
        await _check_pending_owner(served, caller, pending_id, "reprocess")
        result = await served.arun(served.async_memory.reprocess(pending_id))
        return result.model_dump(mode="json")

    @router.post("/pending/{pending_id}/discard", response_model=MessageResult,
                 tags=["pending"], summary="Give up on a kept add that can never succeed "
                 "(its messages stay in the history, marked discarded)")
    async def discard(pending_id: str, served: Served, caller: Calling) -> Any:
        await _check_pending_owner(served, caller, pending_id, "discard")
        result = await served.arun(served.async_memory.discard(pending_id))
        return result.model_dump(mode="json")

    @router.post("/reset", response_model=MessageResult, tags=["admin"],
                 summary="Delete every memory of every scope, and all history (admin key; "
                         "off unless the server allows it)")
    async def reset(served: Served, caller: Calling) -> Any:
        caller.require_admin("reset")
        if not allow_reset:
            raise AccessDeniedError("reset is disabled on this server: start it with "
                                    "--allow-reset (create_app(allow_reset=True)) to allow it")
        return (await served.arun(served.async_memory.reset())).model_dump(mode="json")

    router.post(CHAT_ROUTE, tags=["chat"], summary="OpenAI chat completions with memory "
                "(scope: X-User-Id header or the `user` field; stream=True for SSE)"
                )(chat_completions)

    app = FastAPIOffline(
        title=title, version=__version__, lifespan=lifespan,
        # Results dump in mem0's shape (a serializer drops unset fields), which hides their
        # fields from the serialization schema: document the validation schema instead.
        separate_input_output_schemas=False,
        description="Long-term memory for LLM agents: add conversations, search, list, "
                    "update, delete and inspect the history of memories. When the server "
                    "has keys, every route but /health and the docs needs one (X-API-Key "
                    "header or Authorization: Bearer), and keeps to the key's scope.")

    @app.get("/health", response_model=HealthBody, tags=["admin"],
             summary="Liveness (no API key needed; reveals nothing)")
    async def health() -> Any:
        return {"status": "ok", "version": __version__}

    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_body_bytes)
    return app
