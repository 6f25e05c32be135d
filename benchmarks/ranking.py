"""Search-quality experiments on the LOCOMO dev split: each ranking option measured on
its own, on chosen conversations and on conversations held aside.

Every turn and question is embedded once per model and the vectors cached under
benchmarks/.work/embeddings/ (LOCOMO has ~2,800 turns; the machine is shared), so a
variant costs only the store writes and the searches.

    python -m benchmarks.ranking                      # every variant, both splits
    python -m benchmarks.ranking --variants baseline,mmr-0.85 --embedder torch
    python -m benchmarks.ranking --variants "" --end-to-end --rerank
    python -m benchmarks.ranking_report             # then section 9 of RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import pickle
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from benchmarks.locomo import DEFAULT_PATH  # noqa: E402
from mem_integrations.core.config import EmbedderConfig  # noqa: E402
from mem_integrations.core.providers.base import BaseEmbedder, EmbedKind  # noqa: E402
from mem_integrations.evals import evaluate, load_locomo  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".work" / "embeddings"
RESULTS = Path(__file__).resolve().parent / "results" / "ranking.json"
# conversations the options are chosen on, and those kept aside to confirm them
CHOOSE = ("conv-26", "conv-30", "conv-41")
CONFIRM = ("conv-42", "conv-43")


class CachedEmbedder(BaseEmbedder):
    """A real embedder whose vectors are kept on disk by text, so that every variant of
    an experiment embeds each text once."""

    def __init__(self, inner: Any, label: str) -> None:
        super().__init__(inner.model_name, inner.dimension)
        self.inner = inner
        self.path = CACHE / f"{label}.pkl"
        self.vectors: dict[str, list[float]] = (
            pickle.loads(self.path.read_bytes()) if self.path.exists() else {})
        self.live_queries = False  # True: queries are embedded each time (end-to-end timing)

    @staticmethod
    def _key(text: str, kind: EmbedKind) -> str:
        return hashlib.sha1(f"{kind}\0{text}".encode()).hexdigest()

    async def _embed(self, texts: list[str], kind: EmbedKind) -> list[list[float]]:
        if kind == "query" and self.live_queries:
            return await self.inner.embed(texts, kind)
        missing = [t for t in dict.fromkeys(texts) if self._key(t, kind) not in self.vectors]
        for start in range(0, len(missing), 256):
            chunk = missing[start:start + 256]
            for text, vector in zip(chunk, await self.inner.embed(chunk, kind), strict=True):
                self.vectors[self._key(text, kind)] = vector
        if missing:
            CACHE.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(pickle.dumps(self.vectors))
        return [self.vectors[self._key(t, kind)] for t in texts]


def real_embedder(name: str) -> Any:
    if name == "torch":
        from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder
        return SentenceTransformerEmbedder(EmbedderConfig(provider="sentence_transformers"))
    from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder
    return OnnxEmbedder(EmbedderConfig())


# Each variant is the `search` settings it changes from the defaults these options were
# measured against: those before them (no neighbour context, no speaker match, speaker
# names kept in the text searched), whatever the defaults are now.
MEASURED_AGAINST: dict[str, Any] = {"dense_weight": 1.0,
                                    "ranking": {"neighbour_weight": 0.0, "speaker_weight": 0.0,
                                                "previous_turn_context": False,
                                                "strip_speaker_names": False}}
CONTEXT = {"previous_turn_context": True}
NAMES_OUT = {"strip_speaker_names": True}
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {},
    **{f"neighbours-{w}": {"ranking": {"neighbour_weight": w}} for w in (0.1, 0.2, 0.3, 0.5)},
    **{f"expansion-{w}": {"ranking": {"expansion_weight": w}} for w in (0.3, 0.6, 1.0)},
    **{f"mmr-{lam}": {"ranking": {"mmr_lambda": lam}} for lam in (0.7, 0.85)},
    "recency-0.2": {"ranking": {"recency_weight": 0.2}},
    "dense-1.3": {"dense_weight": 1.3},
    "candidates-100": {"candidates": 100},
    **{f"neighbours-{w}+dense-{d}": {"dense_weight": d, "ranking": {"neighbour_weight": w}}
       for w in (0.1, 0.15, 0.2, 0.3) for d in (1.3, 1.6)},
    "neighbours-0.15": {"ranking": {"neighbour_weight": 0.15}},
    "neighbours-0.1+mmr-0.9": {"ranking": {"neighbour_weight": 0.1, "mmr_lambda": 0.9}},
    "neighbours-0.1+expansion-0.3": {"ranking": {"neighbour_weight": 0.1,
                                                 "expansion_weight": 0.3}},
    "neighbours-0.3+mmr-0.9": {"ranking": {"neighbour_weight": 0.3, "mmr_lambda": 0.9}},
    **{f"lexical-candidates-{n}": {"lexical_candidates": n} for n in (100, 150, 400)},
    **{f"neighbours-0.1+speaker-0.2+lexical-candidates-{n}": {
        "lexical_candidates": n, "ranking": {"neighbour_weight": 0.1, "speaker_weight": 0.2}}
       for n in (100, 150)},
    **{f"speaker-{w}": {"ranking": {"speaker_weight": w}} for w in (0.1, 0.2, 0.3)},
    **{f"neighbours-{n}+speaker-{w}": {"ranking": {"neighbour_weight": n, "speaker_weight": w}}
       for n in (0.1, 0.2) for w in (0.1, 0.2, 0.3)},
    "context": {"ranking": CONTEXT},
    **{f"context+neighbours-{n}+speaker-{w}": {
        "ranking": {**CONTEXT, "neighbour_weight": n, "speaker_weight": w}}
       for n, w in ((0.1, 0.2), (0.2, 0.4))},
    **{f"context+neighbours-{n}+speaker-{w}+dense-{d}": {
        "dense_weight": d, "ranking": {**CONTEXT, "neighbour_weight": n, "speaker_weight": w}}
       for n, w, d in ((0.2, 0.4, 1.3), (0.2, 0.3, 1.3), (0.3, 0.4, 1.3), (0.2, 0.4, 1.6),
                        (0.2, 0.4, 1.15), (0.2, 0.4, 1.2))},
    "speaker-0.4": {"ranking": {"speaker_weight": 0.4}},
    "speaker-0.4+names-out": {"ranking": {"speaker_weight": 0.4, **NAMES_OUT}},
    **{f"context+neighbours-0.2+speaker-{w}+dense-1.2+names-out": {
        "dense_weight": 1.2,
        "ranking": {**CONTEXT, **NAMES_OUT, "neighbour_weight": 0.2, "speaker_weight": w}}
       for w in (0.4, 0.6, 0.8)},
}


def search_config(variant: dict[str, Any]) -> dict[str, Any]:
    return {"llm": {"provider": "offline"}, "search": {
        **MEASURED_AGAINST, **variant,
        "ranking": {**MEASURED_AGAINST["ranking"], **variant.get("ranking", {})}}}


def pooled(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Both splits' metrics as one: per-question means, weighted by question counts."""
    categories: dict[str, dict[str, float]] = {}
    for name in a["categories"].keys() | b["categories"].keys():
        rows = [s["categories"][name] for s in (a, b) if name in s["categories"]]
        n = sum(r["questions"] for r in rows)
        categories[name] = {k: sum(r[k] * r["questions"] for r in rows) / n
                            for k in rows[0] if k != "questions"} | {"questions": n}
    order = sorted(categories, key=lambda c: (c == "overall", c))
    return {"categories": {c: categories[c] for c in order},
            "p50": (a["p50"] + b["p50"]) / 2, "p95": max(a["p95"], b["p95"])}


async def run(variants: Sequence[str], embedder_name: str, path: Path) -> dict[str, Any]:
    facts, questions = load_locomo(path)
    embedder = CachedEmbedder(real_embedder(embedder_name), embedder_name)
    out: dict[str, Any] = {}
    for name in variants:
        row: dict[str, Any] = {}
        for split, convs in (("choose", CHOOSE), ("confirm", CONFIRM)):
            f = [x for x in facts if x.scope in convs]
            q = [x for x in questions if x.scope in convs]
            report = await evaluate(f, q, config=search_config(VARIANTS[name]),
                                    embedder=embedder)
            row[split] = {"categories": report.categories, "p50": report.search_ms_p50,
                          "p95": report.search_ms_p95}
        row["all"] = pooled(row["choose"], row["confirm"])
        out[name] = row
        cats = row["all"]["categories"]
        print(f"{name:24s} choose {row['choose']['categories']['overall']['recall@10']:.3f} "
              f"confirm {row['confirm']['categories']['overall']['recall@10']:.3f} "
              f"all {cats['overall']['recall@10']:.3f} | "
              + " ".join(f"{c[:5]} {v['recall@10']:.3f}" for c, v in cats.items()
                         if c != "overall")
              + f" | p50 {row['all']['p50']:.1f} ms", flush=True)
    return out


async def end_to_end(embedder_name: str, path: Path,
                     ranking: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults as they are now (with `ranking` changed), every question's query
    embedded live: wall-clock latency of `search` (on a shared machine, run it under
    `nice -n -19`: see RESULTS.md)."""
    import statistics
    import tempfile
    import uuid

    from mem_integrations.core.async_memory import AsyncMemory
    from mem_integrations.core.models import PutItem

    facts, questions = load_locomo(path)
    embedder = CachedEmbedder(real_embedder(embedder_name), embedder_name)
    with tempfile.TemporaryDirectory(prefix="memint-e2e-") as tmp:
        memory = AsyncMemory({"data_dir": tmp, "llm": {"provider": "offline"},
                              "search": {"ranking": ranking or {}}}, embedder=embedder)
        try:
            await memory.put_many([PutItem(id=str(uuid.uuid4()), text=f.text, user_id=f.scope,
                                           metadata=f.metadata) for f in facts])
            embedder.live_queries = True
            await memory.search("warm up", user_id=facts[0].scope)
            parts: dict[str, list[float]] = {"embed": [], "store": []}
            embedder.embed = _timed_async(embedder.embed, parts["embed"])  # type: ignore
            memory._candidates = _timed(memory._candidates, parts["store"])  # type: ignore
            wall = []
            for q in questions:
                began = time.perf_counter()
                await memory.search(q.question, user_id=q.scope, limit=10)
                wall.append((time.perf_counter() - began) * 1000)
        finally:
            await memory.close()
    wall.sort()
    return {"p50": statistics.median(wall), "p95": wall[int(len(wall) * 0.95)],
            "embed_p50": statistics.median(parts["embed"]),
            "store_p50": statistics.median(parts["store"]),
            "load": os.getloadavg()[0], "nice": os.nice(0)}


def _timed(call: Any, into: list[float]) -> Any:
    """`call`, recording each call's milliseconds in `into`."""
    def timed(*args: Any) -> Any:
        began = time.perf_counter()
        try:
            return call(*args)
        finally:
            into.append((time.perf_counter() - began) * 1000)

    return timed


def _timed_async(call: Any, into: list[float]) -> Any:
    """`_timed` for a coroutine function."""
    async def timed(*args: Any) -> Any:
        began = time.perf_counter()
        try:
            return await call(*args)
        finally:
            into.append((time.perf_counter() - began) * 1000)

    return timed


async def rerank_cost(embedder_name: str, path: Path, candidates: int = 20) -> dict[str, Any]:
    """The HTTP reranker's cost, against the scripted rerank server (word overlap: a
    stand-in whose recall says nothing of a real model's), on the choose split."""
    from mem_integrations.testing import ScriptedRerankServer

    facts, questions = load_locomo(path)
    embedder = CachedEmbedder(real_embedder(embedder_name), embedder_name)
    f = [x for x in facts if x.scope in CHOOSE]
    q = [x for x in questions if x.scope in CHOOSE]
    with ScriptedRerankServer() as api:
        report = await evaluate(f, q, embedder=embedder, config={
            "llm": {"provider": "offline"},
            "search": {"rerank": {"provider": "http", "base_url": api.base_url,
                                  "candidates": candidates}}})
    return {"http (scripted server, word overlap)": {
        "candidates": candidates, "calls_per_search": report.rerank_calls / len(q),
        "rerank_ms_mean": report.rerank_ms_mean, "p50": report.search_ms_p50,
        "recall@10": report.categories["overall"]["recall@10"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--embedder", choices=["onnx", "torch"], default="onnx")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time the defaults with live query embeddings")
    parser.add_argument("--rerank", action="store_true", help="also measure the HTTP "
                        "reranker's cost against the scripted server")
    parser.add_argument("--path", type=Path, default=Path(os.environ.get("LOCOMO_PATH",
                                                                          DEFAULT_PATH)))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.variants:
        saved.setdefault(args.embedder, {}).update(
            asyncio.run(run(args.variants.split(","), args.embedder, args.path)))
    if args.end_to_end:
        # the previous defaults in the same run, for the ratio (the machine is shared)
        saved["end_to_end_names_kept"] = asyncio.run(end_to_end(
            args.embedder, args.path, {"strip_speaker_names": False}))
        saved["end_to_end"] = asyncio.run(end_to_end(args.embedder, args.path))
        print("end to end", saved["end_to_end"], "names kept", saved["end_to_end_names_kept"])
    if args.rerank:
        saved["rerank"] = asyncio.run(rerank_cost(args.embedder, args.path))
        print("rerank", saved["rerank"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
