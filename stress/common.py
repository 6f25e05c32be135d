"""What the stress runs and the reliability tests share: a fast deterministic embedder,
the configs of a trial, a snapshot of everything a data directory holds, and the
consistency rules a snapshot must satisfy."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mem_integrations.testing.llm_server import hashed_embedding
from stress.versions import check_versions, is_closed, stores, text_after

REPO = Path(__file__).resolve().parent.parent
SCOPE_KEYS = ("user_id", "agent_id", "run_id")
# issue 16: a memory closed by the reconcile step stays stored with these set
VERSION_KEYS = ("valid_to", "superseded_by")
RELATION_TEXT = re.compile(r" --\S+--> ")


class HashEmbedder:
    """A deterministic bag-of-words embedder (the one `ScriptedLLMServer` serves), so a
    child process starts in about a second instead of loading torch. Texts that share
    words are similar, which is all the offline extractor's reconcile needs."""

    def __init__(self, dimension: int = 64) -> None:
        self._dimension = dimension

    def __repr__(self) -> str:
        return f"HashEmbedder(dimension={self._dimension})"

    @property
    def model_name(self) -> str:
        return f"stress-hash-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: list[str], kind: str = "document") -> list[list[float]]:
        return [hashed_embedding(t, self._dimension) for t in texts]


def memory_config(data_dir: str | Path, *, engine: str = "qdrant_edge", graph: bool = False,
                  llm: dict[str, Any] | None = None, reconcile: str = "") -> dict[str, Any]:
    """The config of a trial's data directory (the offline extractor unless `llm`;
    `reconcile`: the add's `reconcile.mode`, the default unless given)."""
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "llm": llm or {"provider": "offline"},
        # the harness reprocesses what a kill left pending itself, to check each add
        "pending": {"retry_on_open": False},
        "vector_store": ({"engine": "qdrant_edge"} if engine == "qdrant_edge"
                         else {"engine": "qdrant_client", "path": "qdrant_local"}),
    }
    if graph:
        config["graph_store"] = {"provider": "ladybug"}
    if reconcile:
        config["reconcile"] = {"mode": reconcile}
    return config


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEMINT_"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def python() -> str:
    return sys.executable


# --- snapshots ------------------------------------------------------------------------------


def raw_history(db: Path) -> list[dict[str, Any]]:
    """Every history row, applied or not, read straight from SQLite."""
    if not db.exists():
        return []
    conn = sqlite3.connect(str(db), timeout=30)
    try:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT seq, memory_id, event, old_memory, new_memory, user_id, agent_id, run_id,"
            " batch_id, applied, payload FROM history ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # no table yet: the process died before creating it
        return []
    finally:
        conn.close()
    out = []
    for r in rows:
        row = dict(r)
        row["closes"] = _closes(row, row.pop("payload"))
        out.append(row)
    return out


def _closes(row: dict[str, Any], payload: str | None) -> bool:
    """Whether a history row is a close (a DELETE the reconcile step decided, which keeps
    the memory with `valid_to`) rather than a removal. The journal's own decoder says so:
    it is the one place that knows the row layouts."""
    if row["event"] != "DELETE" or not payload:
        return False
    from mem_integrations.core.history.base import JournalOp
    from mem_integrations.core.journal import MemoryClose, decode
    from mem_integrations.core.models import Event

    try:
        op = decode(JournalOp(row["memory_id"], Event.DELETE, row["old_memory"], None,
                              json.loads(payload)))
    except (ValueError, KeyError):  # not a memory's row (a relation's, a scope wipe's)
        return False
    return isinstance(op, MemoryClose)


def raw_pending(db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(str(db), timeout=30)
    try:
        rows = conn.execute("SELECT id, messages, scope, status FROM pending_adds").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [{"id": r[0], "messages": json.loads(r[1]), "scope": json.loads(r[2]),
             "status": r[3]} for r in rows]


def store_points(store: Any) -> list[dict[str, Any]]:
    """Every point of a vector store, every scope."""
    out: list[dict[str, Any]] = []
    offset = None
    while True:
        page, offset = store.scroll(None, limit=256, offset=offset)
        for hit in page:
            p = hit.payload
            out.append({"id": hit.id, "data": p.get("data"), "hash": p.get("hash"),
                        **{k: p.get(k) for k in SCOPE_KEYS},
                        **{k: p.get(k) for k in VERSION_KEYS}})
        if offset is None:
            return out


def graph_relations(graph: Any) -> list[dict[str, Any]]:
    """Every relation edge of the graph store, valid or not, every scope."""
    if graph is None:
        return []
    rows = graph._run(
        "MATCH (a:MemIntEntity)-[r:MEMINT_REL]->(b:MemIntEntity) RETURN r.id AS id, "
        "a.name AS source, r.relation AS relation, b.name AS target, r.valid AS valid, "
        "r.user_id AS user_id, r.agent_id AS agent_id, r.run_id AS run_id, "
        "a.user_id AS a_user, b.user_id AS b_user")
    return [dict(r) for r in rows]


async def snapshot(memory: Any) -> dict[str, Any]:
    """What an opened `AsyncMemory` holds: points, history rows, relations, pending adds,
    and what its default reads return (`stress.versions.default_reads`)."""
    import asyncio

    from stress.versions import default_reads

    db = Path(memory.history_store.path)
    points = await asyncio.to_thread(store_points, memory.store)
    relations = await asyncio.to_thread(graph_relations, memory.graph)
    return {"memories": points, "history": raw_history(db), "relations": relations,
            "pending": raw_pending(db), **await default_reads(memory, points)}


# --- consistency ----------------------------------------------------------------------------


@dataclass
class Findings:
    """Violations of the stores' agreement, by kind, with a few examples each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, example: Any, n: int = 1) -> None:
        self.counts[kind] += n
        if len(self.examples[kind]) < 3:
            self.examples[kind].append(example)

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "examples": dict(self.examples)}


def _events(chain: list[dict[str, Any]]) -> list[str]:
    return [("CLOSE" if r.get("closes") else r["event"]) for r in chain]


def is_relation_row(row: dict[str, Any]) -> bool:
    return bool(RELATION_TEXT.search(row.get("new_memory") or row.get("old_memory") or ""))


def scope_of(item: dict[str, Any]) -> tuple[str | None, ...]:
    return tuple(item.get(k) for k in SCOPE_KEYS)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_snapshot(snap: dict[str, Any], *, chain_breaks_are_violations: bool = True
                   ) -> Findings:
    """The agreement rules between the vector store, the history (and journal) and the
    graph store, checked on a snapshot taken after `open()`. A memory the reconcile step
    closed stays stored (`stress.versions`): "its text" below is then the text it was
    closed with, and a close is a DELETE that keeps it.

    * no journal row is left unapplied;
    * every current memory (no `valid_to`) has a history whose last event is ADD or UPDATE
      with its text; a closed one's last event is that, or the close that kept it;
    * every memory whose history ends in ADD/UPDATE or a close is stored, with that text;
    * a history starts with ADD; nothing but ADD follows a removal, and nothing but a
      removal or a record UPDATE follows a close (a second removal, or a second close, is
      reported on its own: `repeated_delete_in_history`);
    * each UPDATE's old text is the memory's text before it (the chain is unbroken);
    * history entries carry the memory's own scope ids (no entry crosses scopes);
    * no exact scope holds the same content hash twice among its current memories;
    * past versions, and what default reads return: `stress.versions.check_versions`;
    * graph: every relation edge has a history; valid edges end in ADD, invalidated ones
      in DELETE; a relation whose history ends in ADD is a valid edge.
    """
    f = Findings()
    unapplied = [r for r in snap["history"] if not r["applied"]]
    if unapplied:
        f.add("unapplied_after_open", unapplied[0]["memory_id"], len(unapplied))
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in snap["history"]:
        if row["applied"]:
            chains[row["memory_id"]].append(row)
    points = {p["id"]: p for p in snap["memories"]}
    for mid, point in points.items():
        chain = chains.get(mid)
        if not chain:
            f.add("store_without_history", point["data"])
            continue
        last = chain[-1]
        kept = last.get("closes") and is_closed(point)
        if (not kept and last["event"] not in ("ADD", "UPDATE")) \
                or text_after(last) != point["data"]:
            f.add("store_history_mismatch", {"id": mid, "stored": point["data"],
                                             "valid_to": point.get("valid_to"),
                                             "history": [last["event"], text_after(last)]})
        for row in chain:
            for key in SCOPE_KEYS:
                if row[key] is not None and row[key] != point[key]:
                    f.add("history_crosses_scope", {"id": mid, key: [row[key], point[key]]})
    relation_ids = {r["id"] for r in snap["relations"]}
    for mid, chain in chains.items():
        if mid in relation_ids or is_relation_row(chain[0]) or not _is_uuid(mid):
            continue  # relations are checked below; non-UUID rows are journal markers
        if chain[0]["event"] != "ADD":
            f.add("history_not_starting_with_add", mid)
        for before, after in zip(chain, chain[1:], strict=False):
            removal = after["event"] == "DELETE" and not after.get("closes")
            if before["event"] == "DELETE" and after["event"] == "DELETE" and not (
                    before.get("closes") and removal):
                f.add("repeated_delete_in_history", {"id": mid, "events": _events(chain)})
            elif before["event"] == "DELETE" and after["event"] not in (
                    ("DELETE", "UPDATE") if before.get("closes") else ("ADD",)):
                f.add("event_after_delete", {"id": mid, "events": _events(chain)})
            if (chain_breaks_are_violations and after["event"] == "UPDATE"
                    and after["old_memory"] != text_after(before)):
                f.add("history_chain_break", {"id": mid, "events": [
                        (r["event"], r["old_memory"], r["new_memory"]) for r in chain]})
        if stores(chain[-1]) and mid not in points:
            f.add("history_without_store", {"id": mid, "text": text_after(chain[-1])})
    seen: Counter[tuple[Any, ...]] = Counter(
        (*scope_of(p), p["hash"]) for p in snap["memories"] if not is_closed(p))
    for key, n in seen.items():
        if n > 1:
            f.add("duplicates", key, n - 1)
    check_versions(f, snap, chains)
    for rel in snap["relations"]:
        chain = chains.get(rel["id"])
        if not chain:
            f.add("graph_edge_without_history", rel)
            continue
        want = "ADD" if rel["valid"] else "DELETE"
        if chain[-1]["event"] != want:
            f.add("graph_history_mismatch", {"rel": rel, "history": chain[-1]["event"]})
        for end in ("a_user", "b_user"):
            if rel.get(end) != rel.get("user_id"):
                f.add("graph_crosses_scope", rel)
    for mid, chain in chains.items():
        if mid in relation_ids or not is_relation_row(chain[0]):
            continue
        if chain[-1]["event"] == "ADD":
            f.add("history_relation_missing_in_graph", chain[-1]["new_memory"])
    return f
