"""Configuration: pydantic models loadable from a dict, a JSON/TOML file or the environment.

Environment variables, lowest precedence first:

* ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` — used by every OpenAI-compatible component
  (LLM and embedder) that has no key / base URL of its own;
* ``MEMINT_<SECTION>__<FIELD>`` — per-component overrides, for example
  ``MEMINT_LLM__BASE_URL``, ``MEMINT_LLM__MODEL``, ``MEMINT_EMBEDDER__API_KEY``,
  ``MEMINT_VECTOR_STORE__URL``, and ``MEMINT_DATA_DIR``.

Values passed in code (dict, file, keyword) win over both.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.mem0_config import is_mem0_config, translate_mem0_config
from mem_integrations.core.redaction import RedactedURL
from mem_integrations.core.search.settings import RankingConfig, RerankConfig

ENV_PREFIX = "MEMINT_"

DEFAULT_DATA_DIR = Path.home() / ".mem_integrations"


class _Section(BaseModel):
    # Validation errors must not echo what was given: it may be an API key, a password
    # or a URL with credentials (pydantic prints input_value otherwise).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class LLMConfig(_Section):
    """The chat model that extracts facts and reconciles them with what is known."""

    provider: Literal["openai", "offline"] | None = Field(
        default=None,
        description="'openai' (any OpenAI-compatible endpoint) or 'offline' (rule-based, no "
        "model). Unset: 'openai' when an API key or base URL is configured, else 'offline'.",
    )
    model: str = "gpt-4.1-mini"
    base_url: RedactedURL | None = None
    api_key: SecretStr | None = None
    temperature: float = 0.0
    max_tokens: int | None = 2000
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, description="Retries on timeouts, 429 and 5xx.")
    parse_retries: int = Field(
        default=1, ge=0, description="Extra calls when a reply cannot be parsed."
    )
    structured_output: Literal["json_schema", "json_object", "none"] = Field(
        default="json_schema",
        description="How to ask for JSON. Falls back to json_object, then none, when the "
        "provider rejects it.",
    )
    vision: bool | None = Field(
        default=None,
        description="Whether the model reads images: image parts of messages then go into "
        "the one extraction call. Unset: detected from well-known vision model names "
        "(gpt-4o*, gpt-4.1*, gpt-5*, claude-3*, gemini-2*, qwen-vl*, glm-4v*, llava...; see "
        "core.images). Without vision, images are skipped and the add reports how many.",
    )
    max_image_bytes: int = Field(
        default=5_000_000, gt=0,
        description="Largest image a base64 data URL may hold (decoded bytes).",
    )
    max_images: int = Field(default=8, gt=0, description="Most images one add may hold.")


class EmbedderConfig(_Section):
    """The embedding model. The LLM and the embedder often come from two vendors: each has
    its own base_url and api_key."""

    provider: Literal["onnx", "sentence_transformers", "openai"] | None = Field(
        default=None,
        description="'onnx' (local, ONNX Runtime, no torch), 'sentence_transformers' (local, "
        "torch; the [sentence-transformers] extra) or 'openai' (any OpenAI-compatible "
        "endpoint). Unset: 'onnx' for the bundled all-MiniLM-L6-v2 or a directory holding "
        "model.onnx, else 'sentence_transformers'.",
    )
    model: str | None = Field(
        default=None,
        description="Model name or path. Default: all-MiniLM-L6-v2, bundled (local), "
        "text-embedding-3-small (openai).",
    )
    base_url: RedactedURL | None = None
    api_key: SecretStr | None = None
    dimensions: int | None = Field(default=None, gt=0)
    batch_size: int = Field(default=64, gt=0)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    device: str | None = None
    multilingual: bool | None = Field(
        default=None, description="Whether the model embeds Chinese, Japanese and Korean "
        "well. Unset: known for common models (all-MiniLM-L6-v2: no; bge-m3, "
        "text-embedding-3-*, multilingual-e5-*: yes), otherwise assumed yes. With no, "
        "hybrid search weighs CJK queries towards BM25 (search.uncovered_dense_weight).")


class VectorStoreConfig(_Section):
    """Qdrant. Embedded (qdrant-edge) by default; `url=` for a server or Qdrant Cloud;
    `path=` or `":memory:"` for qdrant-client's local mode."""

    engine: Literal["qdrant_edge", "qdrant_client"] | None = Field(
        default=None, description="Unset: qdrant_client when url or path is set, else qdrant_edge."
    )
    collection: str = Field(default="memories", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    url: RedactedURL | None = None
    api_key: SecretStr | None = None
    path: str | None = Field(
        default=None, description="qdrant-client local mode directory, or ':memory:'."
    )
    on_disk: bool = Field(default=False, description="Keep vectors on disk (mmap) not in RAM.")


class GraphStoreConfig(_Section):
    """Graph memory: entities and relations, extracted in the same LLM call as facts.

    `provider="ladybug"` is embedded (LadybugDB, the maintained Kuzu fork) under the data
    directory; `provider="neo4j"` talks Bolt to Neo4j (or any Bolt server)."""

    provider: Literal["ladybug", "neo4j"] = "ladybug"
    url: RedactedURL | None = Field(default=None,
                                   description="bolt:// or neo4j:// URL (neo4j).")
    username: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    path: str | None = Field(default=None, description="LadybugDB directory. Default: <data_dir>/graph")
    resolution_threshold: float = Field(
        default=0.85, description="Cosine similarity above which a new entity name is the "
        "same entity as an existing one in the scope.")
    search_threshold: float = Field(
        default=0.6, description="Cosine similarity between the query and an entity name "
        "for the entity to count as mentioned by the query.")
    max_relations: int = Field(default=20, ge=1, description="Relations returned by search.")


class HistoryConfig(_Section):
    """Where the history of every change, the write journal and the pending adds live:
    SQLite (the default, one file) or PostgreSQL (`url`, shared by several processes)."""

    path: str | None = Field(default=None, description="SQLite file. Default: <data_dir>/history.db")
    url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://user:password@host:5432/db): keeps the history "
        "in PostgreSQL, shared by several processes or hosts. Needs the 'postgres' extra.")
    table_prefix: str = Field(
        default="memint_", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$",
        description="Prefix of the PostgreSQL table names (several namespaces, one database).")

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        if value is None:
            return None
        if info.data.get("path"):
            raise ValueError("set history.path (SQLite) or history.url (PostgreSQL), not both")
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("history.url must be a postgresql:// URL")
        return value


class ExtractionConfig(_Section):
    """What the extraction call keeps."""

    prompt: str | None = Field(default=None, description="Replaces the extraction instructions.")
    include: str | None = Field(default=None, description="Only keep facts of this kind.")
    exclude: str | None = Field(default=None, description="Never keep facts of this kind.")
    categories: dict[str, str] | None = Field(
        default=None, description="Category name -> description; facts are tagged with them."
    )


class ReconcileConfig(_Section):
    """How new facts are reconciled with similar existing memories."""

    prompt: str | None = Field(default=None, description="Replaces the reconcile instructions.")
    neighbours_per_fact: int = Field(default=5, ge=1, le=50)
    neighbour_threshold: float = Field(
        default=0.35,
        description="Cosine similarity above which an existing memory is shown to the LLM "
        "for an UPDATE/DELETE decision. Below it, a fact is added without a reconcile call.",
    )
    mode: Literal["single_call", "two_calls"] = Field(
        default="single_call", description="single_call: the memories the messages may "
        "touch are found first and shown in the ONE extraction call, which also decides "
        "ADD/UPDATE/DELETE/NONE (and superseded relations); two_calls: extract, then "
        "reconcile the facts that have neighbours in a second call. Measured in "
        "benchmarks/RESULTS.md.")
    max_shown: int = Field(
        default=40, ge=1, le=500, description="single_call: at most this many known "
        "memories (and as many relations) are shown, closest first.")
    per_sentence: int = Field(
        default=10, ge=1, le=100, description="single_call: the known memories searched "
        "for each sentence of the messages, and each message of several sentences "
        "(before de-duplication and max_shown).")
    close_neighbour: float = Field(
        default=0.85, description="single_call: an unshown neighbour at least this similar "
        "(cosine) to a fact the LLM added counts as close (a possible UPDATE the LLM could "
        "not see); less similar ones are left alone.")
    unseen_neighbours: Literal["reconcile", "add"] = Field(
        default="reconcile", description="single_call: a fact the LLM added whose close "
        "neighbour was not shown goes to a second, small reconcile call (reconcile), or "
        "is added as the LLM decided (add: never a second call).")


class SearchConfig(_Section):
    """Hybrid search: dense vectors fused with BM25 sparse vectors."""

    hybrid: bool = True
    fusion: Literal["convex", "rrf"] = Field(
        default="convex", description="convex: weighted sum of per-query scaled scores; "
        "rrf: weighted reciprocal-rank fusion.")
    dense_weight: float = Field(
        default=1.2, ge=0, description="The dense (embedding) side's weight in the fusion, "
        "against lexical_weight; 1.2 was chosen on LOCOMO dev with the ranking steps "
        "(benchmarks/RESULTS.md, section 9).")
    lexical_weight: float = Field(default=1.0, ge=0)
    uncovered_dense_weight: float = Field(
        default=0.5, ge=0, description="dense_weight for a query written in a script the "
        "embedder does not cover (a Chinese query with the English MiniLM model): its "
        "dense scores are mostly noise there, so BM25 leads.")
    rrf_k: int = Field(default=60, ge=1)
    candidates: int = Field(default=50, ge=1, description="Dense candidates.")
    lexical_candidates: int = Field(default=200, ge=1, description="BM25 candidates.")
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    rerank: RerankConfig = Field(default_factory=RerankConfig)


class StorageConfig(_Section):
    """Local disk use."""

    min_free_mb: int = Field(
        default=64, ge=0, description="Free disk space (MB) every write leaves: below it a "
        "write raises DiskFullError before anything is written (the embedded Qdrant writes "
        "through mmap and would die of SIGBUS on a full disk). 0 turns the check off.")


class PendingConfig(_Section):
    """The queue of pending adds: non-blocking adds (`add(..., async_mode=True)`), and adds
    whose messages were kept because they could not finish (the LLM or a store was down,
    the process stopped mid-add), retried, oldest first, when the memory opens."""

    retry_on_open: bool = Field(
        default=True, description="Retry them in the background when the memory opens "
        "(the first call, or open()); off: only reprocess(id) runs them.")
    max_attempts: int = Field(default=3, ge=1, description="Tries per pending add per open.")
    backoff_seconds: float = Field(
        default=2.0, ge=0, description="The wait after a failed try; doubles after each "
        "(at most 5 minutes).")
    workers: int = Field(
        default=32, ge=1, description="Queued adds of different scopes run concurrently, at "
        "most this many at once (one scope's adds always run one at a time, in order).")


class MemoryConfig(BaseModel):
    """Everything `Memory` needs. `MemoryConfig()` is a working, fully local setup."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    data_dir: Path = Field(default_factory=lambda: DEFAULT_DATA_DIR)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    embedder: EmbedderConfig = Field(default_factory=EmbedderConfig)
    vector_store: VectorStoreConfig = Field(default_factory=VectorStoreConfig)
    graph_store: GraphStoreConfig | None = Field(
        default=None, description="Graph memory; off unless set (e.g. {'provider': 'ladybug'}).")
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    extraction: ExtractionConfig = Field(default_factory=ExtractionConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    pending: PendingConfig = Field(default_factory=PendingConfig)

    @model_validator(mode="before")
    @classmethod
    def _history_db_url(cls, data: Any) -> Any:
        """`history_db_url=` (mem0's name) is `history.url`."""
        if isinstance(data, dict) and "history_db_url" in data:
            data = dict(data)
            url = data.pop("history_db_url")
            if url is not None:
                data["history"] = {**(data.get("history") or {}), "url": url}
        return data

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        return Path(value).expanduser() if isinstance(value, (str, Path)) else value

    def __repr_args__(self):  # secrets are SecretStr already; keep reprs short
        return [(k, v) for k, v in super().__repr_args__() if v is not None]


@functools.cache
def _env_settings() -> type[Any]:
    """The model that reads MEMINT_* variables into a nested dict (no defaults of its own).
    Built on first use: pydantic-settings is a sixth of `import mem_integrations`."""
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class EnvSettings(BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore",
            case_sensitive=False)
        data_dir: str | None = None
        llm: dict[str, Any] | None = None
        embedder: dict[str, Any] | None = None
        vector_store: dict[str, Any] | None = None
        graph_store: dict[str, Any] | None = None
        history: dict[str, Any] | None = None
        extraction: dict[str, Any] | None = None
        reconcile: dict[str, Any] | None = None
        search: dict[str, Any] | None = None
        storage: dict[str, Any] | None = None
        pending: dict[str, Any] | None = None

    return EnvSettings


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif value is not None:
            out[key] = value
    return out


def _plain(value: Any) -> Any:
    """A config given as a model becomes a dict, so it merges like one."""
    return value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value


def load_config(source: MemoryConfig | dict[str, Any] | str | Path | None = None,
                **overrides: Any) -> MemoryConfig:
    """Build a `MemoryConfig` from a model, dict or JSON/TOML file, then the environment.

    Raises `ConfigurationError` with the offending field when the result is invalid.
    """
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc
        try:
            given = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"config file {path} is not valid: {exc}") from exc
    else:
        given = _plain(source) or {}
    if not isinstance(given, dict):
        raise ConfigurationError(f"config must be a mapping, got {type(given).__name__}")
    given = {k: _plain(v) for k, v in given.items()}
    if is_mem0_config(given):
        given = translate_mem0_config(given)

    env = _env_settings()().model_dump(exclude_none=True)
    merged = _merge(_merge(env, given), {k: _plain(v) for k, v in overrides.items()})
    _apply_openai_env(merged)
    try:
        return MemoryConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigurationError("invalid configuration:\n" + _explain(exc)) from None


def _explain(error: ValidationError) -> str:
    """One line per problem, in the config's own words: the key, what is wrong, and for
    an unknown key the nearest valid one. (Inputs are never echoed: they may be secrets.)"""
    lines = []
    for problem in error.errors():
        *parents, last = [str(part) for part in problem["loc"]] or ["config"]
        where = ".".join([*parents, last])
        if problem["type"] == "extra_forbidden":
            model: Any = MemoryConfig
            for part in parents:
                field = model.model_fields.get(part) if isinstance(model, type) else None
                model = _model_of(field.annotation) if field else None
            valid = sorted(model.model_fields) if isinstance(model, type) else []
            close = difflib.get_close_matches(last, valid, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(valid)}"
            lines.append(f"- {where}: unknown key; {hint}")
        else:
            lines.append(f"- {where}: {problem['msg']}")
    return "\n".join(lines)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in a field's annotation (`GraphStoreConfig | None` included)."""
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
                None)


def _apply_openai_env(config: dict[str, Any]) -> None:
    """OPENAI_API_KEY / OPENAI_BASE_URL fill the gaps of OpenAI-compatible components."""
    key, base = os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_BASE_URL")
    llm = config.setdefault("llm", {})
    if llm.get("provider") in (None, "openai"):
        if key and not llm.get("api_key"):
            llm["api_key"] = key
        if base and not llm.get("base_url"):
            llm["base_url"] = base
    embedder = config.get("embedder") or {}
    if embedder.get("provider") == "openai":
        if key and not embedder.get("api_key"):
            embedder["api_key"] = key
        if base and not embedder.get("base_url"):
            embedder["base_url"] = base
