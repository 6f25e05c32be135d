"""Secrets never shown: credentials in the LLM, embedder, Qdrant and Neo4j URLs are
redacted in reprs, JSON dumps, log lines (httpx's included) and errors; a provider error
that echoes the API key is scrubbed before it is raised or stored in history.db
(`redact_url` itself: test_redaction.py)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.config import MemoryConfig
from mem_integrations.core.errors import ProviderError, StoreError
from mem_integrations.core.redaction import redact_text, register_secret
from mem_integrations.testing import ScriptedLLMServer
from mem_integrations.testing.llm_server import Fault

LLM_PASSWORD = "llm-pw-5f2a9c"
EMBED_PASSWORD = "emb-pw-77c1d0"
QDRANT_PASSWORD = "qd-pw-b93e44"
NEO4J_PASSWORD = "neo-pw-0aa8f1"
API_KEY = "sk-proj-Zk3Qe9ReallySecret0042"
SECRETS = (LLM_PASSWORD, EMBED_PASSWORD, QDRANT_PASSWORD, NEO4J_PASSWORD, API_KEY)


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.parametrize("text, shown", [
    ("connect to http://bob:hunter2xyz@db:5432/x failed", "http://bob:***@db:5432/x"),
    ("token in https://ghp_abc123def@github.com/repo", "https://***@github.com/repo"),
    ("Incorrect API key provided: sk-abcdefghijklmnop1234.", "provided: sk-***."),
    ("Authorization: Bearer abcdefghijkl0123", "Authorization: Bearer ***"),
    ('{"api_key": "k-123456789", "x": 1}', '{"api_key": "***", "x": 1}'),
    ("GET /v1?password=p4ssw0rd&limit=3", "GET /v1?password=***&limit=3"),
    ("no secret: http://localhost:11434/v1", "no secret: http://localhost:11434/v1"),
])
def test_redact_text(text: str, shown: str) -> None:
    assert shown in redact_text(text)


def test_registered_secrets_are_scrubbed_whatever_their_shape() -> None:
    register_secret("plain-opaque-value-991")
    assert redact_text("the key plain-opaque-value-991 was refused") == \
        "the key *** was refused"
    register_secret("short")  # too short to scrub safely: ignored
    assert redact_text("a short note") == "a short note"


def _config(tmp_path: Path, llm_url: str) -> dict[str, Any]:
    return {"data_dir": str(tmp_path / "data"),
            "llm": {"base_url": llm_url, "api_key": API_KEY, "max_retries": 0, "timeout": 5},
            "embedder": {"base_url": f"http://embed:{EMBED_PASSWORD}@emb.local/v1"},
            "vector_store": {"url": f"http://qd:{QDRANT_PASSWORD}@qdrant.local:6333"},
            "graph_store": {"provider": "neo4j",
                            "url": f"bolt://neo4j:{NEO4J_PASSWORD}@graph.local:7687"}}


def test_config_reprs_and_json_dumps_show_no_credentials(tmp_path: Path) -> None:
    config = MemoryConfig.model_validate(
        _config(tmp_path, f"http://user:{LLM_PASSWORD}@llm.local/v1"))
    for shown in (repr(config), str(config), config.model_dump_json(),
                  str(config.model_dump(mode="json")), repr(config.llm),
                  repr(config.vector_store), repr(config.graph_store)):
        assert _leaks(shown) == [], shown
    assert "http://user:***@llm.local/v1" in config.model_dump_json()
    # the code still gets the real URLs
    assert config.llm.base_url == f"http://user:{LLM_PASSWORD}@llm.local/v1"
    assert config.graph_store.url.startswith(f"bolt://neo4j:{NEO4J_PASSWORD}@")


def test_memory_repr_log_lines_errors_and_history_show_no_credentials(
        tmp_path: Path, embedder: Any, llm: ScriptedLLMServer,
        caplog: pytest.LogCaptureFixture) -> None:
    host = llm.base_url.split("://", 1)[1]
    url = f"http://user:{LLM_PASSWORD}@{host}"
    config = {**_config(tmp_path, url)}
    del config["vector_store"], config["graph_store"], config["embedder"]
    # the provider's error text echoes the key and the URL, as some gateways do
    llm.queue(Fault(status=500, message=f"upstream refused key {API_KEY} for {url}"))
    caplog.set_level(logging.INFO)
    with Memory(config, embedder=embedder) as memory:
        assert _leaks(repr(memory)) == []
        with pytest.raises(ProviderError) as caught:
            memory.add("I live in Paris.", user_id="alice")
        assert _leaks(str(caught.value)) == [] and "refused key *** for http://user:***@" in str(caught.value)
        [kept] = memory.pending()
        assert _leaks(kept.error) == [] and kept.error
    http_lines = [r for r in caplog.records if r.name.startswith("httpx")]
    assert http_lines, "httpx logged no request line at INFO"
    for record in caplog.records:
        assert _leaks(record.getMessage()) == [], record.getMessage()
    # nothing secret on disk either
    with sqlite3.connect(tmp_path / "data" / "history.db") as db:
        dumped = "\n".join(str(row) for row in db.iterdump())
    assert _leaks(dumped) == []


def test_every_error_of_ours_is_scrubbed() -> None:
    error = StoreError(f"cannot reach http://qd:{QDRANT_PASSWORD}@qdrant.local:6333")
    assert _leaks(str(error)) == [] and "http://qd:***@qdrant.local:6333" in str(error)
