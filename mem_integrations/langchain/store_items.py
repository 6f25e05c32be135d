"""How a LangGraph store item is laid out as the engine's memories, and read back.

* The item is one memory (`ITEM_TYPE`) under an id derived from (namespace, key). Its
  metadata holds the value exactly, as JSON text (`encode_value`), apart from the text
  it is searched by: that text is normalised for the engine (trimmed, unsafe characters
  replaced, cut at the engine's text limit), the value never is.
* Each indexed text (one per path match, LangGraph's `get_text_at_path` rules) has its
  own vector: the first is the item memory's own, every further one is a small field
  memory (`FIELD_TYPE`) pointing at the item, so an item is scored by its best field.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.store.base.embed import get_text_at_path, tokenize_path

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.records import MAX_MEMORY_CHARS

ITEM_TYPE = "langgraph_item"
FIELD_TYPE = "langgraph_field"
DEFAULT_TEXT_KEYS = ("content", "text", "memory")
_ID_NAMESPACE = uuid.UUID("5b0c3f3e-6f47-4b8e-9d0a-6c2f1f6a7e11")
_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Paths = list[tuple[str, str | list[str]]]


def item_id(namespace: Sequence[str], key: str) -> str:
    """The memory id of the item (namespace, key)."""
    return str(uuid.uuid5(_ID_NAMESPACE, json.dumps([list(namespace), key], ensure_ascii=False)))


def field_id(parent: str, index: int) -> str:
    """The memory id of an item's `index`-th extra indexed text (1 is the second text)."""
    return str(uuid.uuid5(uuid.UUID(parent), str(index)))


def tokenized(paths: Sequence[str]) -> Paths:
    """LangGraph's field paths, parsed once."""
    return [(p, p if p == "$" else tokenize_path(p)) for p in paths]


def encode_value(value: Mapping[str, Any], where: str, max_bytes: int) -> str:
    """The value as exact JSON text: every key, character and type kept (tuples become
    lists, as in LangGraph's persistent stores). Lone surrogates are written as JSON
    escapes, which decode to the same string; NaN and infinities have no JSON form."""
    try:
        text = json.dumps(dict(value), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(
            f"store value for {where} must be JSON-serialisable (str keys; str, number, "
            f"bool, None, list, dict values; finite numbers): {exc}") from exc
    _check_string_keys(value, where)
    if _SURROGATE.search(text):
        text = json.dumps(dict(value), ensure_ascii=True, allow_nan=False)
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise InvalidInputError(
            f"store value for {where} is {size} bytes as JSON; this MemoryStore keeps "
            f"values up to {max_bytes} bytes: raise MemoryStore(max_value_bytes=...) "
            "or store the large part elsewhere and keep a reference")
    return text


def _check_string_keys(value: Any, where: str) -> None:
    """JSON would turn a key like 1 or None into "1" / "null": refuse it instead, so what
    is got back is what was put. (Iterative: `json.dumps` has already bounded the depth.)"""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            bad = [k for k in item if not isinstance(k, str)]
            if bad:
                raise InvalidInputError(
                    f"store value for {where} has the key {bad[0]!r}: JSON keys are strings, "
                    "so give it as a string")
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def decode_value(text: str) -> dict[str, Any]:
    return json.loads(text)


def search_text(text: str) -> str:
    """A text as the engine can embed and keep it: unsafe characters (NUL, lone
    surrogates) replaced, trimmed, cut at the engine's limit (the embedder reads far
    less than that anyway). Empty when nothing searchable is left."""
    return _UNSAFE.sub("\ufffd", text).strip()[:MAX_MEMORY_CHARS].strip()


def indexed_texts(value: dict[str, Any], paths: Paths) -> list[str]:
    """The texts LangGraph would embed for these paths, one per match, as search texts
    (blank matches have nothing to embed and are left out)."""
    texts = (search_text(t) for _, tokens in paths for t in get_text_at_path(value, tokens))
    return [t for t in texts if t]


def default_text(value: dict[str, Any]) -> tuple[str, str | None]:
    """The item's text when no fields are configured, and the top-level key it came from:
    the value's `content` / `text` / `memory` string (LangMem's and most agents' shape),
    else the whole value as JSON (what LangGraph embeds by default)."""
    for key in DEFAULT_TEXT_KEYS:
        field = value.get(key)
        if isinstance(field, str) and search_text(field):
            return search_text(field), key
    whole = search_text(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return whole or "{}", None
