"""Which engine an adapter uses, written down so a serialized adapter finds it again.

A serialized `LongTermMemory` (its `to_dict`, a pickle, a paused agent's context) holds
the engine's configuration, never the engine itself (threads, open stores) and never its
secrets (API keys, passwords, a database URL with credentials: a context is often stored
in plain text). Re-attaching, in this order:

1. an engine already open in this process on the same data (same data directory and vector
   collection) is reused: a `Memory` built in code with its own parts (`chat_model=`,
   `embedder=`) is found again, and the embedded stores, which one process opens once,
   are not opened twice;
2. otherwise an engine is built from the configuration, its secrets read from the
   environment (`MEMINT_LLM__API_KEY`, `OPENAI_API_KEY`...). A secret the original engine
   had and the environment does not provide is a `ConfigurationError` naming the variable:
   the engine is never rebuilt silently without it.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from pydantic import BaseModel, SecretStr

from mem_integrations.core.async_memory import AsyncMemory
from mem_integrations.core.config import ENV_PREFIX, load_config
from mem_integrations.core.errors import ConfigurationError
from mem_integrations.core.sync_memory import AnyMemory, Memory

_open: weakref.WeakValueDictionary[tuple[str, ...], Any] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def _key(config: Any) -> tuple[str, ...]:
    """Where an engine's data lives: two engines with the same key are the same memory."""
    store = config.vector_store
    url = store.url or ""
    return (str(config.data_dir.expanduser().resolve()), store.engine or "", store.collection,
            url, store.path or "")


def register(memory: AnyMemory) -> None:
    """Remember `memory` as open in this process, for `attach` to find."""
    with _lock:
        _open.setdefault(_key(memory.config), memory)


def _secrets(model: BaseModel, prefix: str = "") -> list[str]:
    """The dotted paths of the secrets set in a config (`llm.api_key`...)."""
    found = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(prefix + name)
        elif isinstance(value, BaseModel):
            found += _secrets(value, f"{prefix}{name}.")
    return found


def spec(memory: AnyMemory) -> dict[str, Any]:
    """The engine as JSON-ready data: its config without secrets, which secrets it had,
    and which facade it was."""
    config = memory.config
    secrets = _secrets(config)
    data = config.model_dump(mode="json", exclude_none=True)
    for path in secrets:
        *parents, last = path.split(".")
        section = data
        for part in parents:
            section = section[part]
        section.pop(last, None)
    return {"facade": "AsyncMemory" if isinstance(memory, AsyncMemory) else "Memory",
            "config": data, "secrets": secrets}


def attach(engine: dict[str, Any] | None, owner: str) -> AnyMemory:
    """The engine `spec` describes: the one open in this process, else a new one."""
    if not isinstance(engine, dict) or not isinstance(engine.get("config"), dict):
        raise ConfigurationError(
            f"{owner}.from_dict needs the engine: the data has no 'engine' entry (was it "
            f"written by {owner}.to_dict?); or pass memory=Memory(...) to from_dict")
    config = load_config(engine["config"])
    with _lock:
        found = _open.get(_key(config))
    if found is not None:
        return found
    missing = [path for path in engine.get("secrets", []) if path not in _secrets(config)]
    if missing:
        names = ", ".join(f"{ENV_PREFIX}{p.replace('.', '__').upper()}" for p in missing)
        raise ConfigurationError(
            f"{owner} was serialized with secrets that are never written out "
            f"({', '.join(missing)}): set {names} (OPENAI_API_KEY also fills an OpenAI "
            f"key) before resuming, or open its Memory in this process first")
    memory: AnyMemory = AsyncMemory(config) if engine.get("facade") == "AsyncMemory" \
        else Memory(config)
    register(memory)
    return memory
