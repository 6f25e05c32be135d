"""The embedded default: Qdrant's own engine in-process through `qdrant-edge-py`.

No server and no network: one shard directory per collection under the data directory,
with a write-ahead log, payload indexes and the same filters and queries as a Qdrant
server. What the collection was built with (embedding model, dimension) is recorded in
`collection.json` beside the shard and checked on every open.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import qdrant_edge as qe

from mem_integrations.core.errors import MemoryLayerError, StoreError, StoreLockedError
from mem_integrations.core.filters import FilterNode
from mem_integrations.core.stores.base import (
    DATETIME_INDEXES,
    DENSE,
    KEYWORD_INDEXES,
    LEXICAL,
    SCOPE_INDEXES,
    CollectionInfo,
    Hit,
    Point,
    SearchRequest,
    check_same_embedder,
    translate_filter,
)
from mem_integrations.core.stores.boundary import check_dimension, check_points, store_error
from mem_integrations.core.stores.dir_lock import DirectoryLock
from mem_integrations.core.stores.disk_space import check_can_open

log = logging.getLogger(__name__)

T = TypeVar("T")


class _EdgeDialect:
    def filter(self, must=None, should=None, must_not=None) -> Any:
        return qe.Filter(must=must, should=should, must_not=must_not)

    def match_value(self, key: str, value: Any) -> Any:
        if isinstance(value, bool):
            # The binding reads a Python bool as the integer 1/0 (bool is an int), which
            # then never matches a stored boolean; numpy's bool is read as a bool.
            value = np.bool_(value)
        return qe.FieldCondition(key=key, match=qe.MatchValue(value))

    def match_any(self, key: str, values: list[Any]) -> Any:
        return qe.FieldCondition(key=key, match=qe.MatchAny(values))

    def match_text(self, key: str, text: str) -> Any:
        return qe.FieldCondition(key=key, match=qe.MatchText(text))

    def range(self, key: str, bounds: dict[str, Any], *, dates: bool) -> Any:
        kind = qe.RangeDateTime if dates else qe.RangeFloat
        return qe.FieldCondition(key=key, range=kind(**bounds))


_DIALECT = _EdgeDialect()


def _request_filter(request: SearchRequest) -> Any:
    where = translate_filter(request.filter, _DIALECT)
    if request.ids is None:
        return where
    return qe.Filter(must=[qe.HasIdCondition(set(request.ids)),
                           *([where] if where is not None else [])])


def _hit(record: Any, score: float = 0.0) -> Hit:
    vector = record.vector
    if isinstance(vector, dict):
        vector = vector.get(DENSE)
    return Hit(id=str(record.id), score=score, payload=dict(record.payload or {}),
               vector=list(vector) if vector is not None else None)


class QdrantEdgeStore:
    """A collection as an embedded qdrant-edge shard under `root/<collection>/`."""

    name = "qdrant-edge"

    def __init__(self, root: Path, collection: str, *, on_disk: bool = False) -> None:
        self.dir = Path(root) / collection
        self.collection = collection
        self.on_disk = on_disk
        self._shard: Any = None
        self._info: CollectionInfo | None = None
        self._lock = threading.Lock()
        # beside the collection's directory, not in it: a drop renames that away
        self._dir_lock = DirectoryLock(
            Path(root), "embedded Qdrant", name=f"{collection}.lock",
            share_hint="give it a Qdrant server (vector_store.url) to share the memories")

    def __repr__(self) -> str:
        return f"QdrantEdgeStore(path={str(self.dir)!r})"

    @property
    def _meta_path(self) -> Path:
        return self.dir / "collection.json"

    @property
    def _shard_path(self) -> Path:
        return self.dir / "shard"

    def _config(self, dimension: int) -> Any:
        memory = qe.Memory.Cold if self.on_disk else None
        return qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine,
                                                memory=memory)},
            sparse_vectors={LEXICAL: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )

    def open(self, info: CollectionInfo) -> None:
        with self._lock:
            if self._shard is not None:
                return
            self._dir_lock.acquire()
            try:
                recorded = self._recorded(info)
                check_same_embedder(self.collection, recorded, info)
                check_can_open(self._shard_path, "embedded Qdrant")
                self._shard = self._load_or_create(info)
            except BaseException:
                self._dir_lock.release()
                raise
            if not self._meta_path.exists():
                self._meta_path.write_text(json.dumps(recorded, indent=2))
            self.lexical_version = int(recorded.get("lexical_version", 1))
            self._info = info

    def _recorded(self, info: CollectionInfo) -> dict[str, Any]:
        """What the collection was built with: `collection.json`, or for a shard without
        it the engine's own config (its dimension; the model cannot be known), or `info`
        for a collection not made yet."""
        if self._meta_path.exists():
            try:
                recorded: dict[str, Any] = json.loads(self._meta_path.read_text())
            except ValueError as exc:
                raise StoreError(
                    f"{self._meta_path} is not valid JSON ({exc}): restore it from a backup, "
                    "or delete it to have it written again from the shard") from exc
            return recorded
        engine_config = self._shard_path / "edge_config.json"
        if engine_config.exists():
            try:
                size = json.loads(engine_config.read_text())["vectors"][DENSE]["size"]
            except (ValueError, KeyError, TypeError):
                return info.metadata()
            return {**info.metadata(), "dimension": size}
        return info.metadata()

    def record_lexical_version(self, version: int) -> None:
        with self._lock:
            recorded = json.loads(self._meta_path.read_text())
            self._meta_path.write_text(json.dumps({**recorded, "lexical_version": version},
                                                  indent=2))
            self.lexical_version = version

    def _load_or_create(self, info: CollectionInfo) -> Any:
        for trash in self.dir.parent.glob(f"{self.dir.name}.trash-*"):
            shutil.rmtree(trash, ignore_errors=True)  # left by a drop that was interrupted
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            if any(self._shard_path.glob("*")):
                shard = qe.EdgeShard.load(str(self._shard_path))
            else:
                shard = qe.EdgeShard.create(str(self._shard_path), self._config(info.dimension))
        except Exception as exc:  # the Rust bindings raise plain exceptions
            text = str(exc).lower()
            if "lock" in text or "wouldblock" in text or "resource temporarily unavailable" \
                    in text:
                # our DirectoryLock was free, so a program other than this library has it
                raise StoreLockedError(
                    f"{self.dir} is held by another program (not a mem-integrations Memory): "
                    "stop it; embedded Qdrant allows one process per data directory (use a "
                    "Qdrant server to share)") from exc
            raise self._error(exc, "open") from exc
        with self._engine("create the payload indexes"):
            # on load too: a process killed between creating the shard and its indexes
            # leaves a shard whose facets (the consistency check on open) refuse to run
            present = set(shard.info().payload_schema)
            wanted: list[tuple[str, Any]] = [
                ("user_id", qe.KeywordIndexParams(is_tenant=True)),
                *((key, qe.PayloadSchemaType.Keyword)
                  for key in (*SCOPE_INDEXES[1:], *KEYWORD_INDEXES, *info.keyword_indexes)),
                *((key, qe.PayloadSchemaType.Datetime) for key in DATETIME_INDEXES),
            ]
            for key, schema in wanted:
                if key not in present:
                    shard.update(qe.UpdateOperation.create_field_index(key, schema))
        return shard

    def _error(self, exc: BaseException, action: str) -> MemoryLayerError:
        return store_error(exc, engine="embedded Qdrant", where=str(self.dir), action=action,
                           collection=self.collection, info=self._info)

    @contextmanager
    def _engine(self, action: str) -> Iterator[None]:
        """Run engine calls; what they raise comes out as our typed errors."""
        try:
            yield
        except MemoryLayerError:
            raise
        except BaseException as exc:
            # The Rust bindings raise plain Exception, and a Rust panic as pyo3's
            # PanicException, which is a BaseException; interrupts go through as they are.
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            raise self._error(exc, action) from exc

    def _call(self, action: str, fn: Callable[..., T], *args: Any) -> T:
        with self._engine(action):
            return fn(*args)

    @property
    def shard(self) -> Any:
        if self._shard is None:
            raise StoreError("the vector store is not open")
        return self._shard

    def upsert(self, points: list[Point]) -> None:
        if not points:
            return
        check_points(self.collection, self._info, points)
        with self._engine("upsert"):  # the bindings check ids and vectors as points are built
            edge_points = []
            for p in points:
                vectors: dict[str, Any] = {DENSE: p.vector}
                if p.sparse is not None:
                    vectors[LEXICAL] = qe.SparseVector(p.sparse.indices, p.sparse.values)
                edge_points.append(qe.Point(p.id, vectors, p.payload))
            self.shard.update(qe.UpdateOperation.upsert_points(edge_points))

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._call("delete", self.shard.update, qe.UpdateOperation.delete_points(list(ids)))

    def retrieve(self, ids: list[str], *, with_vectors: bool = False) -> list[Hit]:
        if not ids:
            return []
        with self._engine("retrieve"):
            records = self.shard.retrieve(list(ids), with_payload=True,
                                          with_vector=[DENSE] if with_vectors else False)
        return [_hit(r) for r in records]

    def search_batch(self, requests: list[SearchRequest]) -> list[list[Hit]]:
        if not requests:
            return []
        queries = []
        for r in requests:
            if r.dense is not None:
                query = qe.Query.Nearest(r.dense, using=DENSE)
            elif r.sparse is not None:
                if not r.sparse.indices:  # a query of stopwords only matches nothing
                    query = None
                else:
                    query = qe.Query.Nearest(qe.SparseVector(r.sparse.indices, r.sparse.values),
                                             using=LEXICAL)
            else:
                raise StoreError("a search request needs a dense or a sparse vector")
            queries.append(query)
        check_dimension(self.collection, self._info, (r.dense for r in requests))
        real = [
            qe.QueryRequest(limit=r.limit, query=q, filter=_request_filter(r),
                            with_payload=r.with_payload,
                            with_vector=[DENSE] if r.with_vectors else False,
                            score_threshold=r.score_threshold)
            for r, q in zip(requests, queries, strict=True) if q is not None
        ]
        answers = iter(self._call("search", self.shard.query_batch, qe.QueryBatchRequest(real))
                       if real else [])
        return [[_hit(p, p.score) for p in next(answers)] if q is not None else []
                for q in queries]

    def scroll(self, filter: FilterNode | None, *, limit: int,
               offset: str | None = None) -> tuple[list[Hit], str | None]:
        records, next_offset = self._call("scroll", self.shard.scroll, qe.ScrollRequest(
            offset=offset, limit=limit, filter=translate_filter(filter, _DIALECT),
            with_payload=True, with_vector=False))
        return [_hit(r) for r in records], (str(next_offset) if next_offset else None)

    def count(self, filter: FilterNode | None) -> int:
        return int(self._call("count", self.shard.count, qe.CountRequest(
            filter=translate_filter(filter, _DIALECT), exact=True)))

    def facet(self, key: str, filter: FilterNode | None = None) -> dict[str, int]:
        response = self._call("count by value", self.shard.facet, qe.FacetRequest(
            key=key, limit=1_000_000, exact=True, filter=translate_filter(filter, _DIALECT)))
        # deleted points can leave zero counts behind in the index
        return {_facet_value(h.value): h.count for h in response.hits if h.count}

    def optimize(self) -> None:
        """Merge segments and build the HNSW index (the engine does not do it on its own)."""
        self._call("optimize", self.shard.optimize)

    def drop(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None
            if self.dir.exists():
                # Renamed first (atomic), then removed: a crash half-way through the removal
                # leaves a trash directory, never a half-deleted shard that still loads.
                trash = self.dir.with_name(f"{self.dir.name}.trash-{uuid.uuid4().hex[:8]}")
                self.dir.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
        if self._info is not None:
            self.open(self._info)

    def close(self) -> None:
        with self._lock:
            try:
                if self._shard is not None:
                    with self._engine("flush"):
                        self._shard.flush()
                        self._shard.close()
                    self._shard = None
            finally:
                self._dir_lock.release()


def _facet_value(value: Any) -> str:
    # FacetHit values come back as tagged objects, e.g. Keyword("alice").
    if isinstance(value, (str, int, bool)):
        return str(value)
    text = str(value)
    if text.endswith(")") and "(" in text:
        text = text[text.index("(") + 1:-1]
        if text.startswith('"') and text.endswith('"'):
            text = json.loads(text)
    return text

