"""URLs made safe to show in errors, logs, reprs and `mem-integrations doctor`."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_url"]

REDACTED = "<redacted url>"


def redact_url(url: str | None) -> str:
    """`url` without anything secret in it; "" for no URL.

    A password in the authority becomes `***` (`postgresql://memint:***@db:5432/m`). A user
    name without a password is hidden too (`https://***@github.com`), because that is where
    tokens go. The query and the fragment are dropped: they can carry `password=`, API keys
    or signed tokens, and no list of parameter names can be trusted to be complete.
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if url.count("@") > netloc.count("@"):
        # Credentials urlsplit did not find (all or part of them): no "scheme://", or a
        # password with an unescaped "#", "?" or "/" that ends the authority early, so
        # the rest of the secret sits in the path. Show none of it.
        return REDACTED
    if "@" in netloc:
        host = netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:***" if parts.password is not None else "***"
        netloc = f"{user}@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))
