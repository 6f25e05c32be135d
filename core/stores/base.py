"""The vector store interface the memory engine uses, and the filter translation both
Qdrant engines share (their models differ in names only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mem_integrations.core.errors import EmbeddingMismatchError
from mem_integrations.core.filters import Condition, FilterNode, Logical

DENSE = "dense"
LEXICAL = "lexical"
SCOPE_INDEXES = ("user_id", "agent_id", "run_id")
# superseded_by: delete(id) finds the past versions of a memory by it
KEYWORD_INDEXES = ("hash", "actor_id", "memory_type", "superseded_by", "context_id")
# every read filters on valid_to (core.validity): unindexed, that check cost ~2 ms a query
DATETIME_INDEXES = ("created_at", "valid_from", "valid_to")


@dataclass
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass
class Point:
    """A memory as stored: id, dense vector, optional BM25 sparse vector, payload."""

    id: str
    vector: list[float]
    payload: dict[str, Any]
    sparse: SparseVector | None = None


@dataclass
class Hit:
    id: str
    score: float
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass
class SearchRequest:
    """One nearest-neighbour query: `dense` or `sparse` (exactly one)."""

    limit: int
    dense: list[float] | None = None
    sparse: SparseVector | None = None
    filter: FilterNode | None = None
    with_vectors: bool = False
    score_threshold: float | None = None
    ids: list[str] | None = None  # only these points (scoring known candidates)
    with_payload: bool = True


@dataclass
class CollectionInfo:
    """What the collection was built with: the embedder is checked on every open; the
    lexical version (how the sparse vectors were tokenized) tells when they need encoding
    again. Collections recorded before the version existed are version 1."""

    embedding_model: str
    dimension: int
    lexical_version: int = 1
    # keyword payload indexes wanted besides the fixed ones (a configured metadata key the
    # search facets on); created on open when missing, never recorded
    keyword_indexes: tuple[str, ...] = ()

    def metadata(self) -> dict[str, Any]:
        """What a store records with the collection."""
        return {"embedding_model": self.embedding_model, "dimension": self.dimension,
                "lexical_version": self.lexical_version}


class VectorStore(Protocol):
    """Synchronous; the async engine calls it from worker threads."""

    name: str

    lexical_version: int
    """After `open`: the lexical version the collection's sparse vectors were written with."""

    def open(self, info: CollectionInfo) -> None:
        """Create the collection, or check that the existing one matches `info`
        (raise `EmbeddingMismatchError` when it does not)."""

    def record_lexical_version(self, version: int) -> None:
        """Every sparse vector has been written with `version`'s tokenizing."""

    def upsert(self, points: list[Point]) -> None: ...

    def delete(self, ids: list[str]) -> None: ...

    def retrieve(self, ids: list[str], *, with_vectors: bool = False) -> list[Hit]: ...

    def search_batch(self, requests: list[SearchRequest]) -> list[list[Hit]]:
        """All queries in one round trip where the engine allows it."""

    def scroll(self, filter: FilterNode | None, *, limit: int,
               offset: str | None = None) -> tuple[list[Hit], str | None]: ...

    def count(self, filter: FilterNode | None) -> int: ...

    def facet(self, key: str, filter: FilterNode | None = None) -> dict[str, int]:
        """Count of points per distinct value of a keyword field."""

    def drop(self) -> None:
        """Delete the collection and everything in it."""

    def close(self) -> None: ...


class FilterDialect(Protocol):
    """The constructors of one engine's filter models."""

    def filter(self, must: list[Any] | None = None, should: list[Any] | None = None,
               must_not: list[Any] | None = None) -> Any: ...

    def match_value(self, key: str, value: Any) -> Any: ...

    def match_any(self, key: str, values: list[Any]) -> Any: ...

    def match_text(self, key: str, text: str) -> Any: ...

    def range(self, key: str, bounds: dict[str, Any], *, dates: bool) -> Any: ...


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def translate_filter(node: FilterNode | None, dialect: FilterDialect) -> Any:
    """Our filter tree as an engine's Filter (None for no filter)."""
    if node is None:
        return None
    if isinstance(node, Logical):
        children = [translate_filter(c, dialect) for c in node.children]
        if node.op == "and":
            return dialect.filter(must=children)
        if node.op == "or":
            return dialect.filter(should=children)
        return dialect.filter(must_not=children)
    return _condition(node, dialect)


def _condition(cond: Condition, d: FilterDialect) -> Any:
    key, op, value = cond.field, cond.op, cond.value
    if op == "eq":
        return d.filter(must=[d.match_value(key, value)])
    if op == "ne":
        return d.filter(must_not=[d.match_value(key, value)])
    if op == "in":
        return d.filter(must=[d.match_any(key, value)])
    if op == "nin":
        return d.filter(must_not=[d.match_any(key, value)])
    if op == "contains":
        return d.filter(should=[d.match_value(key, value), d.match_text(key, value)])
    return d.filter(must=[d.range(key, {op: value}, dates=_is_date(value))])


def check_same_embedder(collection: str, recorded: dict[str, Any], info: CollectionInfo) -> None:
    """Raise `EmbeddingMismatchError` unless `info` matches what was recorded."""
    if recorded.get("dimension") != info.dimension or (
        recorded.get("embedding_model") != info.embedding_model
    ):
        raise EmbeddingMismatchError(
            f"collection {collection!r} was built with embedding model "
            f"{recorded.get('embedding_model')!r} ({recorded.get('dimension')} dimensions), "
            f"but the configured embedder is {info.embedding_model!r} ({info.dimension} "
            "dimensions). Use the original embedder, or another collection / data_dir."
        )
