"""Deterministic extraction and reconcile for when no LLM is configured.

It keeps the library usable offline (demos, tests, air-gapped prototypes) and is never
used when an LLM is configured. The rules are simple and predictable:

* extraction: every declarative sentence the user wrote becomes a fact, in any language
  (sentences end at Latin or CJK punctuation: . ! ? 。！？；…); a few English sentence
  shapes ("I live in X", "My sister is Anna", "Anna is my sister", "I work at X",
  "I like X") also give graph relations about the user;
* reconcile: a fact saying something stopped ("no longer", "not ... anymore", 不再,
  もう…ない, 더 이상) DELETEs its closest neighbour; a fact saying something changed
  ("moved", "now", "switched", 搬到, 现在, 引っ越, 이사) UPDATEs it, and supersedes the user's earlier relation of the same kind; anything
  else is ADDed.
"""

from __future__ import annotations

import logging
import re
import threading

from mem_integrations.core.messages import Message, render_transcript
from mem_integrations.core.models import Event
from mem_integrations.core.pipeline.extractor import ReconcileInput
from mem_integrations.core.pipeline.schema import (
    Decisions,
    EntityMention,
    Extraction,
    Fact,
    Operation,
    Triple,
)

# Latin sentence ends need a following space ("3.5 km" is one sentence); CJK ones do not.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；…!?])|\n+")
_QUESTION = re.compile(r"[?？]$")
_SMALL_TALK = re.compile(
    r"^(hi|hello|hey|thanks|thank you|ok|okay|yes|no|bye|good (morning|night))\b"
    r"|^(你好|您好|谢谢|多谢|好的|嗯|再见|拜拜|こんにちは|ありがとう|はい|いいえ|さようなら|"
    r"안녕하세요|감사합니다|고마워요|네|아니요)[\s。！!.,，]*$",
    re.IGNORECASE,
)
# CJK has no word boundaries, so those words are matched anywhere in the sentence.
_STOPPED = re.compile(
    r"\b(no longer|not any ?more|anymore|stopped|quit|gave up|don't|do not|doesn't|never)\b"
    r"|不再|再也不|已经不|戒了|不.{1,4}了$|もう.{0,8}(ない|ません)|やめ(た|ました)|더 이상|그만",
    re.IGNORECASE,
)
_CHANGED = re.compile(
    r"\b(moved|now|changed|switched|became|instead|these days|new)\b"
    r"|搬到|搬家|现在|如今|改成|换成|换了|变成|引っ越|今は|変わ|이사|지금은|바꿨|바뀌",
    re.IGNORECASE,
)
USER = "user"
_RELATION_SHAPES: list[tuple[re.Pattern[str], str | None, str]] = [
    (re.compile(r"^I (?:live|moved|relocated|have moved) (?:in|to) (?P<target>[^,;]+)", re.I),
     "lives_in", "place"),
    (re.compile(r"^I work (?:at|for) (?P<target>[^,;]+)", re.I), "works_at", "organisation"),
    (re.compile(r"^I work as an? (?P<target>[^,;]+)", re.I), "works_as", "role"),
    (re.compile(r"^My (?P<relation>[a-z]+(?: [a-z]+)?)(?:'s name)? is (?P<target>[A-Z][\w-]*)"),
     None, "person"),
    (re.compile(r"^(?P<target>[A-Z][\w-]*) is my (?P<relation>[a-z]+(?: [a-z]+)?)$"),
     None, "person"),
    (re.compile(r"^I (?:like|love|enjoy) (?P<target>[^,;]+)", re.I), "likes", "thing"),
]
_TRAILING_TIME = re.compile(r"\s+(last|this|next) (week|month|year)$|\s+(yesterday|today)$",
                            re.IGNORECASE)
_TRAILING_PUNCTUATION = ".!。！；;…"


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def relation_of(sentence: str) -> tuple[Triple, EntityMention] | None:
    """The relation a sentence states about the user, for the shapes above."""
    for pattern, relation, kind in _RELATION_SHAPES:
        match = pattern.match(sentence)
        if match:
            target = _TRAILING_TIME.sub("", match.group("target").strip()).strip()
            name = relation or match.group("relation")
            return (Triple(source=USER, relation=name, target=target),
                    EntityMention(name=target, type=kind))
    return None


log = logging.getLogger(__name__)

_NO_LLM_NOTICE = (
    "No LLM configured (no OPENAI_API_KEY, llm.api_key or llm.base_url): using the offline "
    "rule-based extractor. Memories are kept sentence by sentence and updates follow simple "
    "rules. Configure an LLM for real extraction, or set llm.provider='offline' to say this "
    "is meant.")
_announced = threading.Event()


class OfflineExtractor:
    """Rule-based stand-in for the LLM; makes no network call.

    With `announce=True` (no LLM configured, none declined either) the first extraction in
    the process logs, once, that rule-based extraction is in use: commands that extract
    nothing (list, history, search) stay quiet."""

    uses_llm = False
    vision = False

    def __init__(self, *, announce: bool = False) -> None:
        self.announce = announce

    async def extract(self, messages: list[Message], *, prompt: str | None = None,
                      graph: bool = False, known: list[str] | None = None,
                      known_relations: list[str] | None = None) -> Extraction:
        # `known` is not decided on here: the facts stay undecided and the rules of
        # `reconcile` decide them, as in the two-call add
        if self.announce and not _announced.is_set():
            _announced.set()
            log.warning(_NO_LLM_NOTICE)
        out = Extraction()
        for message in messages:
            if message["role"] != "user":
                continue
            for sentence in split_sentences(message["content"]):
                # short facts are kept: "I'm vegetarian", 我是素食者 or 素食 are whole facts
                if _QUESTION.search(sentence) or _SMALL_TALK.match(sentence):
                    continue
                text = sentence.rstrip(_TRAILING_PUNCTUATION).strip()
                if not text:
                    continue
                found = relation_of(text) if graph else None
                if found:
                    triple, entity = found
                    triple.fact = len(out.facts)
                    out.relations.append(triple)
                    out.entities.append(entity)
                out.facts.append(Fact(text=text))
        if out.relations:
            out.entities.append(EntityMention(name=USER, type="person"))
        return out

    async def reconcile(self, data: ReconcileInput) -> Decisions:
        decisions = Decisions()
        claimed: set[int] = set()
        changed_facts: set[int] = set()
        for index, (fact, neighbours) in enumerate(zip(data.facts, data.neighbours, strict=True)):
            closest = next((i for i, _ in neighbours if i not in claimed), None)
            if closest is not None and _STOPPED.search(fact.text):
                claimed.add(closest)
                decisions.operations.append(Operation(event=Event.DELETE, id=closest))
                decisions.operations.append(Operation(event=Event.ADD, text=fact.text))
            elif closest is not None and _CHANGED.search(fact.text):
                claimed.add(closest)
                changed_facts.add(index)
                decisions.operations.append(Operation(event=Event.UPDATE, id=closest,
                                                      text=fact.text))
            else:
                decisions.operations.append(Operation(event=Event.ADD, text=fact.text))
        for new in data.new_relations:
            if new.fact not in changed_facts:
                continue
            decisions.invalidate.extend(
                i for i, old in enumerate(data.relations or [])
                if (old.source, old.relation) == (new.source, new.relation)
                and old.target.lower() != new.target.lower())
        return decisions

    async def summarize_procedure(self, messages: list[Message], *,
                                  prompt: str | None = None) -> str:
        return render_transcript(messages)
