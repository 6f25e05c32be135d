"""LOCOMO-format conversations as a retrieval set: every turn a memory, every question
with evidence a query whose expected facts are its evidence turns.

LOCOMO (Maharana et al., 2024) is CC BY-NC 4.0: this module only reads a file the user
has; nothing of the data set ships with the library.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.evals.retrieval import EvalFact, EvalQuestion

__all__ = ["CATEGORIES", "load_locomo", "parse_evidence"]

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop",
              5: "adversarial"}


def parse_evidence(raw: list[str]) -> list[str]:
    """LOCOMO evidence ids, including malformed ones ("D8:6; D9:17", "D:11:26")."""
    out: list[str] = []
    for entry in raw:
        for part in re.split(r"[;,\s]+", str(entry)):
            m = re.fullmatch(r"D:?(\d+):(\d+)", part.strip())
            if m:
                dia = f"D{int(m.group(1))}:{int(m.group(2))}"
                if dia not in out:
                    out.append(dia)
    return out


def turn_text(date: str, turn: dict[str, Any]) -> str:
    """A turn as one memory: its session date, speaker and text, and a shared photo's
    caption (LOCOMO's questions often ask about what a photo showed)."""
    text = f"[{date}] {turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" (shared a photo: {turn['blip_caption']})"
    return text


def turn_place(dia_id: str) -> dict[str, Any]:
    """A turn's metadata: its LOCOMO id and, when the id is well formed ("D3:12"), its
    session and position there (what `search.ranking.neighbour_weight` reads)."""
    m = re.fullmatch(r"D(\d+):(\d+)", dia_id)
    place = {"session": int(m.group(1)), "turn": int(m.group(2))} if m else {}
    return {"dia_id": dia_id, **place}


def load_locomo(path: str | Path, *, categories: tuple[int, ...] = (1, 2, 3, 4),
                samples: int | None = None) -> tuple[list[EvalFact], list[EvalQuestion]]:
    """Facts and questions of a LOCOMO file. Each conversation is its own scope; the
    adversarial category (5, questions with no answer in the conversation) is left out
    by default, as recall is undefined for it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"cannot read a LOCOMO file at {path}: {exc}") from None
    facts: list[EvalFact] = []
    questions: list[EvalQuestion] = []
    for sample in data[:samples]:
        scope = str(sample["sample_id"])
        conversation = sample["conversation"]
        for key, turns in conversation.items():
            if not (key.startswith("session_") and isinstance(turns, list)):
                continue
            date = conversation.get(f"{key}_date_time", "")
            facts.extend(EvalFact(t["dia_id"], turn_text(date, t), scope,
                                  {**turn_place(t["dia_id"]), "speaker": t["speaker"]})
                         for t in turns)
        known = {f.id for f in facts if f.scope == scope}
        for qa in sample.get("qa", []):
            evidence = [e for e in parse_evidence(qa.get("evidence", [])) if e in known]
            if evidence and qa.get("category") in categories:
                questions.append(EvalQuestion(qa["question"], tuple(evidence), scope,
                                              CATEGORIES.get(qa["category"], str(qa["category"]))))
    return facts, questions
