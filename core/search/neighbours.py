"""Neighbouring turns as context: a verbatim turn is scored with the turns next to it.

Conversation turns stored as they were said often make sense only with their neighbours:
"Yes, last week!" answers the turn before it, which holds the words a question uses.
Each candidate gains a share of the best fused score among the candidates right before
and after it in its thread (metadata `thread_key` equal, `position_key` ±1). Only the
candidates are looked at, so it costs no store round trip.
"""

from __future__ import annotations

from mem_integrations.core.records import METADATA
from mem_integrations.core.search.fusion import Ranked
from mem_integrations.core.turn_context import thread_place

__all__ = ["with_neighbours"]


def with_neighbours(ranked: list[Ranked], *, weight: float, thread_key: str,
                    position_key: str) -> list[Ranked]:
    """`ranked` re-scored: fused + weight × the best neighbour's fused score, best first."""
    places = [thread_place(r.hit.payload.get(METADATA), thread_key, position_key)
              for r in ranked]
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
