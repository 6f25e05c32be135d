"""Loading the LOCOMO dev split from ../shared (benchmark use only: CC BY-NC 4.0, never
shipped in the package)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "shared/data/locomo/locomo_dev.json"


@dataclass
class Session:
    sample_id: str
    number: int
    date: str
    turns: list[dict]
    observations: list[str]


def load(path: Path | None = None) -> list[dict]:
    path = path or Path(os.environ.get("LOCOMO_PATH", DEFAULT_PATH))
    return json.loads(path.read_text())


def sessions(sample: dict) -> list[Session]:
    conversation = sample["conversation"]
    numbers = sorted(int(k.split("_")[1]) for k in conversation
                     if k.startswith("session_") and not k.endswith("date_time"))
    out = []
    for n in numbers:
        observed = sample.get("observation", {}).get(f"session_{n}_observation", {}) or {}
        facts = [fact for per_speaker in observed.values() for fact, *_ in per_speaker]
        out.append(Session(sample["sample_id"], n, conversation.get(f"session_{n}_date_time", ""),
                           conversation[f"session_{n}"], facts))
    return out
