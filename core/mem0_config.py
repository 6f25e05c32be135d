"""mem0's configuration dicts, read as ours.

mem0 v1 nests every component as ``{"provider": ..., "config": {...}}`` and uses its own
field names (``openai_base_url``, ``embedding_dims``, ``collection_name``…). A dict in that
shape is translated here into our sections, so a mem0 user's config works unchanged:

* every OpenAI-compatible LLM provider mem0 names goes through the `openai` client, with
  that provider's usual base URL and API-key variable;
* ``huggingface`` embeddings are the local embedder (or, with ``huggingface_base_url``, a
  text-embeddings-inference server's OpenAI-compatible API);
* ``qdrant`` is our Qdrant, ``neo4j`` / ``memgraph`` our Bolt graph, ``kuzu`` the embedded
  graph (LadybugDB, Kuzu's maintained fork);
* a provider we do not have is a `ConfigurationError` that names it and lists what is
  supported; settings that change nothing here are accepted with a `FutureWarning`
  (Python's category for deprecations aimed at end users, shown by default).
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path
from typing import Any

from mem_integrations.core.errors import ConfigurationError

__all__ = ["is_mem0_config", "translate_mem0_config"]

# provider -> (default base URL or None for OpenAI's, the variable its API key is read from)
LLM_PROVIDERS: dict[str, tuple[str | None, str | None]] = {
    "openai": (None, "OPENAI_API_KEY"),
    "openai_structured": (None, "OPENAI_API_KEY"),
    "deepseek": ("https://api.deepseek.com", "DEEPSEEK_API_KEY"),
    "ollama": ("http://localhost:11434/v1", None),
    "lmstudio": ("http://localhost:1234/v1", None),
    "vllm": ("http://localhost:8000/v1", None),
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "together": ("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "xai": ("https://api.x.ai/v1", "XAI_API_KEY"),
    "litellm": ("http://localhost:4000", "LITELLM_API_KEY"),  # a LiteLLM proxy
    "gemini": ("https://generativelanguage.googleapis.com/v1beta/openai/", "GOOGLE_API_KEY"),
    "minimax": ("https://api.minimax.chat/v1", "MINIMAX_API_KEY"),
}
EMBEDDER_PROVIDERS: dict[str, tuple[str | None, str | None]] = {
    "openai": (None, "OPENAI_API_KEY"),
    "ollama": ("http://localhost:11434/v1", None),
    "lmstudio": ("http://localhost:1234/v1", None),
    "together": ("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "gemini": ("https://generativelanguage.googleapis.com/v1beta/openai/", "GOOGLE_API_KEY"),
    "huggingface": (None, None),
}
GRAPH_PROVIDERS = ("neo4j", "memgraph", "kuzu")
# each provider's own base-URL key in mem0 (all mean "base_url" here)
_BASE_URL_KEYS = ("openai_base_url", "deepseek_base_url", "ollama_base_url", "lmstudio_base_url",
                  "vllm_base_url", "openrouter_base_url", "xai_base_url", "litellm_base_url",
                  "huggingface_base_url", "base_url", "api_base")
_LLM_KEYS: set[str] = {"model", "temperature", "max_tokens", "api_key", "enable_vision",
                       *_BASE_URL_KEYS}
_EMBEDDER_KEYS = {"model", "api_key", "embedding_dims", *_BASE_URL_KEYS}
# mem0 settings with no effect here: accepted, with one warning naming them
_IGNORED_LLM_KEYS = frozenset({"top_p", "top_k", "vision_details", "reasoning_effort",
                     "http_client_proxies", "models", "route", "site_url", "app_name", "store",
                     "response_callback", "lmstudio_response_format"})
_IGNORED_EMBEDDER_KEYS = frozenset({"model_kwargs", "http_client_proxies", "memory_add_embedding_type",
                          "memory_update_embedding_type", "memory_search_embedding_type"})
_QDRANT_KEYS = {"collection_name", "embedding_model_dims", "host", "port", "path", "url",
                "api_key", "on_disk"}
_GRAPH_KEYS = {"url", "username", "password", "database", "db"}
_TOP_LEVEL = {"llm", "embedder", "vector_store", "graph_store", "history_db_path", "version",
              "custom_fact_extraction_prompt", "custom_update_memory_prompt", "reranker"}
_MEM0_ONLY = {"history_db_path", "version", "custom_fact_extraction_prompt",
              "custom_update_memory_prompt", "reranker"}


def is_mem0_config(config: dict[str, Any]) -> bool:
    """Whether `config` is written in mem0's shape (a nested "config" or a mem0-only key)."""
    return bool(_MEM0_ONLY & config.keys()) or any(
        isinstance(config.get(section), dict) and "config" in config[section]
        for section in ("llm", "embedder", "vector_store", "graph_store"))


def _unknown(where: str, key: str, valid: set[str]) -> ConfigurationError:
    close = difflib.get_close_matches(key, sorted(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(valid))}"
    return ConfigurationError(f"unknown mem0 setting {where}.{key}{hint}")


def _unsupported(section: str, provider: Any, supported: Any, extra: str = "") -> ConfigurationError:
    return ConfigurationError(
        f"{section} provider {provider!r} is not supported by mem-integrations; supported: "
        f"{', '.join(supported)}.{extra}")


def _ignore(where: str, keys: set[str]) -> None:
    if keys:
        warnings.warn(f"mem0 setting(s) {', '.join(f'{where}.{k}' for k in sorted(keys))} "
                      f"have no effect in mem-integrations and are ignored",
                      FutureWarning, stacklevel=6)


def _check_keys(where: str, given: dict[str, Any], valid: set[str],
                ignored: frozenset[str] = frozenset()) -> None:
    """An unknown key is an error naming the nearest valid one; an ignored one a warning."""
    if unknown := sorted(given.keys() - valid - ignored):
        raise _unknown(where, unknown[0], valid | ignored)
    _ignore(where, given.keys() & ignored)


def _section(config: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    section = config[name]
    if not isinstance(section, dict):
        raise ConfigurationError(f"{name} must be a mapping like {{'provider': ..., 'config': "
                                 f"{{...}}}}, got {type(section).__name__}")
    inner = section.get("config") or {}
    if not isinstance(inner, dict):
        raise ConfigurationError(f"{name}.config must be a mapping")
    return str(section.get("provider") or "openai"), dict(inner)


def _base_url(where: str, given: dict[str, Any], default: str | None) -> str | None:
    urls = {given[k] for k in _BASE_URL_KEYS if given.get(k)}
    if len(urls) > 1:
        raise ConfigurationError(f"{where} sets several different base URLs: keep one")
    return next(iter(urls), default)


def _openai_compatible(where: str, provider: str, given: dict[str, Any],
                       defaults: tuple[str | None, str | None]) -> dict[str, Any]:
    default_url, key_variable = defaults
    out: dict[str, Any] = {"provider": "openai"}
    base_url = _base_url(where, given, default_url)
    if base_url:
        out["base_url"] = base_url
    api_key = given.get("api_key") or (os.environ.get(key_variable) if key_variable else None)
    if api_key:
        out["api_key"] = api_key
    if given.get("model"):
        out["model"] = given["model"]
    return out


def _llm(config: dict[str, Any]) -> dict[str, Any]:
    provider, given = _section(config, "llm")
    if provider not in LLM_PROVIDERS:
        extra = (" Pass a LangChain chat model as Memory(chat_model=LangChainChatModel(...))."
                 if provider == "langchain" else "")
        raise _unsupported("llm", provider, LLM_PROVIDERS, extra)
    _check_keys("llm.config", given, _LLM_KEYS, _IGNORED_LLM_KEYS)
    out = _openai_compatible("llm.config", provider, given, LLM_PROVIDERS[provider])
    for key in ("temperature", "max_tokens"):
        if given.get(key) is not None:
            out[key] = given[key]
    if given.get("enable_vision") is not None:  # mem0's name for llm.vision
        out["vision"] = bool(given["enable_vision"])
    return out


def _embedder(config: dict[str, Any]) -> dict[str, Any]:
    provider, given = _section(config, "embedder")
    if provider not in EMBEDDER_PROVIDERS:
        raise _unsupported("embedder", provider, EMBEDDER_PROVIDERS)
    _check_keys("embedder.config", given, _EMBEDDER_KEYS, _IGNORED_EMBEDDER_KEYS)
    if provider == "huggingface" and not given.get("huggingface_base_url"):
        out: dict[str, Any] = {}  # local: the bundled model on ONNX, or any other with torch
        if given.get("model"):
            out["model"] = given["model"]
        return out
    out = _openai_compatible("embedder.config", provider, given, EMBEDDER_PROVIDERS[provider])
    if given.get("embedding_dims"):
        out["dimensions"] = given["embedding_dims"]
    return out


def _absolute(path: str) -> str:
    """mem0 resolves relative paths against the working directory; ours against the data
    directory. Keep mem0's meaning."""
    return str(Path(path).expanduser().resolve())


def _vector_store(config: dict[str, Any], embedder: dict[str, Any] | None) -> dict[str, Any]:
    provider, given = _section(config, "vector_store")
    if provider != "qdrant":
        raise _unsupported("vector_store", provider, ["qdrant"])
    if "client" in given:
        raise ConfigurationError("vector_store.config.client (a QdrantClient object) is not "
                                 "supported: give url= (a server) or path= (local) instead")
    _check_keys("vector_store.config", given, _QDRANT_KEYS)
    out: dict[str, Any] = {}
    if given.get("collection_name"):
        out["collection"] = given["collection_name"]
    if given.get("url"):
        out["url"] = given["url"]
    elif given.get("host"):
        out["url"] = f"http://{given['host']}:{given.get('port') or 6333}"
    elif given.get("path"):
        out["path"] = _absolute(given["path"])
    if given.get("api_key"):
        out["api_key"] = given["api_key"]
    if given.get("on_disk") is not None:
        out["on_disk"] = bool(given["on_disk"])
    dims, asked = given.get("embedding_model_dims"), (embedder or {}).get("dimensions")
    if dims and asked and int(dims) != int(asked):
        raise ConfigurationError(
            f"vector_store.config.embedding_model_dims ({dims}) differs from "
            f"embedder.config.embedding_dims ({asked}): they must be the same")
    return out


def _graph_store(config: dict[str, Any]) -> dict[str, Any]:
    provider, given = _section(config, "graph_store")
    if provider not in GRAPH_PROVIDERS:
        raise _unsupported("graph_store", provider, GRAPH_PROVIDERS)
    _check_keys("graph_store.config", given, _GRAPH_KEYS)
    # its own llm and custom_prompt: here the one extraction call serves facts and graph
    _check_keys("graph_store", config["graph_store"], {"provider", "config", "threshold"},
                frozenset({"llm", "custom_prompt"}))
    out: dict[str, Any] = {}
    if provider == "kuzu":
        out["provider"] = "ladybug"
        if given.get("db") and given["db"] != ":memory:":
            out["path"] = _absolute(given["db"])
    else:
        out["provider"] = "neo4j"
        out.update({k: given[k] for k in ("url", "username", "password", "database")
                    if given.get(k)})
    if config["graph_store"].get("threshold") is not None:
        out["resolution_threshold"] = config["graph_store"]["threshold"]
    return out


def translate_mem0_config(config: dict[str, Any]) -> dict[str, Any]:
    """Our config dict for a mem0 v1 config dict. Sections already in our shape (no
    nested "config") and our own top-level keys pass through unchanged."""
    out = {k: v for k, v in config.items() if k not in _TOP_LEVEL}
    for name, translate in (("llm", _llm), ("embedder", _embedder), ("graph_store", _graph_store)):
        section = config.get(name)
        if isinstance(section, dict) and "config" in section:
            out[name] = translate(config)
        elif section is not None:
            out[name] = section
    vector_store = config.get("vector_store")
    if isinstance(vector_store, dict) and "config" in vector_store:
        out["vector_store"] = _vector_store(config, out.get("embedder"))
    elif vector_store is not None:
        out["vector_store"] = vector_store
    if config.get("history_db_path"):
        out["history"] = {**(out.get("history") or {}),
                          "path": _absolute(config["history_db_path"])}
    if config.get("custom_fact_extraction_prompt"):
        out["extraction"] = {**(out.get("extraction") or {}),
                             "prompt": config["custom_fact_extraction_prompt"]}
    if config.get("custom_update_memory_prompt"):
        out["reconcile"] = {**(out.get("reconcile") or {}),
                            "prompt": config["custom_update_memory_prompt"]}
    _check_keys("config", {k: v for k, v in config.items() if k in _TOP_LEVEL}, _TOP_LEVEL
                - {"version", "reranker"}, frozenset({"version", "reranker"}))
    return out
