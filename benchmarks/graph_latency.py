"""Graph memory latency: add and search with the graph off, on the embedded graph
(LadybugDB) and on a Bolt server (ArcadeDB's Neo4j plugin, started here on 127.0.0.1),
the LLM held constant by the scripted server (0 ms).

    python -m benchmarks.graph_latency [--adds 200 --searches 200]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from mem_integrations import Memory
from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder
from mem_integrations.testing import ScriptedLLMServer

PEOPLE = ["Anna", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas"]
PLACES = ["Paris", "Berlin", "Osaka", "Lima", "Oslo", "Cairo", "Quito", "Perth"]
HOBBIES = ["chess", "karate", "jazz", "rowing", "pottery", "climbing"]


def responder(body: dict) -> dict:
    text = body["messages"][-1]["content"]
    if text.startswith("EXISTING:"):
        new = json.loads(text.split("NEW:\n", 1)[1].split("\n\nRELATIONS:")[0])
        return {"operations": [{"event": "ADD", "id": None, "text": f} for f in new],
                "invalidate": []}
    line = text.rsplit("user: ", 1)[-1].strip()
    person, place, hobby = line.split("|")
    return {"facts": [{"text": f"{person} lives in {place} and likes {hobby}", "categories": []}],
            "entities": [{"name": person, "type": "person"}, {"name": place, "type": "city"},
                         {"name": hobby, "type": "hobby"}],
            "relations": [{"source": person, "relation": "lives_in", "target": place},
                          {"source": person, "relation": "likes", "target": hobby}]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)


def measure(name: str, graph: dict | None, embedder, llm: ScriptedLLMServer, adds: int,
            searches: int) -> dict:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as data:
        config = {"data_dir": data, "llm": {"base_url": llm.base_url, "api_key": "k"}}
        if graph:
            config["graph_store"] = graph
        memory = Memory(config, embedder=embedder)
        memory.reset()
        add_ms, search_ms = [], []
        for _ in range(adds):
            message = f"{rng.choice(PEOPLE)}|{rng.choice(PLACES)}|{rng.choice(HOBBIES)}"
            start = time.perf_counter()
            memory.add(message, user_id="bench")
            add_ms.append((time.perf_counter() - start) * 1000)
        for _ in range(searches):
            query = f"What does {rng.choice(PEOPLE)} like?"
            start = time.perf_counter()
            memory.search(query, user_id="bench")
            search_ms.append((time.perf_counter() - start) * 1000)
        memory.close()
    return {"backend": name, "add_p50_ms": round(statistics.median(add_ms), 2),
            "add_p95_ms": percentile(add_ms, 0.95),
            "search_p50_ms": round(statistics.median(search_ms), 2),
            "search_p95_ms": percentile(search_ms, 0.95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/graph_latency.json"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from tests.support.arcadedb import DATABASE, PASSWORD, arcadedb_bolt

    embedder = SentenceTransformerEmbedder(EmbedderConfig())
    rows = []
    with ScriptedLLMServer(responder) as llm, tempfile.TemporaryDirectory() as root, \
            arcadedb_bolt(Path(root)) as bolt:
        for name, graph in [("graph off", None), ("ladybug (embedded)", {"provider": "ladybug"}),
                            ("bolt (ArcadeDB)", {"provider": "neo4j", "url": bolt,
                                                 "username": "root", "password": PASSWORD,
                                                 "database": DATABASE})]:
            rows.append(measure(name, graph, embedder, llm, args.adds, args.searches))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(f"{'backend':<22}{'add p50':>10}{'add p95':>10}{'search p50':>12}{'search p95':>12}  (ms)")
    for r in rows:
        print(f"{r['backend']:<22}{r['add_p50_ms']:>10}{r['add_p95_ms']:>10}"
              f"{r['search_p50_ms']:>12}{r['search_p95_ms']:>12}")


if __name__ == "__main__":
    main()
