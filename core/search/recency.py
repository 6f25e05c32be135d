"""Recency: newer memories gain a little, with a half-life.

Off by default: what a memory says does not lose truth with age (supersession is the
validity's job, see `core.validity`), but for preferences and plans the newest is most
often the one asked about.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from mem_integrations.core.records import CREATED_AT, UPDATED_AT
from mem_integrations.core.search.fusion import Ranked

__all__ = ["with_recency"]


def _age_days(payload: dict, now: datetime) -> float | None:
    stamp = payload.get(UPDATED_AT) or payload.get(CREATED_AT)
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((now - when).total_seconds() / 86400, 0.0)


def with_recency(ranked: list[Ranked], *, weight: float, half_life_days: float,
                 now: datetime | None = None) -> list[Ranked]:
    """`ranked` re-scored: fused × (1 + weight × 2^(-age / half-life)), best first."""
    now = now or datetime.now(UTC)
    out = []
    for r in ranked:
        age = _age_days(r.hit.payload, now)
        boost = 0.0 if age is None else weight * 2 ** (-age / half_life_days)
        out.append(replace(r, fused=r.fused * (1 + boost)))
    return sorted(out, key=lambda r: (-r.fused, -r.similarity))
