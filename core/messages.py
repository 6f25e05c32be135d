"""Turn whatever a caller passes as `messages` into a list of {"role", "content"} dicts.

Accepts a string, one dict, a list of dicts, and message objects from LangChain
(`.type` + `.content`) or LlamaIndex (`.role` + `.content`), recognised by shape so that
`core` never imports a framework. Image parts (see `core.images`) are kept as their URLs
under the message's `images` key, beside its text. A message's time, when the caller has
it — a dict's `"timestamp"`, or `"timestamp"` in a LangChain message's `additional_kwargs`
/ `response_metadata` or a LlamaIndex message's `additional_kwargs` — is kept under
`timestamp` as ISO 8601 UTC (`core.sources`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.images import image_url_of
from mem_integrations.core.validity import event_time, iso

# {"role", "content"} and optionally "name" (str), "images" (a list of image URLs) and
# "timestamp" (ISO 8601, UTC)
Message = dict[str, Any]

_ROLE_ALIASES = {"human": "user", "ai": "assistant", "chatbot": "assistant", "model": "assistant"}


def _content_of(content: Any) -> tuple[str, list[str]]:
    """Message content as text and the URLs of its image parts. A single image part (mem0's
    shape) is an image without text; other multimodal parts keep only their text."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if isinstance(content, dict) and (url := image_url_of(content)) is not None:
        return "", [url]
    if isinstance(content, list):
        parts: list[str] = []
        images: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif (url := image_url_of(part)) is not None:
                images.append(url)
            elif hasattr(part, "text") and isinstance(part.text, str):
                parts.append(part.text)
        return "\n".join(p for p in parts if p), images
    raise InvalidInputError(f"message content must be text, got {type(content).__name__}")


def _message(role: str, content: Any) -> Message:
    text, images = _content_of(content)
    out: Message = {"role": role, "content": text}
    if images:
        out["images"] = images
    return out


def _role_of(raw: Any) -> str:
    role = raw.value if hasattr(raw, "value") else raw  # LlamaIndex MessageRole is an Enum
    role = str(role or "user").lower()
    return _ROLE_ALIASES.get(role, role)


def timestamp_of(message: Any) -> Any:
    """The time a framework message (LangChain, LlamaIndex) carries in its metadata
    (`"timestamp"` in `additional_kwargs` or `response_metadata`), as given; None."""
    for attribute in ("additional_kwargs", "response_metadata"):
        extra = getattr(message, attribute, None)
        if isinstance(extra, dict) and extra.get("timestamp") is not None:
            return extra["timestamp"]
    return None


def _dated(out: Message, timestamp: Any) -> Message:
    moment = event_time(timestamp, "a message's timestamp")
    if moment is not None:
        out["timestamp"] = iso(moment)
    return out


def _one(message: Any) -> Message:
    if isinstance(message, str):
        return {"role": "user", "content": message}
    if isinstance(message, dict):
        if "content" not in message:
            raise InvalidInputError(f"message dict needs a 'content' key: {message!r}")
        out = _message(_role_of(message.get("role", "user")), message["content"])
        if message.get("name"):
            out["name"] = str(message["name"])
        return _dated(out, message.get("timestamp"))
    if hasattr(message, "content") and (hasattr(message, "type") or hasattr(message, "role")):
        role = getattr(message, "role", None) or getattr(message, "type", None)
        return _dated(_message(_role_of(role), message.content), timestamp_of(message))
    raise InvalidInputError(
        f"cannot read a message from {type(message).__name__}: pass a string, a dict "
        "with 'role' and 'content', or a list of them"
    )


def with_timestamp(out: dict[str, Any], message: Any) -> dict[str, Any]:
    """`out` (a message as a dict, made by an adapter from a framework's `message`) with
    the time `message` carries, so that the add dates what it says."""
    when = timestamp_of(message)
    return out if when is None else {**out, "timestamp": when}


def normalize_messages(messages: Any) -> list[Message]:
    """Normalise `messages`; raise `InvalidInputError` when there is nothing to remember."""
    if messages is None:
        raise InvalidInputError("messages must not be None")
    if isinstance(messages, (str, dict)) or not isinstance(messages, Iterable):
        items = [_one(messages)]
    else:
        items = [_one(m) for m in messages]
    kept = [m for m in items if m["role"] != "system" and (m["content"].strip() or m.get("images"))]
    if not kept:
        raise InvalidInputError("messages are empty: there is nothing to remember")
    return kept


def without_images(messages: list[Message]) -> tuple[list[Message], int]:
    """The messages with their images dropped (messages left empty go too), and how many
    images were dropped."""
    dropped = sum(len(m.get("images", ())) for m in messages)
    texts = [{k: v for k, v in m.items() if k != "images"} for m in messages]
    return [m for m in texts if m["content"].strip()], dropped


def render_transcript(messages: list[Message]) -> str:
    """The conversation as plain lines for a prompt; an image is shown as a marker that
    names it ("[image 1]"), the image itself going beside the transcript, and when dated
    messages were said as a line "[2023-05-08 13:56]" before them."""
    lines: list[str] = []
    count = 0
    said = None
    for m in messages:
        markers = []
        for _ in m.get("images", ()):
            count += 1
            markers.append(f"[image {count}]")
        # when dated messages were said, on a line of its own before them (once for a run
        # said at the same minute): their relative dates count from that day
        when = m["timestamp"][:16].replace("T", " ") if m.get("timestamp") else None
        if when is not None and when != said:
            lines.append(f"[{when}]")
        said = when
        lines.append(" ".join([f"{m['role']}:", *filter(None, [m['content'].strip()]),
                               *markers]))
    return "\n".join(lines)
