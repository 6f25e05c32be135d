"""One error body for every status the REST server answers:
`{"detail": "<what went wrong and how to fix it>", "error": "<type>"}`, plus `pending_id`
on a 502 from `add` and `errors` (FastAPI's per-field list) on a 422.

400 bad input, 401 no or a wrong key, 403 a key outside its scope or a disabled route, 404
an unknown memory (another scope's memory included: the body is the same, so it does
not show that the id exists), 405 / 404 unknown routes, 413 a body too large, 422 a body
of the wrong shape, 429 over the key's rate limit, 500 a configuration or internal error,
502 the LLM or embedder failed, 503 a store is unavailable.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryLayerError,
    MemoryNotFoundError,
    ProviderError,
    StoreError,
)
from mem_integrations.server.access import AccessDeniedError, RateLimited, Unauthenticated
from mem_integrations.server.security import UNAUTHORIZED, rate_limited_body

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger(__name__)


def error_response(status: int, exc: BaseException, **extra: Any) -> JSONResponse:
    """`exc` as the common error body."""
    return JSONResponse(status_code=status,
                        content={"detail": str(exc), "error": type(exc).__name__, **extra})


def _validation_detail(errors: list[dict[str, Any]]) -> str:
    def where(error: dict[str, Any]) -> str:
        return ".".join(str(part) for part in error.get("loc", ())) or "request"

    listed = "; ".join(f"{where(e)}: {e.get('msg', 'invalid')}" for e in errors[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return f"the request does not have the expected shape: {listed}{more}; see /docs"


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception a route can raise to the common body."""

    @app.exception_handler(Unauthenticated)
    async def unauthorized(_: Request, __: Unauthenticated) -> JSONResponse:
        return JSONResponse(status_code=401, content=UNAUTHORIZED,
                            headers={"WWW-Authenticate": 'Bearer realm="mem-integrations"'})

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(status_code=429, content=rate_limited_body(exc),
                            headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(AccessDeniedError)
    async def denied(_: Request, exc: AccessDeniedError) -> JSONResponse:
        return error_response(403, exc)

    @app.exception_handler(RequestValidationError)
    async def malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
        return JSONResponse(status_code=422, content={
            "detail": _validation_detail(errors), "error": "RequestValidationError",
            "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = HTTPStatus(exc.status_code).phrase.title().replace(" ", "").replace("-", "")
        return JSONResponse(status_code=exc.status_code, headers=exc.headers,
                            content={"detail": str(exc.detail), "error": name})

    @app.exception_handler(InvalidInputError)
    async def invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        return error_response(400, exc)

    @app.exception_handler(MemoryNotFoundError)
    async def not_found(_: Request, exc: MemoryNotFoundError) -> JSONResponse:
        # another scope's memory (MemoryOutOfScopeError) answers as an unknown id
        return error_response(404, MemoryNotFoundError(exc.memory_id))

    @app.exception_handler(ProviderError)
    async def provider(_: Request, exc: ProviderError) -> JSONResponse:
        log.warning("provider error: %s", exc)
        return error_response(502, exc, pending_id=exc.pending_id)

    @app.exception_handler(StoreError)
    async def store(_: Request, exc: StoreError) -> JSONResponse:
        log.error("store error: %s", exc)
        return error_response(503, exc)

    @app.exception_handler(MemoryLayerError)
    async def other(_: Request, exc: MemoryLayerError) -> JSONResponse:
        # ConfigurationError and anything else of ours that is not the caller's doing
        log.error("%s: %s", type(exc).__name__, exc)
        return error_response(500, exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(status_code=500, content={"detail": "internal server error",
                                                      "error": "InternalServerError"})
