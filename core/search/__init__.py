"""Ranking: BM25 sparse vectors and the fusion of dense and lexical results."""
