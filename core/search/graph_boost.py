"""Graph hits as a boost: memories that name an entity of the relations the query found.

With graph memory on, search already finds the relations around the entities a query
mentions ("alice -lives_in-> lyon" for "Where does Alice live?"). A memory whose text
names an entity at the other end of such a relation (Lyon) is likely the one that states
it, although the query never said "Lyon": it gains a share of its score, scaled by the
relation's own relevance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mem_integrations.core.models import Relation
from mem_integrations.core.records import DATA
from mem_integrations.core.search.fusion import Ranked

__all__ = ["with_graph_hits"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", text.casefold().replace("_", " ")))


def _names(text: str, name: tuple[str, ...]) -> bool:
    words = _words(text)
    return any(words[i:i + len(name)] == name for i in range(len(words) - len(name) + 1))


def with_graph_hits(ranked: list[Ranked], relations: Sequence[Relation], *, weight: float
                    ) -> list[Ranked]:
    """`ranked` re-scored: fused × (1 + weight × the best relevance of a found relation
    one of whose entities the memory's text names), best first."""
    entities: dict[tuple[str, ...], float] = {}
    for relation in relations:
        for name in (relation.source, relation.destination):
            key = _words(name)
            if key:
                entities[key] = max(entities.get(key, 0.0), relation.score or 0.0)
    if not entities:
        return ranked
    out = []
    for r in ranked:
        text = str(r.hit.payload.get(DATA, ""))
        best = max((score for name, score in entities.items() if _names(text, name)),
                   default=0.0)
        out.append(Ranked(r.hit, r.similarity, r.fused * (1 + weight * best)) if best else r)
    return sorted(out, key=lambda r: (-r.fused, -r.similarity))
