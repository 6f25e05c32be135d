"""BM25 as Qdrant sparse vectors: term weights are computed here with qdrant-edge's BM25
model (the same tokenizer, stemmer and stopwords as Qdrant's server-side BM25), and the
IDF factor by Qdrant itself at query time (the collection's sparse vector has the IDF
modifier). It works unchanged on qdrant-edge and on a Qdrant server."""

from __future__ import annotations

import qdrant_edge as qe

from mem_integrations.core.stores.base import SparseVector


class BM25Encoder:
    """Text to BM25 sparse vectors."""

    def __init__(self, language: str = "english") -> None:
        self._model = qe.Bm25(qe.Bm25Config(language=language))

    def document(self, text: str) -> SparseVector:
        vector = self._model.embed_document(text)
        return SparseVector(list(vector.indices), list(vector.values))

    def query(self, text: str) -> SparseVector:
        vector = self._model.embed_query(text)
        return SparseVector(list(vector.indices), list(vector.values))
