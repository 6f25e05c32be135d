"""Neighbouring turns as context: a verbatim turn is scored with the turns next to it.

Conversation turns stored as they were said often make sense only with their neighbours:
"Yes, last week!" answers the turn before it, which holds the words a question uses.
Each candidate gains a share of the best fused score among the candidates right before
and after it in its thread (metadata `thread_key` equal, `position_key` ±1). Only the
candidates are looked at, so it costs no store round trip.
"""

from __future__ import annotations

from typing import Any

from mem_integrations.core.records import METADATA
from mem_integrations.core.search.fusion import Ranked

__all__ = ["with_neighbours"]


def _place(payload: dict[str, Any], thread_key: str, position_key: str
           ) -> tuple[str, int] | None:
    metadata = payload.get(METADATA) or {}
    thread, position = metadata.get(thread_key), metadata.get(position_key)
    if thread is None or not isinstance(position, int) or isinstance(position, bool):
        return None
    return str(thread), position


def with_neighbours(ranked: list[Ranked], *, weight: float, thread_key: str,
                    position_key: str) -> list[Ranked]:
    """`ranked` re-scored: fused + weight × the best neighbour's fused score, best first."""
    places = [_place(r.hit.payload, thread_key, position_key) for r in ranked]
    score = {place: r.fused for place, r in zip(places, ranked, strict=True) if place}
    out = []
    for place, r in zip(places, ranked, strict=True):
        if place is None:
            out.append(r)
            continue
        thread, position = place
        best = max(score.get((thread, position - 1), 0.0), score.get((thread, position + 1), 0.0))
        out.append(Ranked(r.hit, r.similarity, r.fused + weight * best) if best else r)
    return sorted(out, key=lambda r: (-r.fused, -r.similarity))
