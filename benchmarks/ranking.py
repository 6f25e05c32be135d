"""Search-quality experiments on the LOCOMO dev split: each ranking option measured on
its own, on chosen conversations and on conversations held aside.

Every turn and question is embedded once per model and the vectors cached under
benchmarks/.work/embeddings/ (LOCOMO has ~2,800 turns; the machine is shared), so a
variant costs only the store writes and the searches.

    python -m benchmarks.ranking                      # every variant, both splits
    python -m benchmarks.ranking --variants baseline,mmr --embedder torch
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
        self.embed_ms: list[float] = []

    @staticmethod
    def _key(text: str, kind: EmbedKind) -> str:
        return hashlib.sha1(f"{kind}\0{text}".encode()).hexdigest()

    async def _embed(self, texts: list[str], kind: EmbedKind) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if self._key(t, kind) not in self.vectors]
        for start in range(0, len(missing), 256):
            chunk = missing[start:start + 256]
            began = time.perf_counter()
            for text, vector in zip(chunk, await self.inner.embed(chunk, kind), strict=True):
                self.vectors[self._key(text, kind)] = vector
            if len(chunk) == 1:
                self.embed_ms.append((time.perf_counter() - began) * 1000)
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


# Each variant is the `search` settings it changes from the defaults.
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
    "neighbours-0.3+mmr-0.9": {"ranking": {"neighbour_weight": 0.3, "mmr_lambda": 0.9}},
    "lexical-candidates-400": {"lexical_candidates": 400},
}


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
            report = await evaluate(f, q, config={"search": VARIANTS[name]}, embedder=embedder)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--embedder", choices=["onnx", "torch"], default="onnx")
    parser.add_argument("--path", type=Path, default=Path(os.environ.get("LOCOMO_PATH",
                                                                          DEFAULT_PATH)))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    results = asyncio.run(run(args.variants.split(","), args.embedder, args.path))
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    saved.setdefault(args.embedder, {}).update(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
