"""How a memory is laid out in the vector store's payload, and back.

The payload keys are named here once; the engine, the add pipeline, filters and the
integrations that select memories by field (the LangGraph store) all use these names.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import Any

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.models import MemoryItem
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.core.validation import check_clean_text, check_json_value

MAX_METADATA_BYTES = 64 * 1024
MAX_MEMORY_CHARS = 20_000
MAX_NAME_CHARS = 128  # a message's role or name
MAX_ADD_CHARS = 200_000  # one add's messages together (~50k tokens for the extraction call)
_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")

# The payload keys of a stored memory (the scope ids are `SCOPE_KEYS`).
DATA = "data"  # the memory's text
HASH = "hash"  # `content_hash` of the text: exact repeats are found by it
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"
METADATA = "metadata"  # the caller's metadata; filter keys without a prefix live here
CATEGORIES = "categories"
ROLE = "role"
ACTOR_ID = "actor_id"
MEMORY_TYPE = "memory_type"
PROCEDURAL = "procedural_memory"  # the memory_type of an agent's procedure summary
# Event time (core.validity): when the fact was true, apart from when it was stored.
VALID_FROM = "valid_from"  # when it was said (the add's or its message's timestamp)
VALID_TO = "valid_to"  # set once a later fact superseded or contradicted it
SUPERSEDED_BY = "superseded_by"  # the id of the memory that replaced it
SUPERSEDES = "supersedes"  # the id of the memory it replaced
# Provenance (core.sources): the messages a memory came from.
SOURCES = "sources"  # [{add_id, message, role, actor_id, quote, at}]
SOURCE_ADDS = "source_adds"  # the add ids of SOURCES, flat, so a filter can select by one
# Turn context (core.turn_context): a verbatim turn is embedded after the turn before it.
CONTEXT = "context"  # that turn's text, as it was embedded with this one
CONTEXT_ID = "context_id"  # that turn's memory id (deleting it rewrites this memory)


def check_memory_id(memory_id: Any) -> str:
    """A memory id in its canonical form; `InvalidInputError` unless it is a UUID."""
    try:
        return str(uuid.UUID(str(memory_id)))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInputError(f"memory id must be a UUID, got {memory_id!r}") from None


def content_hash(text: str) -> str:
    """Identity of a memory's content: case, spacing and end punctuation do not count."""
    normal = " ".join(text.lower().split()).rstrip(".!;,")
    return hashlib.md5(normal.encode("utf-8"), usedforsecurity=False).hexdigest()


def check_metadata(metadata: Any, max_bytes: int = MAX_METADATA_BYTES) -> dict[str, Any] | None:
    """Validate user metadata: a JSON object with simple keys, at most `max_bytes` as
    UTF-8 JSON (64 KB unless a caller that keeps documents of its own allows more)."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"metadata must be a dict, got {type(metadata).__name__}")
    for key in metadata:
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidInputError(
                f"metadata key {key!r} is invalid: use 1-128 letters, digits, '_' or '-'"
            )
    check_json_value(metadata, "metadata")  # before json.dumps, which recurses
    try:
        encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metadata must be JSON-serialisable: {exc}") from exc
    if len(encoded.encode("utf-8")) > max_bytes:
        raise InvalidInputError(f"metadata is larger than {max_bytes} bytes")
    return json.loads(encoded)


def check_messages(messages: list[dict[str, Any]], *, verbatim: bool) -> None:
    """Reject an add that cannot be remembered safely: text that cannot be stored (NUL,
    lone surrogates), a role or name longer than MAX_NAME_CHARS, or too much text — with
    `verbatim` (infer=False) every message becomes a memory, so each is held to
    MAX_MEMORY_CHARS; all together to MAX_ADD_CHARS."""
    for message in messages:
        check_clean_text(message["content"], "a message's content")
        for field in ("role", "name"):
            value = message.get(field)
            if isinstance(value, str):
                if len(value) > MAX_NAME_CHARS:
                    raise InvalidInputError(f"a message's {field} is {len(value)} characters "
                                            f"long; at most {MAX_NAME_CHARS}")
                check_clean_text(value, f"a message's {field}")
    total = sum(len(m["content"]) for m in messages)
    if total > MAX_ADD_CHARS:
        raise InvalidInputError(
            f"messages are {total} characters long; one add takes at most {MAX_ADD_CHARS}")
    if verbatim:
        longest = max(len(m["content"]) for m in messages)
        if longest > MAX_MEMORY_CHARS:
            raise InvalidInputError(
                f"with infer=False each message is stored as a memory, and a memory is at "
                f"most {MAX_MEMORY_CHARS} characters (this one is {longest})")


def check_text(text: Any, what: str = "memory text") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"{what} must be a non-empty string")
    if len(text) > MAX_MEMORY_CHARS:
        raise InvalidInputError(f"{what} is longer than {MAX_MEMORY_CHARS} characters")
    return check_clean_text(text.strip(), what)


def make_payload(text: str, scope: dict[str, str], *, now: datetime,
                 metadata: dict[str, Any] | None = None, categories: list[str] | None = None,
                 role: str | None = None, actor_id: str | None = None,
                 memory_type: str | None = None, created_at: str | None = None,
                 valid_from: str | None = None) -> dict[str, Any]:
    """A memory's point payload. `valid_from` (when the fact was said) defaults to when it
    is first stored."""
    payload: dict[str, Any] = {
        DATA: text,
        HASH: content_hash(text),
        CREATED_AT: created_at or now.isoformat(),
        UPDATED_AT: now.isoformat() if created_at else None,
        VALID_FROM: valid_from or created_at or now.isoformat(),
        **scope,
    }
    if metadata:
        payload[METADATA] = metadata
    if categories:
        payload[CATEGORIES] = sorted(set(categories))
    if role:
        payload[ROLE] = role
    if actor_id:
        payload[ACTOR_ID] = actor_id
    if memory_type:
        payload[MEMORY_TYPE] = memory_type
    return {k: v for k, v in payload.items() if v is not None}


def embedded_text(payload: dict[str, Any]) -> str:
    """The text a memory's dense vector is computed from: its own, after the turn it
    answers when it was stored with one (`core.turn_context`)."""
    context = payload.get(CONTEXT)
    return f"{context}\n{payload[DATA]}" if context else str(payload[DATA])


def payload_scope(payload: dict[str, Any]) -> dict[str, str]:
    """The scope ids a stored memory belongs to (a memory never changes scope)."""
    return {k: payload[k] for k in SCOPE_KEYS if payload.get(k)}


def to_item(memory_id: str, payload: dict[str, Any], score: float | None = None) -> MemoryItem:
    return MemoryItem(
        id=memory_id,
        memory=payload.get(DATA, ""),
        hash=payload.get(HASH),
        metadata=payload.get(METADATA) or None,
        categories=payload.get(CATEGORIES) or None,
        score=score,
        created_at=payload.get(CREATED_AT),
        updated_at=payload.get(UPDATED_AT),
        actor_id=payload.get(ACTOR_ID),
        role=payload.get(ROLE),
        memory_type=payload.get(MEMORY_TYPE),
        # memories stored before event time existed are valid since they were stored
        valid_from=payload.get(VALID_FROM) or payload.get(CREATED_AT),
        valid_to=payload.get(VALID_TO),
        superseded_by=payload.get(SUPERSEDED_BY),
        supersedes=payload.get(SUPERSEDES),
        **{k: payload.get(k) for k in SCOPE_KEYS},
    )
