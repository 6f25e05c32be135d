"""What crosses the boundary to a vector engine comes back as our errors.

The Qdrant engines raise what their layers raise: qdrant-edge's Rust bindings a bare
`Exception` ("Vector dimension error: expected dim: 384, got 3"), qdrant-client an
`UnexpectedResponse`, a `ResponseHandlingException` around a refused connection, or a
`ValueError` in local mode. Both stores call `store_error` on anything that is not
already a `MemoryLayerError`, so a caller only ever sees a typed error whose message
says how to fix it, and `check_dimension` refuses a wrong-sized vector before the
engine sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mem_integrations.core.errors import (
    DiskFullError,
    EmbeddingMismatchError,
    StoreError,
)
from mem_integrations.core.stores.base import CollectionInfo, Point

__all__ = ["check_dimension", "check_points", "dimension_error", "store_error"]

_DIMENSION = re.compile(r"dimension error: expected dim: (\d+), got (\d+)", re.IGNORECASE)
_DISK_FULL = ("no space left", "os error 28", "disk is full", "disk full")


def dimension_error(collection: str, info: CollectionInfo | None, got: int | str
                    ) -> EmbeddingMismatchError:
    """The collection holds vectors of another size than the embedder's."""
    built = (f"{info.dimension} dimensions, embedding model {info.embedding_model!r}"
             if info is not None else "another dimension")
    return EmbeddingMismatchError(
        f"collection {collection!r} holds vectors of {built}, but got a {got}-dimensional "
        "vector: the embedder's output changed (another model, or its `dimensions` "
        "setting). Use the embedder the collection was built with, or another "
        "vector_store.collection / data_dir for the new one.")


def check_dimension(collection: str, info: CollectionInfo | None,
                    vectors: Iterable[list[float] | None]) -> None:
    """Raise `EmbeddingMismatchError` for any vector whose length is not the collection's
    (before the engine fails on it, in its own words)."""
    if info is None:
        return
    for vector in vectors:
        if vector is not None and len(vector) != info.dimension:
            raise dimension_error(collection, info, len(vector))


def check_points(collection: str, info: CollectionInfo | None, points: list[Point]) -> None:
    """Refuse points the engine would choke on: a wrong-sized dense vector, or a sparse
    vector whose indices and values differ in length — qdrant-edge panics on that half
    way through the write and the shard is left broken for every later write."""
    check_dimension(collection, info, (p.vector for p in points))
    for p in points:
        if p.sparse is not None and len(p.sparse.indices) != len(p.sparse.values):
            raise StoreError(
                f"point {p.id!r}: its sparse vector has {len(p.sparse.indices)} indices and "
                f"{len(p.sparse.values)} values; they must pair up (build it with "
                "core.search.lexical.BM25Encoder)")


def store_error(exc: BaseException, *, engine: str, where: str, action: str,
                collection: str, info: CollectionInfo | None
                ) -> StoreError | EmbeddingMismatchError:
    """An engine's exception as ours. `where` is safe to show (a path or a redacted URL);
    `action` says what was being done ("search", "upsert"...)."""
    text = str(exc)
    found = _DIMENSION.search(text)
    if found is not None:
        return dimension_error(collection, info, found.group(2))
    if isinstance(exc, OSError) and exc.errno == 28 or any(
            marker in text.lower() for marker in _DISK_FULL):
        return DiskFullError(
            f"the disk under {where} is full ({engine} could not {action}): free some "
            "space and call again (nothing of this call was confirmed written; the history "
            "journal replays what was)")
    return StoreError(
        f"{engine} at {where} failed to {action}: {text.rstrip('.') or type(exc).__name__}. If it "
        "persists after a restart, `mem-integrations doctor` checks the store")
