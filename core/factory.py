"""Building the engine's parts from a `MemoryConfig`."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.graph.base import GraphStore
from mem_integrations.core.history.base import HistoryStore
from mem_integrations.core.history.sqlite import SQLiteHistory
from mem_integrations.core.pipeline.extractor import Extractor, LLMExtractor
from mem_integrations.core.pipeline.offline import OfflineExtractor
from mem_integrations.core.providers.base import ChatModel, Embedder
from mem_integrations.core.providers.embedders import make_embedder
from mem_integrations.core.stores.base import VectorStore

log = logging.getLogger(__name__)


class OfflineExtractorWarning(UserWarning):
    """No LLM is configured: rule-based extraction is in use."""


_warned_offline = False


def _warn_offline() -> None:
    global _warned_offline
    if not _warned_offline:
        _warned_offline = True
        message = (
            "No LLM configured (no OPENAI_API_KEY, llm.api_key or llm.base_url): using the "
            "offline rule-based extractor. Memories are kept sentence by sentence and updates "
            "follow simple rules. Configure an LLM for real extraction."
        )
        warnings.warn(message, OfflineExtractorWarning, stacklevel=4)
        log.warning(message)


def build_extractor(config: MemoryConfig, chat: ChatModel | None = None) -> Extractor:
    """An LLM extractor when a chat model is given or configured; else the offline one."""
    llm = config.llm
    if chat is None:
        wants_llm = llm.provider == "openai" or (
            llm.provider is None and (llm.api_key is not None or llm.base_url is not None))
        if not wants_llm:
            if llm.provider is None:
                _warn_offline()
            return OfflineExtractor()
        from mem_integrations.core.providers.openai_chat import OpenAIChatModel
        chat = OpenAIChatModel(llm)
    return LLMExtractor(chat, config.extraction, config.reconcile,
                        parse_retries=llm.parse_retries)


def build_embedder(config: MemoryConfig) -> Embedder:
    return make_embedder(config.embedder)


def build_vector_store(config: MemoryConfig) -> VectorStore:
    vs = config.vector_store
    engine = vs.engine or ("qdrant_client" if (vs.url or vs.path) else "qdrant_edge")
    if engine == "qdrant_client":
        from mem_integrations.core.stores.qdrant_client import QdrantClientStore
        return QdrantClientStore(
            vs.collection, url=vs.url, api_key=vs.api_key.get_secret_value() if vs.api_key else None,
            path=_inside(config.data_dir, vs.path) if vs.path and vs.path != ":memory:" else vs.path,
            on_disk=vs.on_disk)
    if vs.url:
        raise ConfigurationError("vector_store.url needs engine 'qdrant_client' (or unset)")
    from mem_integrations.core.stores.qdrant_edge import QdrantEdgeStore
    return QdrantEdgeStore(config.data_dir / "qdrant", vs.collection, on_disk=vs.on_disk)


def build_graph_store(config: MemoryConfig) -> GraphStore | None:
    """The graph store, or None when graph memory is off (the default)."""
    graph = config.graph_store
    if graph is None:
        return None
    if graph.provider == "neo4j":
        if not graph.url:
            raise ConfigurationError("graph_store.url is required for provider 'neo4j'")
        from mem_integrations.core.graph.neo4j import Neo4jGraphStore
        return Neo4jGraphStore(
            graph.url, username=graph.username,
            password=graph.password.get_secret_value() if graph.password else None,
            database=graph.database)
    from mem_integrations.core.graph.ladybug import LadybugGraphStore
    return LadybugGraphStore(Path(_inside(config.data_dir, graph.path)) if graph.path
                             else config.data_dir / "graph")


def build_history(config: MemoryConfig) -> HistoryStore:
    """SQLite in the data directory by default; PostgreSQL when `history.url` is set."""
    history = config.history
    if history.url is not None:
        from mem_integrations.core.history.postgres import PostgresHistory  # psycopg only when asked for
        return PostgresHistory(history.url.get_secret_value(),
                               table_prefix=history.table_prefix)
    path = history.path
    return SQLiteHistory(_inside(config.data_dir, path) if path else config.data_dir / "history.db")


def _inside(data_dir: Path, path: str) -> str:
    """Relative paths live in the data directory; absolute ones are the user's choice."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    resolved = (data_dir / candidate).resolve()
    if not resolved.is_relative_to(data_dir.resolve()):
        raise ConfigurationError(f"relative path {path!r} escapes the data directory {data_dir}")
    return str(resolved)
