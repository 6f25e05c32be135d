"""The REST server (FastAPI): `create_app(...)`, or `mem-integrations serve`.

Needs the `server` extra: `pip install "mem-integrations[server]"`. The security parts
(`APIKeys`, the API-key and body-size middlewares) are plain ASGI and need no FastAPI, so
the MCP server's HTTP transport uses them too.
"""

from __future__ import annotations

from typing import Any

from mem_integrations.server.security import (
    DEFAULT_MAX_BODY_BYTES,
    APIKeyMiddleware,
    APIKeys,
    BodySizeLimitMiddleware,
    keys_from_text,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "APIKeyMiddleware", "APIKeys", "BodySizeLimitMiddleware",
           "create_app", "keys_from_text"]


def __getattr__(name: str) -> Any:  # FastAPI is imported only when the app is wanted
    if name == "create_app":
        from mem_integrations.server.app import create_app

        return create_app
    raise AttributeError(name)
