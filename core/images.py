"""Images in messages: recognised, checked, and either shown to a vision model in the one
extraction call or reported as skipped.

An image part comes in OpenAI's shape, inside a content list —
`{"type": "image_url", "image_url": {"url": ...}}` — or in mem0's, as a message's whole
content. `core.messages` keeps its URL under the message's `images` key; this module
checks those URLs (http(s), or a base64 `data:image/...` URL no larger than the limit)
before anything is written, and decides whether the configured LLM can see them.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

from mem_integrations.core.errors import InvalidInputError

__all__ = ["IMAGE_CATEGORY", "ImagesSkippedWarning", "check_images", "image_url_of",
           "is_vision_model"]

# The category the facts a vision model read from an image carry, so they can be told
# apart (and filtered) after the add.
IMAGE_CATEGORY = "image"

# Model-name prefixes known to accept image input on OpenAI-compatible endpoints. Kept
# conservative on purpose: a text-only model sent an image part fails the whole add, so
# a family is listed only when all its models take images ("gpt-4o-mini" does; not
# listed: "gpt-4-turbo-preview", "o3-mini", "deepseek-chat", which do not). Anything else
# needs `llm.vision = true`.
_VISION_PREFIXES = (
    "gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4-vision", "gpt-5",
    "claude-3", "claude-sonnet-4", "claude-opus-4", "gemini-1.5", "gemini-2", "gemini-3",
    "qwen-vl", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "qvq", "glm-4v", "glm-4.5v",
    "llava", "llama3.2-vision", "llama-3.2-11b-vision", "llama-3.2-90b-vision",
    "pixtral", "minicpm-v", "internvl",
)



class ImagesSkippedWarning(UserWarning):
    """An add dropped the images of its messages (the LLM has no vision, or the add stores
    text verbatim); `AddResult.skipped_images` counts them."""


_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.IGNORECASE | re.DOTALL)


def is_vision_model(model: str) -> bool:
    """Whether a model name (a provider prefix such as "openai/" is ignored) is a known
    vision model."""
    name = model.rsplit("/", 1)[-1].lower()
    return name.startswith(_VISION_PREFIXES)


def image_url_of(part: Any) -> str | None:
    """The URL of an image part (`{"type": "image_url", "image_url": {"url": ...}}`, the
    URL also accepted as a plain string), or None when `part` is not an image part."""
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return None
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError(
            "an image_url part needs a URL: {\"type\": \"image_url\", \"image_url\": "
            "{\"url\": \"https://...\" or \"data:image/png;base64,...\"}}")
    return url.strip()


def _check_one(url: str, max_bytes: int) -> None:
    if url[:5].lower() == "data:":
        match = _DATA_URL.match(url)
        if match is None:
            raise InvalidInputError(
                "an image data URL must read data:image/<type>;base64,<data> "
                f"(got {url[:40]!r}...)")
        encoded = "".join(match.group(2).split())
        # the decoded size is known from the length; checked first so an oversized image
        # is refused without decoding it
        size = len(encoded) * 3 // 4
        if size > max_bytes:
            raise InvalidInputError(
                f"an image in the messages is {size} bytes; the limit is {max_bytes} "
                "(llm.max_image_bytes): resize it or pass an https URL")
        try:
            base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError(
                "an image data URL holds invalid base64: encode the image bytes with "
                "base64 (standard alphabet, with padding)") from None
        return
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(
            f"an image URL must be http(s) or a base64 data URL, got {url[:60]!r}: "
            "upload the file and pass its URL, or inline it as data:image/png;base64,...")


def check_images(messages: list[dict[str, Any]], *, max_bytes: int, max_images: int) -> int:
    """Check every image of `messages` (raises `InvalidInputError`) and return how many
    there are."""
    urls = [url for m in messages for url in m.get("images", ())]
    if len(urls) > max_images:
        raise InvalidInputError(
            f"the messages hold {len(urls)} images; one add takes at most {max_images} "
            "(llm.max_images): split them over several adds")
    for url in urls:
        _check_one(url, max_bytes)
    return len(urls)
