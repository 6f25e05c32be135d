"""Checks every string and JSON value from a caller passes before it is stored: what the
stores below cannot hold safely is refused at the edge with a typed error, so it can never
reach (and break) the vector store, the history or the graph.

Qdrant's payload decoder gives up at 128 levels of nesting, and then the whole embedded
store stops opening — for every user — so metadata depth is held far below that. Lone
surrogates cannot be encoded as UTF-8 (SQLite, JSON and the network all need it), NUL
truncates strings in C libraries, and Qdrant filters integers as 64-bit.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mem_integrations.core.errors import InvalidInputError

__all__ = ["MAX_METADATA_DEPTH", "check_clean_text", "check_json_value"]

MAX_METADATA_DEPTH = 16
_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")
_I64 = (-(2**63), 2**63 - 1)


def check_clean_text(text: str, what: str) -> str:
    """`text` unless it holds a NUL or a lone surrogate (`InvalidInputError`)."""
    found = _UNSAFE.search(text)
    if found:
        kind = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
        raise InvalidInputError(f"{what} contains {kind} at position {found.start()}; "
                                "send valid UTF-8 text")
    return text


def check_json_value(value: Any, what: str) -> None:
    """Walk a JSON value (without recursion, so no depth can overflow the stack) and
    refuse what the stores cannot keep: nesting deeper than MAX_METADATA_DEPTH, unsafe
    strings, integers outside 64 bits, NaN and infinities."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_METADATA_DEPTH:
                raise InvalidInputError(f"{what} is nested more than {MAX_METADATA_DEPTH} "
                                        "levels deep; flatten it")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    check_clean_text(key, f"a key of {what}")
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            check_clean_text(item, f"a value of {what}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int) and not _I64[0] <= item <= _I64[1]:
            raise InvalidInputError(f"{what} holds the integer {item}, outside 64 bits; "
                                    "store it as a string")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidInputError(f"{what} holds {item}; use a finite number or null")
