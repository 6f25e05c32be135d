"""Tolerant reading of JSON from LLM replies: think-blocks, code fences, prose around the
object, trailing commas and other near-JSON are all accepted."""

from __future__ import annotations

import re
from typing import Any

import json_repair

_THINK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


class UnparseableReply(ValueError):
    """The reply holds no JSON object."""


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text`, repaired if needed; `UnparseableReply` if none."""
    if not isinstance(text, str) or not text.strip():
        raise UnparseableReply("empty reply")
    cleaned = _THINK.sub("", text)
    # An unclosed think-block (reply cut short) leaves nothing usable before its end.
    cleaned = re.sub(r"<think(?:ing)?>.*", "", cleaned, flags=re.DOTALL | re.IGNORECASE)
    fenced = _FENCE.search(cleaned)
    if fenced:
        cleaned = fenced.group(1)
    start = cleaned.find("{")
    if start < 0:
        raise UnparseableReply("no JSON object in reply")
    try:
        value = json_repair.loads(cleaned[start:])
    except Exception as exc:  # json_repair raises assorted errors on garbage
        raise UnparseableReply(f"cannot repair JSON: {exc}") from exc
    if isinstance(value, list):  # repaired "{...} trailing {...}" can come back as a list
        value = next((v for v in value if isinstance(v, dict)), None)
    if not isinstance(value, dict):
        raise UnparseableReply("reply JSON is not an object")
    return value
