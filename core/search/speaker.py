"""Who said it: a memory whose speaker the query names gains a share of its score.

"What did Caroline research?" is about what Caroline said, not what was said to her: in a
conversation both speakers' turns mention her name, and BM25 weighs the name low because
half the turns carry it. The speaker is the memory's metadata `speaker_key` (a verbatim
turn's author), else its `actor_id` (the `name` of the message it came from).
"""

from __future__ import annotations

import re

from mem_integrations.core.records import ACTOR_ID, METADATA
from mem_integrations.core.search.fusion import Ranked

__all__ = ["with_speakers"]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def with_speakers(query: str, ranked: list[Ranked], *, weight: float, speaker_key: str
                  ) -> list[Ranked]:
    """`ranked` re-scored: fused × (1 + weight) for memories whose speaker's name (every
    word of it) is in the query, best first."""
    asked = _words(query)
    named: dict[object, bool] = {}  # per speaker: a conversation has few, ~250 candidates
    out = []
    for r in ranked:
        speaker = (r.hit.payload.get(METADATA) or {}).get(speaker_key) \
            or r.hit.payload.get(ACTOR_ID)
        if speaker not in named:
            words = _words(speaker) if isinstance(speaker, str) else set()
            named[speaker] = bool(words) and words <= asked
        out.append(Ranked(r.hit, r.similarity, r.fused * (1 + weight)) if named[speaker] else r)
    return sorted(out, key=lambda r: (-r.fused, -r.similarity))
