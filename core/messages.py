"""Turn whatever a caller passes as `messages` into a list of {"role", "content"} dicts.

Accepts a string, one dict, a list of dicts, and message objects from LangChain
(`.type` + `.content`) or LlamaIndex (`.role` + `.content`), recognised by shape so that
`core` never imports a framework.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mem_integrations.core.errors import InvalidInputError

Message = dict[str, str]

_ROLE_ALIASES = {"human": "user", "ai": "assistant", "chatbot": "assistant", "model": "assistant"}


def _text_of(content: Any) -> str:
    """Message content as text; multimodal parts keep only their text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif hasattr(part, "text") and isinstance(part.text, str):
                parts.append(part.text)
        return "\n".join(p for p in parts if p)
    raise InvalidInputError(f"message content must be text, got {type(content).__name__}")


def _role_of(raw: Any) -> str:
    role = raw.value if hasattr(raw, "value") else raw  # LlamaIndex MessageRole is an Enum
    role = str(role or "user").lower()
    return _ROLE_ALIASES.get(role, role)


def _one(message: Any) -> Message:
    if isinstance(message, str):
        return {"role": "user", "content": message}
    if isinstance(message, dict):
        if "content" not in message:
            raise InvalidInputError(f"message dict needs a 'content' key: {message!r}")
        out = {"role": _role_of(message.get("role", "user")), "content": _text_of(message["content"])}
        if message.get("name"):
            out["name"] = str(message["name"])
        return out
    if hasattr(message, "content") and (hasattr(message, "type") or hasattr(message, "role")):
        role = getattr(message, "role", None) or getattr(message, "type", None)
        return {"role": _role_of(role), "content": _text_of(message.content)}
    raise InvalidInputError(
        f"cannot read a message from {type(message).__name__}: pass a string, a dict "
        "with 'role' and 'content', or a list of them"
    )


def normalize_messages(messages: Any) -> list[Message]:
    """Normalise `messages`; raise `InvalidInputError` when there is nothing to remember."""
    if messages is None:
        raise InvalidInputError("messages must not be None")
    if isinstance(messages, (str, dict)) or not isinstance(messages, Iterable):
        items = [_one(messages)]
    else:
        items = [_one(m) for m in messages]
    kept = [m for m in items if m["role"] != "system" and m["content"].strip()]
    if not kept:
        raise InvalidInputError("messages are empty: there is nothing to remember")
    return kept


def render_transcript(messages: list[Message]) -> str:
    """The conversation as plain lines for a prompt."""
    return "\n".join(f"{m['role']}: {m['content'].strip()}" for m in messages)
