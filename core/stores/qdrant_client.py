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
from typing import Any, TypeVar

from qdrant_client import QdrantClient
from qdrant_client import models as m

from mem_integrations.core.errors import StoreError, StoreLockedError
from mem_integrations.core.filters import FilterNode
from mem_integrations.core.stores.base import (
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


def _serialised(method: F) -> F:
    """qdrant-client's local mode is not thread-safe (numpy arrays, one sqlite3
    connection) and the engine calls the store from several worker threads: one call at a
    time there. A server needs no lock."""

    @functools.wraps(method)
    def call(self: QdrantClientStore, *args: Any, **kwargs: Any) -> Any:
        if self._is_server:
            return method(self, *args, **kwargs)
        with self._lock:
            return method(self, *args, **kwargs)

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
        self._where = url or path or ":memory:"
        self._is_server = bool(url) or (client is not None and not _is_local(client))
        self._lock = threading.RLock()
        if client is None:
            if url:
                client = QdrantClient(url=url, api_key=api_key)
            elif path and path != ":memory:":
                try:
                    client = QdrantClient(path=path)
                except RuntimeError as exc:
                    if "already accessed" in str(exc):
                        raise StoreLockedError(
                            f"{path} is open in another process (or another Memory); "
                            "qdrant-client's local mode allows one at a time (use a Qdrant "
                            "server, or the embedded default, qdrant_edge)") from exc
                    raise
            else:
                client = QdrantClient(":memory:")
        self.client = client
        self._info: CollectionInfo | None = None

    def __repr__(self) -> str:
        return f"QdrantClientStore(location={self._where!r}, collection={self.collection!r})"

    @_serialised
    def open(self, info: CollectionInfo) -> None:
        if self.client.collection_exists(self.collection):
            config = self.client.get_collection(self.collection).config
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
        else:
            self._create(info)
            recorded = info.metadata()
        self.lexical_version = int(recorded.get("lexical_version", 1))
        self._info = info

    @_serialised
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
        for key in (*SCOPE_INDEXES[1:], *KEYWORD_INDEXES):
            self.client.create_payload_index(self.collection, key, m.PayloadSchemaType.KEYWORD)
        self.client.create_payload_index(self.collection, "created_at",
                                         m.PayloadSchemaType.DATETIME)

    @_serialised
    def upsert(self, points: list[Point]) -> None:
        if not points:
            return
        structs = []
        for p in points:
            vectors: dict[str, Any] = {DENSE: p.vector}
            if p.sparse is not None:
                vectors[LEXICAL] = m.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
            structs.append(m.PointStruct(id=p.id, vector=vectors, payload=p.payload))
        self.client.upsert(self.collection, structs, wait=True)

    @_serialised
    def delete(self, ids: list[str]) -> None:
        if ids:
            self.client.delete(self.collection, m.PointIdsList(points=list(ids)), wait=True)

    @_serialised
    def retrieve(self, ids: list[str], *, with_vectors: bool = False) -> list[Hit]:
        if not ids:
            return []
        records = self.client.retrieve(self.collection, list(ids), with_payload=True,
                                       with_vectors=[DENSE] if with_vectors else False)
        return [_hit(r) for r in records]

    @_serialised
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
            queries.append(m.QueryRequest(
                query=query, using=using, limit=r.limit,
                filter=translate_filter(r.filter, _DIALECT), with_payload=True,
                with_vector=[DENSE] if r.with_vectors else False,
                score_threshold=r.score_threshold))
        real = [q for q in queries if q is not None]
        answers = iter(self.client.query_batch_points(self.collection, real) if real else [])
        return [[_hit(p) for p in next(answers).points] if q is not None else []
                for q in queries]

    @_serialised
    def scroll(self, filter: FilterNode | None, *, limit: int,
               offset: str | None = None) -> tuple[list[Hit], str | None]:
        records, next_offset = self.client.scroll(
            self.collection, scroll_filter=translate_filter(filter, _DIALECT), limit=limit,
            offset=offset, with_payload=True, with_vectors=False)
        return [_hit(r) for r in records], (str(next_offset) if next_offset else None)

    @_serialised
    def count(self, filter: FilterNode | None) -> int:
        return self.client.count(self.collection, count_filter=translate_filter(filter, _DIALECT),
                                 exact=True).count

    @_serialised
    def facet(self, key: str, filter: FilterNode | None = None) -> dict[str, int]:
        response = self.client.facet(self.collection, key=key, limit=1_000_000, exact=True,
                                     facet_filter=translate_filter(filter, _DIALECT))
        return {str(h.value): h.count for h in response.hits}

    @_serialised
    def drop(self) -> None:
        self.client.delete_collection(self.collection)
        if self._info is not None:
            self._create(self._info)

    @_serialised
    def close(self) -> None:
        self.client.close()
