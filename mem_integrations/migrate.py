"""Moving a mem0 store's data here: `migrate_from_mem0(memory, Mem0Source(...))`, and the
`mem-integrations migrate mem0` command.

What is read, never written:

* the Qdrant collection mem0 wrote (qdrant-client local mode `path=`, mem0's default, or a
  server `url=`). A local path is copied to a temporary directory first and opened there:
  local mode takes a lock on the folder and may rewrite its files, and mem0 may be running;
* the SQLite history (`history_db_path`), opened read-only;
* mem0's graph: 1.0.x's Kuzu graph (`kuzu_path`, the kuzu graph_store's `db`), copied like the
  Qdrant folder and read with the `kuzu` package (`pip install "kuzu>=0.11,<0.12"`, the
  version mem0 1.0.11 writes; LadybugDB cannot open Kuzu files) by a child interpreter:
  this one, or mem0's own (`kuzu_python`), which has kuzu already.

What is written, through `AsyncMemory.import_records`: every memory under its mem0 id,
with its text, mem0's hash, its scope ids, its metadata (mem0 keeps custom metadata at
the top level of the payload), actor_id / role / memory_type and created/updated times;
and every history row under its mem0 id, in mem0's order, including the rows of memories
mem0 has since deleted. Memories are always embedded again with the target's embedder:
the source vectors come from whatever model mem0 was configured with, and searching them
with another would be wrong, while re-embedding with the same model gives the same
vectors — so this is correct in both cases, at the cost of one embedding pass.
And, through `AsyncMemory.import_relations`, every relation of the Kuzu graph (source,
relation name, target, scope, creation time) into the target's graph, its entity names
embedded with the target's embedder.

Resumable: ids are mem0's and writes are upserts, history rows are skipped when already
present, relations and entities get ids derived from what identifies them in mem0 (an
entity: its scope and name; a relation: its two entities and its name), so a run a crash
interrupted, run again, ends with exactly one copy of everything.

Or, instead of Kuzu, mem0's Neo4j graph over Bolt (`neo4j_url`...): every valid relation,
its TYPE being the relation's name.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.errors import ConfigurationError, InvalidInputError, StoreError
from mem_integrations.core.graph.base import RELATION
from mem_integrations.core.imports import ImportedMemory, ImportedRelation
from mem_integrations.core.models import Event, HistoryEntry
from mem_integrations.core.scope import SCOPE_KEYS
from mem_integrations.core.sync_memory import Memory

__all__ = ["Mem0Source", "MigrationSummary", "amigrate_from_mem0", "migrate_from_mem0"]

# mem0's own payload keys; every other key is the user's metadata (mem0 stores it flat)
_FIELDS = {"data", "hash", "created_at", "updated_at", "actor_id", "role", "memory_type",
           *SCOPE_KEYS}
# derived by mem0 2.x for its BM25 index: rebuilt here from the text, not metadata
_DERIVED = {"text_lemmatized"}
_EVENTS = {e.value: e for e in Event}
# the namespace of the ids given to mem0's graph entities and relations (uuid5)
_GRAPH_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "mem-integrations:migrate:mem0-graph")
_KUZU_RELATIONS = (
    "MATCH (a:Entity)-[r:CONNECTED_TO]->(b:Entity) RETURN a.name AS source, "
    "a.user_id AS user_id, a.agent_id AS agent_id, a.run_id AS run_id, r.name AS relation, "
    "b.name AS target, r.created AS created ORDER BY a.id, b.id, r.name")


@dataclass
class Mem0Source:
    """Where a mem0 store lives. Give `qdrant_path` (mem0's default embedded Qdrant) or
    `qdrant_url`; `history_db_path` is optional (without it, no history is moved)."""

    qdrant_path: Path | None = None
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    collection: str = "mem0"
    history_db_path: Path | None = None
    kuzu_path: Path | None = None
    """mem0 1.0.x's Kuzu graph (the kuzu graph_store's `db`); without it, no relations."""
    kuzu_python: Path | None = None
    """The Python that reads the Kuzu graph (it needs `kuzu`): mem0's own interpreter,
    say. Default: this one."""
    neo4j_url: str | None = None
    """mem0's Neo4j (or any Bolt) graph, instead of a Kuzu one: its `url`."""
    neo4j_username: str | None = None
    neo4j_password: str | None = None
    neo4j_database: str | None = None

    def check(self) -> None:
        """Raise `ConfigurationError` unless exactly one Qdrant location exists."""
        if (self.qdrant_path is None) == (self.qdrant_url is None):
            raise ConfigurationError("give the mem0 Qdrant store as a local path "
                                     "(--qdrant-path) or a server URL (--qdrant-url), one of them")
        if self.qdrant_path is not None and not Path(self.qdrant_path).is_dir():
            raise ConfigurationError(f"no mem0 Qdrant folder at {self.qdrant_path}: pass the "
                                     "`path` of mem0's qdrant vector_store config")
        if self.history_db_path is not None and not Path(self.history_db_path).is_file():
            raise ConfigurationError(f"no mem0 history database at {self.history_db_path}: "
                                     "pass mem0's `history_db_path` (default ~/.mem0/history.db)")
        if self.kuzu_path is not None and self.neo4j_url is not None:
            raise ConfigurationError("give mem0's graph as a Kuzu path (--kuzu-path) or a "
                                     "Bolt URL (--neo4j-url), not both")
        if self.kuzu_path is not None and not Path(self.kuzu_path).exists():
            raise ConfigurationError(f"no mem0 Kuzu graph at {self.kuzu_path}: pass the `db` "
                                     "of mem0's kuzu graph_store config")


@dataclass
class MigrationSummary:
    """What a migration did: memories per scope, history rows, relations, and what was
    skipped."""

    memories: int = 0
    per_scope: Counter[str] = field(default_factory=Counter)
    history_new: int = 0
    history_present: int = 0
    relations: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(mem0 id, why) for every memory or history row not moved."""
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as plain lines, for the CLI and logs."""
        out = [f"memories: {self.memories}"]
        out += [f"  {scope}: {n}" for scope, n in sorted(self.per_scope.items())]
        out.append(f"history rows: {self.history_new} new, {self.history_present} already here")
        out.append(f"relations: {self.relations}")
        out.append(f"skipped: {len(self.skipped)}")
        out += [f"  {item}: {why}" for item, why in self.skipped]
        out += self.notes
        return out


def _time(value: Any) -> datetime | None:
    """A mem0 timestamp (ISO text, naive meaning UTC as mem0 writes it), or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def memory_of(memory_id: str, payload: dict[str, Any]) -> ImportedMemory:
    """Our record of one mem0 point (its payload as mem0's `_create_memory` writes it)."""
    metadata = {k: v for k, v in payload.items() if k not in _FIELDS and k not in _DERIVED}
    return ImportedMemory(
        id=memory_id, text=payload.get("data") or "", hash=payload.get("hash"),
        metadata=metadata or None, created_at=_time(payload.get("created_at")),
        updated_at=_time(payload.get("updated_at")),
        **{k: str(payload[k]) for k in ("user_id", "agent_id", "run_id", "actor_id", "role",
                                        "memory_type") if payload.get(k)})


@contextmanager
def _qdrant(source: Mem0Source) -> Iterator[Any]:
    """A qdrant-client on the source: on a copy of a local folder, so the original is
    neither locked nor modified."""
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise ConfigurationError("reading mem0's Qdrant needs qdrant-client: pip install "
                                 "'mem-integrations[qdrant]'") from None

    if source.qdrant_url is not None:
        client = QdrantClient(url=source.qdrant_url, api_key=source.qdrant_api_key)
        try:
            yield client
        finally:
            client.close()
        return
    with tempfile.TemporaryDirectory(prefix="mem0-migrate-") as tmp:
        copy = Path(tmp) / "qdrant"
        # the lock file belongs to whoever has the original open
        shutil.copytree(str(source.qdrant_path), copy, ignore=shutil.ignore_patterns(".lock"))
        client = QdrantClient(path=str(copy))
        try:
            yield client
        finally:
            client.close()


def read_points(source: Mem0Source, page: int = 256) -> list[tuple[str, dict[str, Any]]]:
    """Every (id, payload) of the mem0 collection, in Qdrant's id order."""
    with _qdrant(source) as client:
        if not client.collection_exists(source.collection):
            names = [c.name for c in client.get_collections().collections]
            raise ConfigurationError(f"no collection {source.collection!r} in the mem0 Qdrant "
                                     f"store (it has {names}): pass --collection")
        points: list[tuple[str, dict[str, Any]]] = []
        offset = None
        while True:
            records, offset = client.scroll(source.collection, limit=page, offset=offset,
                                            with_payload=True, with_vectors=False)
            points += [(str(r.id), dict(r.payload or {})) for r in records]
            if offset is None:
                return points


def read_history(path: Path) -> list[dict[str, Any]]:
    """mem0's history rows, in the order mem0 wrote them (rowid), read-only."""
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the mem0 history at {path}: {exc}") from exc
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM history ORDER BY rowid")]
    except sqlite3.Error as exc:
        raise StoreError(f"{path} is not a mem0 history database ({exc}): pass mem0's "
                         "`history_db_path`") from exc
    finally:
        conn.close()


# Run by a child interpreter: kuzu and ladybug (our graph) both register pybind11 types
# named `Database`, so whichever loads second fails to import in that process. The child
# prints the relations as JSON; exit code 3 means kuzu is not installed there.
_KUZU_READER = """
import json, sys
try:
    import kuzu
except ImportError:
    sys.exit(3)
db = kuzu.Database(sys.argv[1])
conn = kuzu.Connection(db)
rows = list(conn.execute(sys.argv[2]).rows_as_dict())
conn.close()
db.close()
print(json.dumps(rows, default=str))
"""


def _kuzu_rows(path: Path, python: Path | None = None) -> list[dict[str, Any]]:
    """Every relation of mem0's Kuzu graph with its ends' names and scope, read by
    `python` (default: this interpreter) on a copy: Kuzu locks the database it opens and
    replays its write-ahead log into it."""
    source = Path(path)
    with tempfile.TemporaryDirectory(prefix="mem0-migrate-") as tmp:
        copy = Path(tmp) / source.name
        if source.is_dir():  # Kuzu before 0.11 kept a database in a folder
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".lock"))
        else:
            shutil.copy2(source, copy)
            wal = source.with_name(source.name + ".wal")
            if wal.exists():
                shutil.copy2(wal, copy.with_name(copy.name + ".wal"))
        try:
            run = subprocess.run([str(python or sys.executable), "-c", _KUZU_READER, str(copy),
                                  _KUZU_RELATIONS], capture_output=True, text=True, check=False)
        except OSError as exc:
            raise ConfigurationError(f"cannot run {python} to read mem0's Kuzu graph ({exc}): "
                                     "pass mem0's Python as --kuzu-python") from exc
    if run.returncode == 3:
        raise ConfigurationError(
            f"reading mem0's Kuzu graph needs the kuzu package in {python or sys.executable}: "
            'pip install "kuzu>=0.11,<0.12" (mem0 1.0.11 writes Kuzu 0.11 files), or pass '
            "the Python of mem0's environment as --kuzu-python")
    if run.returncode != 0:
        raise StoreError(f"cannot read {path} as mem0's Kuzu graph "
                         f"({run.stderr.strip().splitlines()[-1:] or run.returncode}): pass "
                         "the `db` of mem0's kuzu graph_store config, read with the kuzu "
                         "version mem0 wrote it with (--kuzu-python)")
    rows: list[dict[str, Any]] = json.loads(run.stdout)
    return rows


# mem0's Neo4j graph: a relation's name is its TYPE; entities carry `name` and the scope
# ids (labelled `__Entity__` or by entity type); relations mem0 soft-deleted have
# valid = false. Our own relations, if the target is the same server, are left out.
_NEO4J_RELATIONS = (
    "MATCH (a)-[r]->(b) WHERE a.name IS NOT NULL AND b.name IS NOT NULL "
    f"AND type(r) <> '{RELATION}' AND (r.valid IS NULL OR r.valid = true) "
    "RETURN a.name AS source, a.user_id AS user_id, a.agent_id AS agent_id, "
    "a.run_id AS run_id, type(r) AS relation, b.name AS target, r.created_at AS created")


def _neo4j_rows(source: Mem0Source) -> list[dict[str, Any]]:
    """Every valid relation of mem0's Neo4j graph, with its ends' names and scope."""
    try:
        import neo4j
    except ImportError:
        raise ConfigurationError("reading mem0's Neo4j graph needs the neo4j driver: "
                                 'pip install "mem-integrations[graph]"') from None

    auth = (source.neo4j_username, source.neo4j_password or "") \
        if source.neo4j_username else None
    try:
        with neo4j.GraphDatabase.driver(source.neo4j_url, auth=auth) as driver, \
                driver.session(database=source.neo4j_database) as session:
            return [dict(r) for r in session.run(_NEO4J_RELATIONS)]
    except neo4j.exceptions.Neo4jError as exc:
        raise StoreError(f"cannot read mem0's graph at {source.neo4j_url} ({exc.message}): "
                         "pass the url, username, password and database of mem0's "
                         "neo4j graph_store config") from exc
    except (neo4j.exceptions.DriverError, OSError, ValueError) as exc:
        raise StoreError(f"cannot reach mem0's graph at {source.neo4j_url} ({exc}): pass "
                         "the `url` of mem0's neo4j graph_store config") from exc


def relation_of(row: dict[str, Any]) -> ImportedRelation:
    """Our relation for one graph row (Kuzu or Neo4j). Ids are derived, not random: mem0 merges an entity
    on (name, scope) and a relation on (its two entities, its name), so the same source
    always gives the same ids and a rerun overwrites instead of copying."""
    scope = {k: str(row[k]) for k in SCOPE_KEYS if row.get(k)}
    if not scope:
        raise InvalidInputError("no user_id, agent_id or run_id")
    names = [str(row.get(k) or "").strip() for k in ("source", "relation", "target")]
    if not all(names):
        raise InvalidInputError("no source, relation or target name")
    source, relation, target = names
    key = "\x00".join(f"{k}={v}" for k, v in sorted(scope.items()))
    source_id, target_id = (str(uuid.uuid5(_GRAPH_IDS, f"entity\x00{key}\x00{name}"))
                            for name in (source, target))
    return ImportedRelation(
        id=str(uuid.uuid5(_GRAPH_IDS, f"relation\x00{source_id}\x00{relation}\x00{target_id}")),
        source_id=source_id, source=source, relation=relation, target_id=target_id,
        target=target, created_at=_created(row.get("created")), **scope)


def _created(value: Any) -> datetime | None:
    """A relation's creation time: Kuzu's timestamp, or Neo4j's `timestamp()` (epoch ms)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return _time(value)


def history_of(row: dict[str, Any], scope: dict[str, str]) -> HistoryEntry:
    """Our entry for one mem0 history row. mem0 keeps the memory's created_at on every
    row and the change's time in updated_at, so the change happened at updated_at."""
    event = _EVENTS.get(str(row.get("event", "")).upper())
    if event is None:
        raise InvalidInputError(f"unknown event {row.get('event')!r}")
    when = _time(row.get("updated_at")) or _time(row.get("created_at"))
    if when is None:
        raise InvalidInputError("no time")
    memory_id = str(uuid.UUID(str(row["memory_id"])))  # a ValueError is reported as a skip
    return HistoryEntry(id=str(row["id"]), memory_id=memory_id, event=event,
                        old_memory=row.get("old_memory"), new_memory=row.get("new_memory"),
                        created_at=when, is_deleted=bool(row.get("is_deleted")),
                        actor_id=row.get("actor_id"), role=row.get("role"), **scope)


Progress = Callable[[int, int], None]
"""Called after each batch with (memories done, memories in all)."""


async def amigrate_from_mem0(memory: AsyncMemory, source: Mem0Source, *, batch_size: int = 64,
                             progress: Progress | None = None) -> MigrationSummary:
    """Copy a mem0 store's memories, history and (`kuzu_path`) graph relations into
    `memory`. Safe to run again."""
    source.check()
    if batch_size < 1:
        raise InvalidInputError("batch_size must be at least 1")
    graph_given = source.kuzu_path is not None or source.neo4j_url is not None
    if graph_given and memory.graph is None:
        raise ConfigurationError("migrating mem0's graph (--kuzu-path, --neo4j-url) needs a "
                                 "graph store here: configure graph_store={'provider': "
                                 "'ladybug'}, or leave the graph option out")
    # read before anything is written, so a graph we cannot read stops the run up front
    graph_rows = None
    if source.kuzu_path is not None:
        graph_rows = await asyncio.to_thread(_kuzu_rows, source.kuzu_path, source.kuzu_python)
    elif source.neo4j_url is not None:
        graph_rows = await asyncio.to_thread(_neo4j_rows, source)
    summary = MigrationSummary()
    memories: list[ImportedMemory] = []
    for memory_id, payload in read_points(source):
        try:
            item = memory_of(memory_id, payload)
            if not item.text.strip():
                raise InvalidInputError("no text (payload key `data`)")
            if not any((item.user_id, item.agent_id, item.run_id)):
                raise InvalidInputError("no user_id, agent_id or run_id")
        except (InvalidInputError, ValueError) as exc:
            summary.skipped.append((memory_id, f"memory: {exc}"))
            continue
        memories.append(item)
    scopes = {m.id: {k: v for k in SCOPE_KEYS if (v := getattr(m, k))} for m in memories}
    history: dict[str, list[HistoryEntry]] = {}
    rows = read_history(source.history_db_path) if source.history_db_path else []
    if source.history_db_path is None:
        summary.notes.append("no history database given: history not migrated")
    for row in rows:
        try:
            entry = history_of(row, scopes.get(str(row.get("memory_id")), {}))
        except (InvalidInputError, ValueError, KeyError) as exc:
            summary.skipped.append((str(row.get("id")), f"history row: {exc}"))
            continue
        history.setdefault(entry.memory_id, []).append(entry)
    live = {m.id for m in memories}
    # rows of memories mem0 has deleted go first, in one batch: they belong to no memory
    orphans = [e for mid, entries in history.items() if mid not in live for e in entries]
    if orphans:
        await _write(memory, [], orphans, summary)
    for start in range(0, len(memories), batch_size):
        batch = memories[start:start + batch_size]
        for item in await _write(memory, batch,
                                 [e for m in batch for e in history.get(m.id, [])], summary):
            summary.per_scope[", ".join(f"{k}={v}" for k, v in scopes[item.id].items())] += 1
        if progress is not None:
            progress(start + len(batch), len(memories))
    if graph_rows is None:
        summary.notes.append("no mem0 graph given (--kuzu-path, --neo4j-url): relations "
                             "not migrated")
        return summary
    relations: list[ImportedRelation] = []
    for row in graph_rows:
        try:
            relations.append(relation_of(row))
        except (InvalidInputError, ValueError) as exc:
            summary.skipped.append((f"{row.get('source')} --{row.get('relation')}--> "
                                    f"{row.get('target')}", f"relation: {exc}"))
    summary.relations = await memory.import_relations(relations, batch_size=batch_size)
    return summary


async def _write(memory: AsyncMemory, batch: list[ImportedMemory], entries: list[HistoryEntry],
                 summary: MigrationSummary) -> list[ImportedMemory]:
    """Import one batch; returns the memories written. A memory we cannot store
    (metadata keys we do not accept, say) is skipped, with its history, not the batch."""
    try:
        result = await memory.import_records(batch, entries)
    except InvalidInputError as exc:
        if len(batch) <= 1:
            summary.skipped += [(m.id, f"memory: {exc}") for m in batch]
            return []
        written: list[ImportedMemory] = []
        for item in batch:
            written += await _write(memory, [item],
                                    [e for e in entries if e.memory_id == item.id], summary)
        return written
    summary.memories += result.memories
    summary.history_new += result.history_new
    summary.history_present += result.history_present
    return batch


def migrate_from_mem0(memory: Memory | AsyncMemory, source: Mem0Source, *, batch_size: int = 64,
                      progress: Progress | None = None) -> MigrationSummary:
    """Blocking `amigrate_from_mem0`: copy a mem0 store's memories, history and graph into
    `memory` (a `Memory`, or an `AsyncMemory` when no event loop is running here)."""
    if isinstance(memory, Memory):
        return memory.run(amigrate_from_mem0(memory.async_memory, source,
                                             batch_size=batch_size, progress=progress))
    return asyncio.run(amigrate_from_mem0(memory, source, batch_size=batch_size,
                                          progress=progress))
