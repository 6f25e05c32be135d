"""What keeps an exposed server safe: API keys compared in constant time, their check as
ASGI middleware, and a cap on request bodies. Pure ASGI, so the REST app and the MCP
server's HTTP transport share it (the keys' scopes are in `access` and `keys`)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mem_integrations.server.access import Authenticator

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a long conversation is far smaller
API_KEY_HEADER = "X-API-Key"


def keys_from_text(text: str | None) -> list[str] | None:
    """Keys from `MEMINT_API_KEY`-style text: one key, or several separated by commas."""
    keys = [k.strip() for k in (text or "").split(",") if k.strip()]
    return keys or None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class APIKeys:
    """The accepted keys (several, to rotate one without downtime). `check` compares in
    constant time: the digests of the given and of every accepted key are all compared,
    so neither the key's content nor which key matched shows in the timing."""

    def __init__(self, keys: str | Iterable[str] | None) -> None:
        if keys is None:
            keys = []
        elif isinstance(keys, str):
            keys = [keys]
        self._digests = [_digest(k) for k in keys]
        if any(not k or not k.strip() for k in keys):
            raise ValueError("an API key must not be empty")

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, given: str | None) -> bool:
        if not self._digests:
            return True
        if not given:
            return False
        candidate = _digest(given)
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(candidate, digest)
        return matched


def key_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`."""
    api_key = bearer = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"x-api-key":
            api_key = value.decode("latin-1").strip()
        elif lowered == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
    return api_key or bearer


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


UNAUTHORIZED = {"detail": "missing or invalid API key: send it as the X-API-Key header or "
                          "as Authorization: Bearer <key>", "error": "Unauthorized"}


class APIKeyMiddleware:
    """Authenticates HTTP requests with an `access.Authenticator` (except `open_paths`):
    401 without a valid key, 429 over the key's rate limit; the `access.Caller` is left in
    the ASGI scope's state (`scope["state"]["caller"]`) for the app to enforce its scope."""

    def __init__(self, app: ASGIApp, auth: Authenticator, *, open_paths: Iterable[str] = ()) -> None:
        self.app, self.auth, self.open_paths = app, auth, frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from mem_integrations.server.access import RateLimited, Unauthenticated

        if (scope["type"] != "http" or scope.get("path") in self.open_paths
                or scope.get("method") == "OPTIONS"):
            return await self.app(scope, receive, send)
        try:
            caller = self.auth.authenticate(key_from_headers(scope.get("headers") or []))
        except Unauthenticated:
            return await send_json(send, 401, UNAUTHORIZED,
                                   [(b"www-authenticate", b'Bearer realm="mem-integrations"')])
        except RateLimited as exc:
            return await send_json(send, 429, rate_limited_body(exc),
                                   [(b"retry-after", str(exc.retry_after).encode())])
        scope.setdefault("state", {})["caller"] = caller
        return await self.app(scope, receive, send)


def rate_limited_body(exc: Exception) -> dict[str, Any]:
    """The body of a 429 (the common error shape)."""
    return {"detail": str(exc), "error": "RateLimited"}


class BodySizeLimitMiddleware:
    """Answers 413 to a request whose body exceeds `max_bytes`, before the app sees it:
    at once from `Content-Length`, or while reading a chunked body (never buffering more
    than `max_bytes`)."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, size: int | None) -> dict[str, Any]:
        got = f"{size} bytes" if size is not None else f"more than {self.max_bytes} bytes"
        return {"detail": f"request body too large: {got}; the limit is {self.max_bytes} bytes",
                "error": "PayloadTooLarge"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = None
        for name, value in scope.get("headers") or []:
            if name.lower() == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return await send_json(send, 400, {"detail": "invalid Content-Length",
                                                       "error": "BadRequest"})
        if length is not None and length > self.max_bytes:
            return await send_json(send, 413, self._too_large(length))
        # Read the body up front (bounded), then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await send_json(send, 413, self._too_large(None))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def is_loopback(host: str) -> bool:
    """Whether binding to `host` only exposes the server to this machine."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
