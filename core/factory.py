"""Building the engine's parts from a `MemoryConfig`.

Each part's decision (which implementation, where it keeps its data, and why) is a public
`*_choice` function; the `build_*` functions build from it, and `mem-integrations doctor`
reports it, so what doctor says is what `Memory` builds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.graph.base import GraphStore
from mem_integrations.core.history.base import HistoryStore
from mem_integrations.core.history.sqlite import SQLiteHistory
from mem_integrations.core.images import is_vision_model
from mem_integrations.core.pipeline.extractor import Extractor, LLMExtractor
from mem_integrations.core.pipeline.offline import OfflineExtractor
from mem_integrations.core.providers.base import BaseEmbedder, ChatModel
from mem_integrations.core.providers.embedders import (
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    is_bundled_minilm,
)
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder, onnx_model_files
from mem_integrations.core.redaction import redact_url
from mem_integrations.core.stores.base import VectorStore

__all__ = [
    "OPENAI_BASE_URL", "Choice", "build_embedder", "build_extractor",
    "build_graph_store", "build_history", "build_vector_store", "embedder_choice",
    "extractor_choice", "graph_store_choice", "history_choice", "vector_store_choice",
]

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
"""Where the `openai` client sends requests when no base URL is configured."""


@dataclass(frozen=True)
class Choice:
    """What the factory builds for one part of the engine, where, and why."""

    kind: str
    """The implementation: "openai" or "offline" (extractor), "openai", "onnx" or
    "sentence_transformers" (embedder), "qdrant_edge" or "qdrant_client" (vector store),
    "sqlite" or "postgresql" (history), "ladybug", "neo4j" or "off" (graph store)."""
    where: str
    """Where it lives, safe to print: the path of a local file or directory (the one that is
    used), ":memory:", a URL without credentials, or "" for a part that keeps no data."""
    reason: str
    """The setting that decided it, in words."""


def extractor_choice(config: MemoryConfig) -> Choice:
    """"openai" (an LLM behind an OpenAI-compatible endpoint) when one is configured, else
    "offline" (rule-based). A chat model passed to `Memory` wins over both."""
    llm = config.llm
    if llm.provider == "offline":
        return Choice("offline", "", "llm.provider is 'offline'")
    if llm.provider == "openai":
        reason = "llm.provider is 'openai'"
    elif llm.api_key is not None:
        reason = "an API key is set (llm.api_key or OPENAI_API_KEY)"
    elif llm.base_url is not None:
        reason = "llm.base_url is set (or OPENAI_BASE_URL)"
    elif named := sorted(llm.model_fields_set - {"provider"}):
        # an llm section that says which model, but not where: never quietly offline
        raise ConfigurationError(
            f"llm.{named[0]} is set but there is no API key or base URL for the LLM: set "
            "llm.api_key (or OPENAI_API_KEY) and, for a provider other than OpenAI, "
            "llm.base_url (e.g. https://api.deepseek.com); or set llm.provider='offline' for "
            "the rule-based extractor")
    else:
        return Choice("offline", "", "no OPENAI_API_KEY, llm.api_key or llm.base_url")
    return Choice("openai", redact_url(llm.base_url or OPENAI_BASE_URL), reason)


def build_extractor(config: MemoryConfig, chat: ChatModel | None = None) -> Extractor:
    """An LLM extractor when a chat model is given or configured; else the offline one."""
    llm = config.llm
    if chat is None:
        if extractor_choice(config).kind == "offline":
            return OfflineExtractor(announce=llm.provider is None)
        from mem_integrations.core.providers.openai_chat import OpenAIChatModel
        chat = OpenAIChatModel(llm)
        # llm.model names the model only when it is ours; a ready-made chat model's
        # vision is never guessed from it
        vision = llm.vision if llm.vision is not None else is_vision_model(llm.model)
    else:
        vision = bool(llm.vision)
    return LLMExtractor(chat, config.extraction, config.reconcile,
                        parse_retries=llm.parse_retries, vision=vision)


def embedder_choice(config: MemoryConfig) -> Choice:
    """"openai" (any OpenAI-compatible endpoint), "onnx" (local, ONNX Runtime: the default)
    or "sentence_transformers" (local, torch)."""
    embedder = config.embedder
    if embedder.provider == "openai":
        return Choice("openai", redact_url(embedder.base_url or OPENAI_BASE_URL),
                      "embedder.provider is 'openai'")
    if embedder.provider is not None:
        return Choice(embedder.provider, embedder.model or "",
                      f"embedder.provider is {embedder.provider!r}")
    if embedder.model is None or is_bundled_minilm(embedder.model):
        return Choice("onnx", "", "the default: the bundled all-MiniLM-L6-v2 on ONNX Runtime")
    if onnx_model_files(embedder) is not None:
        return Choice("onnx", embedder.model, "embedder.model holds model.onnx")
    return Choice("sentence_transformers", embedder.model,
                  "embedder.model is not an ONNX export")


def build_embedder(config: MemoryConfig) -> BaseEmbedder:
    """The embedder `embedder_choice` names. Nothing heavy is imported until it embeds."""
    kind = embedder_choice(config).kind
    if kind == "openai":
        return OpenAIEmbedder(config.embedder)
    if kind == "onnx":
        return OnnxEmbedder(config.embedder)
    return SentenceTransformerEmbedder(config.embedder)


def vector_store_choice(config: MemoryConfig) -> Choice:
    """"qdrant_edge" (embedded, the default) or "qdrant_client" (a server, Qdrant Cloud, or
    qdrant-client's local mode)."""
    vs = config.vector_store
    if vs.engine is not None:
        engine, reason = vs.engine, f"vector_store.engine is '{vs.engine}'"
    elif vs.url or vs.path:
        engine, reason = "qdrant_client", f"vector_store.{'url' if vs.url else 'path'} is set"
    else:
        engine, reason = "qdrant_edge", "the default (embedded)"
    if engine == "qdrant_edge":
        if vs.url:
            raise ConfigurationError("vector_store.url needs engine 'qdrant_client' (or unset)")
        return Choice(engine, str(config.data_dir / "qdrant"), reason)
    if vs.url:
        return Choice(engine, redact_url(vs.url), reason)
    if vs.path and vs.path != ":memory:":
        return Choice(engine, str(_inside(config.data_dir, vs.path)), reason)
    return Choice(engine, ":memory:", reason)


def build_vector_store(config: MemoryConfig) -> VectorStore:
    choice = vector_store_choice(config)
    vs = config.vector_store
    if choice.kind == "qdrant_client":
        from mem_integrations.core.stores.qdrant_client import QdrantClientStore
        return QdrantClientStore(
            vs.collection, url=vs.url, api_key=vs.api_key.get_secret_value() if vs.api_key else None,
            path=None if vs.url else choice.where, on_disk=vs.on_disk)
    from mem_integrations.core.stores.qdrant_edge import QdrantEdgeStore
    return QdrantEdgeStore(Path(choice.where), vs.collection, on_disk=vs.on_disk)


def graph_store_choice(config: MemoryConfig) -> Choice:
    """"off" (the default), "ladybug" (embedded) or "neo4j" (any Bolt server)."""
    graph = config.graph_store
    if graph is None:
        return Choice("off", "", "graph_store is not set (graph memory is off by default)")
    reason = f"graph_store.provider is '{graph.provider}'"
    if graph.provider == "neo4j":
        if not graph.url:
            raise ConfigurationError("graph_store.url is required for provider 'neo4j'")
        return Choice("neo4j", redact_url(graph.url), reason)
    path = _inside(config.data_dir, graph.path) if graph.path else config.data_dir / "graph"
    return Choice("ladybug", str(path), reason)


def build_graph_store(config: MemoryConfig) -> GraphStore | None:
    """The graph store, or None when graph memory is off (the default)."""
    graph = config.graph_store
    if graph is None:
        return None
    choice = graph_store_choice(config)
    if choice.kind == "neo4j":
        from mem_integrations.core.graph.neo4j import Neo4jGraphStore
        return Neo4jGraphStore(
            str(graph.url), username=graph.username,
            password=graph.password.get_secret_value() if graph.password else None,
            database=graph.database)
    from mem_integrations.core.graph.ladybug import LadybugGraphStore
    return LadybugGraphStore(Path(choice.where))


def history_choice(config: MemoryConfig) -> Choice:
    """"sqlite" in the data directory (the default), or "postgresql" when `history.url` is
    set."""
    history = config.history
    if history.url is not None:
        return Choice("postgresql", redact_url(history.url.get_secret_value()),
                      "history.url is set")
    if history.path:
        return Choice("sqlite", str(_inside(config.data_dir, history.path)),
                      "history.path is set")
    return Choice("sqlite", str(config.data_dir / "history.db"), "the default (one file)")


def build_history(config: MemoryConfig) -> HistoryStore:
    history = config.history
    if history.url is None:
        return SQLiteHistory(history_choice(config).where)
    # psycopg is imported only when PostgreSQL is asked for
    from mem_integrations.core.history.postgres import PostgresHistory
    return PostgresHistory(history.url.get_secret_value(), table_prefix=history.table_prefix)


def _inside(data_dir: Path, path: str) -> Path:
    """Relative paths live in the data directory; absolute ones are the user's choice."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    resolved = (data_dir / candidate).resolve()
    if not resolved.is_relative_to(data_dir.resolve()):
        raise ConfigurationError(f"relative path {path!r} escapes the data directory {data_dir}")
    return resolved
