"""Deterministic extraction and reconcile for when no LLM is configured.

It keeps the library usable offline (demos, tests, air-gapped prototypes) and is never
used when an LLM is configured. The rules are simple and predictable:

* extraction: every declarative sentence the user wrote becomes a fact;
* reconcile: a fact saying something stopped ("no longer", "not ... anymore") DELETEs
  its closest neighbour; a fact saying something changed ("moved", "now", "switched")
  UPDATEs it; anything else is ADDed.
"""

from __future__ import annotations

import re

from core.messages import Message, render_transcript
from core.models import Event
from core.pipeline.extractor import ReconcileInput
from core.pipeline.schema import Fact, Operation

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_SMALL_TALK = re.compile(r"^(hi|hello|hey|thanks|thank you|ok|okay|bye|good (morning|night))\b",
                         re.IGNORECASE)
_STOPPED = re.compile(
    r"\b(no longer|not any ?more|anymore|stopped|quit|gave up|don't|do not|doesn't|never)\b",
    re.IGNORECASE,
)
_CHANGED = re.compile(
    r"\b(moved|now|changed|switched|became|instead|these days|new)\b", re.IGNORECASE
)
MIN_WORDS = 3


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


class OfflineExtractor:
    """Rule-based stand-in for the LLM; makes no network call."""

    uses_llm = False

    async def extract(self, messages: list[Message], *, prompt: str | None = None) -> list[Fact]:
        facts: list[Fact] = []
        for message in messages:
            if message["role"] != "user":
                continue
            for sentence in split_sentences(message["content"]):
                if sentence.endswith("?") or _SMALL_TALK.match(sentence):
                    continue
                if len(sentence.split()) < MIN_WORDS:
                    continue
                facts.append(Fact(text=sentence.rstrip(".!")))
        return facts

    async def reconcile(self, data: ReconcileInput) -> list[Operation]:
        operations: list[Operation] = []
        claimed: set[int] = set()
        for fact, neighbours in zip(data.facts, data.neighbours, strict=True):
            closest = next((i for i, _ in neighbours if i not in claimed), None)
            if closest is not None and _STOPPED.search(fact.text):
                claimed.add(closest)
                operations.append(Operation(event=Event.DELETE, id=closest))
                operations.append(Operation(event=Event.ADD, text=fact.text))
            elif closest is not None and _CHANGED.search(fact.text):
                claimed.add(closest)
                operations.append(Operation(event=Event.UPDATE, id=closest, text=fact.text))
            else:
                operations.append(Operation(event=Event.ADD, text=fact.text))
        return operations

    async def summarize_procedure(self, messages: list[Message], *,
                                  prompt: str | None = None) -> str:
        return render_transcript(messages)
