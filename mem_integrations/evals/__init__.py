"""Retrieval evals you can run on your own data or on LOCOMO, for any configuration.

    from mem_integrations.evals import evaluate, load_jsonl
    facts, questions = load_jsonl("my_set.jsonl")
    report = asyncio.run(evaluate(facts, questions, config={"search": {...}}))
    print(report.table())
"""

from mem_integrations.evals.locomo import CATEGORIES, load_locomo, parse_evidence
from mem_integrations.evals.retrieval import (
    EvalFact,
    EvalQuestion,
    EvalReport,
    evaluate,
    load_jsonl,
)

__all__ = ["CATEGORIES", "EvalFact", "EvalQuestion", "EvalReport", "evaluate", "load_jsonl",
           "load_locomo", "parse_evidence"]
