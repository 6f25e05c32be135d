"""Vector stores: Qdrant, embedded (qdrant-edge) or through qdrant-client."""

from mem_integrations.core.stores.base import Hit, Point, SearchRequest, VectorStore

__all__ = ["Hit", "Point", "SearchRequest", "VectorStore"]
