"""Qdrant through `qdrant-client`: a server or Qdrant Cloud (`url=`), or the client's
local mode (`path=` or `":memory:"`), which suits small data only (it scans in Python).

The embedding model and dimension are kept in the collection's metadata and checked on
every open. `user_id` gets a tenant payload index, so one collection serves many users.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from mem_integrations.core.errors import ConfigurationError

try:
    from qdrant_client import QdrantClient
    from qdrant_client import models as m
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
except ImportError as exc:  # the embedded default (qdrant-edge) does not need it
    raise ConfigurationError(
        "vector_store.url / vector_store.path (a Qdrant server, Qdrant Cloud or "
        "qdrant-client's local mode) need qdrant-client: pip install "
        "'mem-integrations[qdrant]'; without them the embedded store is used"
    ) from exc

from mem_integrations.core.errors import (
    MemoryLayerError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
)
from mem_integrations.core.filters import FilterNode
from mem_integrations.core.redaction import redact_url
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

log = logging.getLogger(__name__)


class _ClientDialect:
    def filter(self, must=None, should=None, must_not=None) -> Any:
        return m.Filter(must=must, should=should, must_not=must_not)

    def match_value(self, key: str, value: Any) -> Any:
        return m.FieldCondition(key=key, match=m.MatchValue(value=value))

    def match_any(self, key: str, values: list[Any]) -> Any:
        return m.FieldCondition(key=key, match=m.MatchAny(any=values))

    def match_text(self, key: str, text: str) -> Any:
        return m.FieldCondition(key=key, match=m.MatchText(text=text))

    def range(self, key: str, bounds: dict[str, Any], *, dates: bool) -> Any:
        kind = m.DatetimeRange if dates else m.Range
        return m.FieldCondition(key=key, range=kind(**bounds))


_DIALECT = _ClientDialect()


def _hit(record: Any) -> Hit:
    vector = record.vector
    if isinstance(vector, dict):
        vector = vector.get(DENSE)
    return Hit(id=str(record.id), score=float(getattr(record, "score", 0.0) or 0.0),
               payload=dict(record.payload or {}),
               vector=list(vector) if vector is not None else None)


F = TypeVar("F", bound=Callable[..., Any])


def _boundary(method: F) -> F:
    """Every call into qdrant-client: what it raises comes out as our typed errors
    (`_error`), and in local mode one call at a time — local mode is not thread-safe
    (numpy arrays, one sqlite3 connection) and the engine calls the store from several
    worker threads. A server needs no lock."""

    @functools.wraps(method)
    def call(self: QdrantClientStore, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._is_server:
                return method(self, *args, **kwargs)
            with self._lock:
                return method(self, *args, **kwargs)
        except MemoryLayerError:
            raise
        except Exception as exc:
            raise self._error(exc, method.__name__.strip("_")) from exc

    return call  # type: ignore[return-value]


def _is_local(client: QdrantClient) -> bool:
    from qdrant_client.local.qdrant_local import QdrantLocal

    return isinstance(getattr(client, "_client", None), QdrantLocal)


class QdrantClientStore:
    """A collection reached through qdrant-client (server, cloud or local mode)."""

    name = "qdrant-client"

    def __init__(self, collection: str, *, url: str | None = None, api_key: str | None = None,
                 path: str | None = None, on_disk: bool = False,
                 client: QdrantClient | None = None) -> None:
        self.collection = collection
        self.on_disk = on_disk
        self._where = redact_url(url) if url else path or ":memory:"
        self._is_server = bool(url) or (client is not None and not _is_local(client))
        self._lock = threading.RLock()
        self._dir_lock: DirectoryLock | None = None
        self._info: CollectionInfo | None = None
        if client is None:
            if url:
                client = QdrantClient(url=url, api_key=api_key)
            elif path and path != ":memory:":
                client = self._local(path)
            else:
                client = QdrantClient(":memory:")
        self.client = client

    def _local(self, path: str) -> QdrantClient:
        """qdrant-client's local mode on `path`, under our lock (which names its holder)."""
        self._dir_lock = DirectoryLock(
            Path(path), "qdrant-client's local mode",
            share_hint="use a Qdrant server (vector_store.url), or the embedded default "
            "(qdrant_edge)")
        self._dir_lock.acquire()
        try:
            return QdrantClient(path=path)
        except RuntimeError as exc:
            self._dir_lock.release()
            if "already accessed" in str(exc):  # held by a program other than this library
                raise StoreLockedError(
                    f"{path} is held by another program (not a mem-integrations Memory): "
                    "stop it; qdrant-client's local mode allows one at a time (use a Qdrant "
                    "server, or the embedded default, qdrant_edge)") from exc
            raise self._error(exc, "open") from exc
        except BaseException:
            self._dir_lock.release()
            raise

    def _error(self, exc: BaseException, action: str) -> MemoryLayerError:
        """What qdrant-client raised, as ours: a server that cannot be reached or refuses
        is `StoreUnavailableError` (an add keeps its messages); the rest `store_error`."""
        if self._is_server:
            if isinstance(exc, (ResponseHandlingException, httpx.TransportError,
                                ConnectionError, TimeoutError)):
                return StoreUnavailableError(
                    f"cannot reach the Qdrant server at {self._where} ({action}: "
                    f"{exc or type(exc).__name__}): start it, or fix vector_store.url; "
                    "adds keep their messages for reprocess() meanwhile")
            if isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403):
                return StoreUnavailableError(
                    f"the Qdrant server at {self._where} refused the request "
                    f"({exc.status_code}): check vector_store.api_key")
            if isinstance(exc, UnexpectedResponse) and exc.status_code in (502, 503, 504):
                return StoreUnavailableError(
                    f"the Qdrant server at {self._where} is unavailable ({exc.status_code}) "
                    f"during {action}: try again once it is back; adds keep their messages "
                    "for reprocess() meanwhile")
        return store_error(exc, engine="Qdrant (qdrant-client)", where=self._where,
                           action=action, collection=self.collection, info=self._info)

    def __repr__(self) -> str:
        return f"QdrantClientStore(location={self._where!r}, collection={self.collection!r})"

    @_boundary
    def open(self, info: CollectionInfo) -> None:
        if self.client.collection_exists(self.collection):
            described = self.client.get_collection(self.collection)
            config = described.config
            recorded = dict(getattr(config, "metadata", None) or {})
            if not recorded:  # made by something else: compare what Qdrant itself knows
                params = config.params.vectors
                dense = params.get(DENSE) if isinstance(params, dict) else None
                if dense is None:
                    raise StoreError(
                        f"collection {self.collection!r} exists but was not made by "
                        "mem-integrations (no 'dense' vector); pick another collection name"
                    )
                recorded = {"embedding_model": info.embedding_model, "dimension": dense.size}
            check_same_embedder(self.collection, recorded, info)
            if self._is_server:  # an index asked for since the collection was made
                present = set(described.payload_schema)
                for key in info.keyword_indexes:
                    if key not in present:
                        self.client.create_payload_index(self.collection, key,
                                                         m.PayloadSchemaType.KEYWORD)
        else:
            self._create(info)
            recorded = info.metadata()
        self.lexical_version = int(recorded.get("lexical_version", 1))
        self._info = info

    @_boundary
    def record_lexical_version(self, version: int) -> None:
        recorded = dict(self.client.get_collection(self.collection).config.metadata or {})
        self.client.update_collection(self.collection,
                                      metadata={**recorded, "lexical_version": version})
        self.lexical_version = version

    def _create(self, info: CollectionInfo) -> None:
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE: m.VectorParams(size=info.dimension, distance=m.Distance.COSINE,
                                                  on_disk=self.on_disk or None)},
            sparse_vectors_config={LEXICAL: m.SparseVectorParams(modifier=m.Modifier.IDF)},
            metadata=info.metadata(),
        )
        if not self._is_server:
            return  # local mode scans in Python and ignores payload indexes
        self.client.create_payload_index(
            self.collection, "user_id",
            m.KeywordIndexParams(type=m.KeywordIndexType.KEYWORD, is_tenant=True))
        for key in (*SCOPE_INDEXES[1:], *KEYWORD_INDEXES, *info.keyword_indexes):
            self.client.create_payload_index(self.collection, key, m.PayloadSchemaType.KEYWORD)
        for key in DATETIME_INDEXES:
            self.client.create_payload_index(self.collection, key, m.PayloadSchemaType.DATETIME)

    @_boundary
    def upsert(self, points: list[Point]) -> None:
        if not points:
            return
        structs = []
        for p in points:
            vectors: dict[str, Any] = {DENSE: p.vector}
            if p.sparse is not None:
                vectors[LEXICAL] = m.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
            structs.append(m.PointStruct(id=p.id, vector=vectors, payload=p.payload))
        check_points(self.collection, self._info, points)
        self.client.upsert(self.collection, structs, wait=True)

    @_boundary
    def delete(self, ids: list[str]) -> None:
        if ids:
            self.client.delete(self.collection, m.PointIdsList(points=list(ids)), wait=True)

    @_boundary
    def retrieve(self, ids: list[str], *, with_vectors: bool = False) -> list[Hit]:
        if not ids:
            return []
        records = self.client.retrieve(self.collection, list(ids), with_payload=True,
                                       with_vectors=[DENSE] if with_vectors else False)
        return [_hit(r) for r in records]

    @_boundary
    def search_batch(self, requests: list[SearchRequest]) -> list[list[Hit]]:
        if not requests:
            return []
        queries: list[m.QueryRequest | None] = []
        for r in requests:
            if r.dense is not None:
                query: Any = r.dense
                using = DENSE
            elif r.sparse is not None:
                if not r.sparse.indices:
                    queries.append(None)
                    continue
                query = m.SparseVector(indices=r.sparse.indices, values=r.sparse.values)
                using = LEXICAL
            else:
                raise StoreError("a search request needs a dense or a sparse vector")
            where = translate_filter(r.filter, _DIALECT)
            if r.ids is not None:
                where = m.Filter(must=[m.HasIdCondition(has_id=list(r.ids)),
                                       *([where] if where is not None else [])])
            queries.append(m.QueryRequest(
                query=query, using=using, limit=r.limit, filter=where,
                with_payload=r.with_payload,
                with_vector=[DENSE] if r.with_vectors else False,
                score_threshold=r.score_threshold))
        check_dimension(self.collection, self._info, (r.dense for r in requests))
        real = [q for q in queries if q is not None]
        answers = iter(self.client.query_batch_points(self.collection, real) if real else [])
        return [[_hit(p) for p in next(answers).points] if q is not None else []
                for q in queries]

    @_boundary
    def scroll(self, filter: FilterNode | None, *, limit: int,
               offset: str | None = None) -> tuple[list[Hit], str | None]:
        records, next_offset = self.client.scroll(
            self.collection, scroll_filter=translate_filter(filter, _DIALECT), limit=limit,
            offset=offset, with_payload=True, with_vectors=False)
        return [_hit(r) for r in records], (str(next_offset) if next_offset else None)

    @_boundary
    def count(self, filter: FilterNode | None) -> int:
        return self.client.count(self.collection, count_filter=translate_filter(filter, _DIALECT),
                                 exact=True).count

    @_boundary
    def facet(self, key: str, filter: FilterNode | None = None) -> dict[str, int]:
        response = self.client.facet(self.collection, key=key, limit=1_000_000, exact=True,
                                     facet_filter=translate_filter(filter, _DIALECT))
        return {str(h.value): h.count for h in response.hits}

    @_boundary
    def drop(self) -> None:
        self.client.delete_collection(self.collection)
        if self._info is not None:
            self._create(self._info)

    @_boundary
    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._dir_lock is not None:
                self._dir_lock.release()
