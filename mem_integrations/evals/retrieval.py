"""Retrieval quality of a memory configuration on a labelled set: facts, questions, and
which facts answer each question.

The facts are written verbatim (no LLM) into a throwaway store built from the given
config, every question is searched, and the ranks of the expected facts give hit@k,
recall@k and MRR, per category and overall, with search latency. No LLM judge: the
figures depend only on retrieval, so they are exact and repeatable.

A set is a JSONL file with two kinds of lines (see `load_jsonl`):

    {"id": "home", "text": "I live in Lyon.", "scope": "alice"}
    {"question": "Where do I live?", "expected": ["home"], "scope": "alice", "category": "place"}

`scope` (a user id) and `category` are optional.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.models import PutItem

__all__ = ["EvalFact", "EvalQuestion", "EvalReport", "evaluate", "load_jsonl"]

DEFAULT_SCOPE = "eval-user"
KS = (1, 3, 5, 10, 20)


@dataclass(frozen=True)
class EvalFact:
    """A memory of the set, written verbatim."""

    id: str
    text: str
    scope: str = DEFAULT_SCOPE
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalQuestion:
    """A query, the ids of the facts that answer it, and an optional category."""

    question: str
    expected: tuple[str, ...]
    scope: str = DEFAULT_SCOPE
    category: str = "all"


@dataclass
class EvalReport:
    """Per category (and "overall"): hit@k, recall@k, MRR, question counts; search latency
    (end to end, reranking included) and, when a reranker ran, its calls and mean time."""

    categories: dict[str, dict[str, float]]
    search_ms_p50: float
    search_ms_p95: float
    facts: int
    questions: int
    misses: list[dict[str, Any]] = field(default_factory=list)
    rerank_calls: int = 0
    rerank_ms_mean: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"categories": self.categories, "search_ms_p50": self.search_ms_p50,
                "search_ms_p95": self.search_ms_p95, "facts": self.facts,
                "questions": self.questions, "misses": self.misses,
                "rerank_calls": self.rerank_calls, "rerank_ms_mean": self.rerank_ms_mean}

    def table(self) -> str:
        """A plain-text table, one row per category."""
        columns = ["hit@1", "hit@3", "hit@10", "recall@10", "mrr", "questions"]
        lines = ["category".ljust(14) + "".join(c.rjust(11) for c in columns)]
        for name, row in self.categories.items():
            cells = [f"{row[c]:.0f}" if c == "questions" else f"{row[c]:.3f}" for c in columns]
            lines.append(name.ljust(14) + "".join(c.rjust(11) for c in cells))
        lines.append(f"search p50 {self.search_ms_p50:.1f} ms, p95 {self.search_ms_p95:.1f} ms; "
                     f"{self.facts} facts, {self.questions} questions")
        if self.rerank_ms_mean is not None:
            lines.append(f"reranking: {self.rerank_ms_mean:.1f} ms a search on average, "
                         f"{self.rerank_calls} provider calls")
        return "\n".join(lines)


def load_jsonl(path: str | Path) -> tuple[list[EvalFact], list[EvalQuestion]]:
    """Read a set: lines with `text` are facts, lines with `question` are questions."""
    facts: list[EvalFact] = []
    questions: list[EvalQuestion] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}:{number}: not JSON ({exc.msg})") from None
        scope = str(row.get("scope") or DEFAULT_SCOPE)
        if "question" in row:
            expected = row.get("expected")
            if not isinstance(expected, list) or not expected:
                raise InvalidInputError(f"{path}:{number}: a question needs a non-empty "
                                        f"'expected' list of fact ids")
            questions.append(EvalQuestion(str(row["question"]), tuple(map(str, expected)),
                                          scope, str(row.get("category") or "all")))
        elif "text" in row and "id" in row:
            facts.append(EvalFact(str(row["id"]), str(row["text"]), scope,
                                  dict(row.get("metadata") or {})))
        else:
            raise InvalidInputError(f"{path}:{number}: expected a fact ({{'id', 'text'}}) or a "
                                    f"question ({{'question', 'expected'}})")
    known = {(f.scope, f.id) for f in facts}
    for q in questions:
        if unknown := [e for e in q.expected if (q.scope, e) not in known]:
            raise InvalidInputError(f"question {q.question!r} expects unknown fact ids {unknown}")
    return facts, questions


def _summary(ranks: Sequence[list[int | None]], expected: Sequence[int]) -> dict[str, float]:
    """Metrics from, per question, the rank (0-based) of each expected fact or None."""
    row: dict[str, float] = {}
    for k in KS:
        row[f"hit@{k}"] = statistics.fmean(
            any(r is not None and r < k for r in found) for found in ranks)
        row[f"recall@{k}"] = statistics.fmean(
            sum(r is not None and r < k for r in found) / n
            for found, n in zip(ranks, expected, strict=True))
    row["mrr"] = statistics.fmean(
        1 / (1 + min((r for r in found if r is not None), default=10**9)) for found in ranks)
    row["questions"] = len(ranks)
    return row


async def evaluate(facts: Iterable[EvalFact], questions: Iterable[EvalQuestion], *,
                   config: MemoryConfig | dict[str, Any] | None = None, limit: int = 20,
                   memory: AsyncMemory | None = None, **parts: Any) -> EvalReport:
    """Write `facts` verbatim into a throwaway store (`config` with a temporary data
    directory, or the given, empty `memory`), search every question, and score the ranks.
    `parts` are handed to `AsyncMemory` (a ready `embedder=`, for example).
    """
    facts, questions = list(facts), list(questions)
    if not facts or not questions:
        raise InvalidInputError("an evaluation needs at least one fact and one question")
    with tempfile.TemporaryDirectory(prefix="memint-eval-") as tmp:
        owned = memory is None
        if isinstance(config, MemoryConfig):
            config = config.model_copy(update={"data_dir": Path(tmp)})
        else:
            config = {**(config or {}), "data_dir": tmp}
        engine = memory or AsyncMemory(config, **parts)
        try:
            # fact ids are unique within a scope only (LOCOMO's "D1:3" is in every conversation)
            ids = {(f.scope, f.id): str(uuid.uuid5(uuid.NAMESPACE_URL, f"{f.scope}/{f.id}"))
                   for f in facts}
            for start in range(0, len(facts), 500):
                await engine.put_many([PutItem(id=ids[f.scope, f.id], text=f.text, user_id=f.scope,
                                               metadata=f.metadata or None)
                                       for f in facts[start:start + 500]])
            by_memory = {memory_id: fact_id for (_, fact_id), memory_id in ids.items()}
            per_category: dict[str, list[list[int | None]]] = defaultdict(list)
            sizes: dict[str, list[int]] = defaultdict(list)
            timings: list[float] = []
            misses: list[dict[str, Any]] = []
            before = replace(engine.reranking.stats)
            for q in questions:
                began = time.perf_counter()
                found = await engine.search(q.question, user_id=q.scope, limit=limit)
                timings.append((time.perf_counter() - began) * 1000)
                order = [by_memory.get(item.id) for item in found.results]
                ranks = [order.index(e) if e in order else None for e in q.expected]
                for bucket in (q.category, "overall"):
                    per_category[bucket].append(ranks)
                    sizes[bucket].append(len(q.expected))
                if 0 not in ranks:
                    misses.append({"question": q.question, "expected": list(q.expected),
                                   "top": order[:3], "category": q.category})
            after = engine.reranking.stats
            reranked = after.searches - before.searches
        finally:
            if owned:
                await engine.close()
    categories = {name: _summary(per_category[name], sizes[name])
                  for name in sorted(per_category, key=lambda n: (n == "overall", n))}
    ordered = sorted(timings)
    return EvalReport(categories=categories, search_ms_p50=statistics.median(ordered),
                      search_ms_p95=ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
                      facts=len(facts), questions=len(questions), misses=misses,
                      rerank_calls=after.calls - before.calls,
                      rerank_ms_mean=(after.seconds - before.seconds) * 1000 / reranked
                      if reranked else None)
