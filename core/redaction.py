"""Secrets made safe to show in errors, logs, reprs, dumps and `mem-integrations doctor`:
`redact_url` for one URL, `redact_text` for any text (error messages, provider replies,
log lines), `RedactedURL` for configuration fields, and `install_log_redaction` for the
loggers whose lines can carry them."""

from __future__ import annotations

import logging
import re
import threading
from typing import Annotated
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import AfterValidator, BaseModel, PlainSerializer, SecretStr

__all__ = ["REDACTED", "REDACTED_LOGGERS", "RedactedURL", "RedactingFilter",
           "install_log_redaction", "redact_text", "redact_url", "register_secret",
           "register_secrets_of"]

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


# --- free text: error messages, log lines, provider replies ---------------------------

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@?#]+)"
                              r"(?::(?P<password>[^/\s@]*))?@")
_KEY_SHAPES = (
    # OpenAI-style keys (sk-, sk-proj-...), whatever echoes them
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-***"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    # key=value / "api_key": "value" in query strings, JSON and driver messages
    # (a bare "secret: ..." in prose is a label, not a value: only = or a quoted JSON key)
    (re.compile(r"(?i)\b(api[_-]?key|access[_-]?token|auth[_-]?token|password|passwd|secret)"
                r"(=|[\"']\s*:\s*[\"'])([^\s\"'&,;}]+)"), r"\1\2***"),
)
_MIN_SECRET_CHARS = 8  # shorter registered values would scrub ordinary words
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Scrub `value` (an API key or password this process was configured with) from
    every text `redact_text` sees from now on, whatever its shape."""
    if value and len(value) >= _MIN_SECRET_CHARS:
        with _secrets_lock:
            _secrets.add(value)


def _url_credentials(match: re.Match[str]) -> str:
    if match.group("password") is None:
        return f"{match.group('scheme')}***@"
    return f"{match.group('scheme')}{match.group('user')}:***@"


def redact_text(text: str) -> str:
    """`text` with the credentials of any URL in it (`http://user:***@host`), API keys,
    bearer tokens, `password=` / `api_key=` values and every registered secret replaced.
    Unlike `redact_url`, the rest of the text (queries included) is kept."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: no partial leaks
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(_url_credentials, text)
    for pattern, replacement in _KEY_SHAPES:
        text = pattern.sub(replacement, text)
    return text


# --- URLs in configuration: the real text for use, redacted to show -----------------------


class _URLText(str):
    """A URL that works as itself (it is a `str`) but shows as `redact_url` in reprs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact_url(str(self)))


def _keep(url: str) -> str:
    parts = urlsplit(url) if "@" in url else None
    if parts is not None and parts.password:
        register_secret(unquote(parts.password))
    return _URLText(url)


def _show(url: str) -> str:
    return redact_url(url)


RedactedURL = Annotated[str, AfterValidator(_keep), PlainSerializer(_show, when_used="json")]
"""A configuration URL: its password is registered as a secret, `repr` and JSON dumps
(`model_dump_json()`, `model_dump(mode="json")`) show it redacted; the code gets the
real URL."""


# --- log records ----------------------------------------------------------------------

# Loggers whose lines can carry a URL or a key: ours, the HTTP stack (httpx logs every
# request's URL at INFO), the providers' and the stores' drivers. A logger's filters
# only see records logged on it, so the children these libraries log on are listed too.
REDACTED_LOGGERS = (
    "mem_integrations", "httpx", "httpcore", "httpcore.connection", "httpcore.http11",
    "httpcore.http2", "httpcore.proxy", "openai", "openai._base_client", "neo4j",
    "neo4j.io", "neo4j.pool", "neo4j.notifications", "qdrant_client", "urllib3",
    "urllib3.connectionpool", "psycopg", "psycopg.pool",
)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message through `redact_text` (its arguments merged in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Put `RedactingFilter` on `REDACTED_LOGGERS` (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def register_secrets_of(model: BaseModel) -> None:
    """Register every `SecretStr` in a configuration model (nested sections included),
    so a provider error or a log line that echoes one is scrubbed."""
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, BaseModel):
            register_secrets_of(value)
