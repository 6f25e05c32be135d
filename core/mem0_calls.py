"""mem0's call spellings that mean nothing here: accepted with a warning, so mem0 code
runs unchanged, while any other unknown argument stays a clear error.

mem0's own arguments that do mean something are real parameters of the methods
(`update(..., data=)`, `search(..., top_k=)`, scope ids inside `filters`).
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["accept_mem0_options"]

# method -> mem0 arguments with no effect here, and why
_HARMLESS: dict[str, dict[str, str]] = {
    "add": {"output_format": "results always have mem0 v1.1's shape",
            "version": "results always have mem0 v1.1's shape"},
    "search": {"output_format": "results always have mem0 v1.1's shape",
               "version": "results always have mem0 v1.1's shape",
               "explain": "not supported",
               "show_expired": "memories do not expire"},
    "get_all": {"output_format": "results always have mem0 v1.1's shape",
                "version": "results always have mem0 v1.1's shape",
                "show_expired": "memories do not expire"},
}


def accept_mem0_options(method: str, options: dict[str, Any]) -> None:
    """Warn about mem0 arguments that change nothing; `TypeError` for anything else."""
    harmless = _HARMLESS.get(method, {})
    if unknown := [k for k in options if k not in harmless]:
        raise TypeError(f"{method}() got an unexpected keyword argument {unknown[0]!r}")
    for key in options:
        warnings.warn(f"{method}({key}=...) is a mem0 argument with no effect here "
                      f"({harmless[key]}); it is ignored", FutureWarning, stacklevel=4)
