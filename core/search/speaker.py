"""Who said it: a memory whose speaker the query names gains a share of its score, and
the text search looks for what is asked about, without the name.

"What did Caroline research?" is about what Caroline said, not what was said to her: in a
conversation both speakers' turns mention her name, and BM25 weighs the name low because
half the turns carry it. The speaker is the memory's metadata `speaker_key` (a verbatim
turn's author), else its `actor_id` (the `name` of the message it came from).

Once the speaker step carries "who", the name only pulls the query's embedding and terms
towards the turns that address that person ("Hey Caroline, ..."), not those she said. So
when the memories searched have two or more turn speakers (metadata `speaker_key`), the
names of those the query gives are taken out of the text the dense and lexical sides
search for ("What did research?"); the speaker step, the graph and a reranker still
read the query as asked. On LOCOMO dev (benchmarks/RESULTS.md, section 9) this lifts
every question category. With one speaker the speaker step favours every memory alike,
so the name is kept; and message names (`actor_id`) are never taken out, because the
facts a person stated ("Bob works as a nurse", "Alice works as a teacher", both from
Alice's messages) name their subject, which only the name in the query can pick.

A speaker is named when every word of their name is a word of the query. Chinese,
Japanese and Korean are written without spaces, so a CJK name (two characters or more)
is named when it appears anywhere in the query: "小明喜欢什么？" names 小明.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mem_integrations.core.records import ACTOR_ID, METADATA
from mem_integrations.core.search.fusion import Ranked
from mem_integrations.core.search.lexical import has_cjk

__all__ = ["named_speakers", "speaker_field", "with_speakers", "without_names"]


def speaker_field(speaker_key: str) -> str:
    """The payload field of a turn's speaker (metadata `speaker_key`): what the store
    indexes and counts the speakers by."""
    return f"{METADATA}.{speaker_key}"


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _names(speaker: object, query: str, asked: set[str]) -> bool:
    if not isinstance(speaker, str):
        return False
    if has_cjk(speaker):
        name = speaker.strip()
        return len(name) >= 2 and name.casefold() in query.casefold()
    words = _words(speaker)
    return bool(words) and words <= asked


def named_speakers(query: str, speakers: Iterable[str]) -> list[str]:
    """The speakers the query names (those `with_speakers` favours for it)."""
    asked = _words(query)
    return [s for s in speakers if _names(s, query, asked)]


def without_names(query: str, names: Iterable[str]) -> str:
    """`query` with the given speaker names taken out (each word of a name, with a
    possessive 's), to be searched for; the query as it is when no word would be left."""
    text = query
    for name in names:
        if has_cjk(name):
            text = re.sub(re.escape(name.strip()), " ", text, flags=re.IGNORECASE)
            continue
        for word in _words(name):
            text = re.sub(rf"\b{re.escape(word)}(?:['’]s)?\b", " ", text, flags=re.IGNORECASE)
    text = " ".join(text.split())
    return text if _words(text) else query


def with_speakers(query: str, ranked: list[Ranked], *, weight: float, speaker_key: str
                  ) -> list[Ranked]:
    """`ranked` re-scored: fused × (1 + weight) for memories whose speaker the query names
    (every word of the name is in the query), best first."""
    asked = _words(query)
    named: dict[object, bool] = {}  # per speaker: a conversation has few, ~250 candidates
    out = []
    for r in ranked:
        speaker = (r.hit.payload.get(METADATA) or {}).get(speaker_key) \
            or r.hit.payload.get(ACTOR_ID)
        if speaker not in named:
            named[speaker] = _names(speaker, query, asked)
        out.append(Ranked(r.hit, r.similarity, r.fused * (1 + weight)) if named[speaker] else r)
    return sorted(out, key=lambda r: (-r.fused, -r.similarity))
