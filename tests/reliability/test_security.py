"""Security: secrets never in logs, reprs, config dumps or error messages; the REST API key
checked in constant time (wrong and missing keys rejected); input size limits; data paths
that cannot escape the data directory."""

from __future__ import annotations

import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import (
    ConfigurationError,
    InvalidInputError,
    Memory,
    MemoryLayerError,
    ProviderError,
)
from mem_integrations.core.config import load_config
from mem_integrations.core.records import MAX_MEMORY_CHARS, MAX_METADATA_BYTES
from mem_integrations.testing import Fault
from tests.conftest import facts

LLM_KEY = "sk-llm-SECRET-0001"
EMB_KEY = "sk-emb-SECRET-0002"
QDRANT_KEY = "qd-SECRET-0003"
NEO4J_PASSWORD = "neo-SECRET-0004"
PG_PASSWORD = "pg-SECRET-0005"
SECRETS = [LLM_KEY, EMB_KEY, QDRANT_KEY, NEO4J_PASSWORD, PG_PASSWORD]


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def full_config(tmp_path: Path, base_url: str = "http://127.0.0.1:9/v1") -> dict[str, Any]:
    return {
        "data_dir": str(tmp_path / "data"),
        "llm": {"base_url": base_url, "api_key": LLM_KEY},
        "embedder": {"provider": "openai", "base_url": base_url, "api_key": EMB_KEY,
                     "model": "tiny", "dimensions": 64},
        "vector_store": {"url": "http://127.0.0.1:9", "api_key": QDRANT_KEY},
        "graph_store": {"provider": "neo4j", "url": "bolt://127.0.0.1:9", "username": "neo4j",
                        "password": NEO4J_PASSWORD},
        "history": {"url": f"postgresql://memint:{PG_PASSWORD}@127.0.0.1:9/memint"},
    }


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_in_config_reprs_or_dumps(tmp_path) -> None:
    config = load_config(full_config(tmp_path))
    dumps = [repr(config), str(config), repr(config.llm), str(config.model_dump()),
             json.dumps(config.model_dump(mode="json")), config.model_dump_json(),
             repr(config.history), repr(config.graph_store), repr(config.vector_store)]
    for text in dumps:
        assert not leaked(text), text
    # ...while the engine can still read them
    assert config.llm.api_key.get_secret_value() == LLM_KEY


@pytest.mark.parametrize("section,bad", [
    pytest.param("history", {"url": f"mysql://memint:{PG_PASSWORD}@host/db"},
                 id="history-url-scheme"),
    pytest.param("history", {"url": f"postgresql://memint:{PG_PASSWORD}@host/db",
                             "path": "h.db"}, id="history-url-and-path"),
    ("llm", {"api_key": LLM_KEY, "bogus": 1}),
    ("llm", {"api_key": LLM_KEY, "timeout": -1}),
    ("embedder", {"provider": "openai", "api_key": EMB_KEY, "dimensions": 0}),
    ("graph_store", {"provider": "neo4j", "password": NEO4J_PASSWORD, "max_relations": 0}),
])
def test_no_secret_in_configuration_errors(tmp_path, section, bad) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_config({"data_dir": str(tmp_path), section: bad})
    assert not leaked(str(raised.value)), str(raised.value)
    assert not leaked(repr(raised.value))


def test_no_secret_in_the_memory_repr_logs_or_errors(tmp_path, llm, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # everything: ours, openai's, httpx's
    for name in ("openai", "httpx", "httpcore", "mem_integrations"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    config = full_config(tmp_path, llm.base_url)
    del config["vector_store"], config["graph_store"], config["history"]
    config["llm"]["max_retries"] = 1
    config["embedder"]["max_retries"] = 1
    memory = Memory(config)
    try:
        llm.queue(facts("Lives in Paris"))
        memory.add("I live in Paris", user_id="alice")
        llm.queue(Fault(status=401, message="invalid api key"), Fault(status=500),
                  Fault(status=500))
        errors = []
        for _ in range(2):
            try:
                memory.add("I moved to Rome", user_id="alice")
            except ProviderError as exc:
                errors.append(exc)
        assert errors
        texts = [repr(memory), str(memory.config), caplog.text,
                 *[f"{e!s} {e!r}" for e in errors], *[p.model_dump_json() for p in memory.pending()]]
        for text in texts:
            assert not leaked(text), text[:2000]
    finally:
        memory.close()
        for name in ("openai", "httpx", "httpcore", "mem_integrations"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_no_secret_in_the_cli_doctor_report(tmp_path, llm) -> None:
    typer_testing = pytest.importorskip("typer.testing")
    from mem_integrations.cli.commands import app

    config = full_config(tmp_path, llm.base_url)
    config["vector_store"] = {"engine": "qdrant_edge"}
    path = tmp_path / "memory.json"
    path.write_text(json.dumps(config))
    result = typer_testing.CliRunner().invoke(app, ["--config", str(path), "doctor", "--json"])
    assert "llm" in result.output.lower(), result.output  # it did report on the providers
    assert not leaked(result.output), result.output


# --- the REST API key --------------------------------------------------------------------------

KEY = "rest-key-0123456789abcdef"


@pytest.fixture
def rest(tmp_path, embedder) -> Any:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from mem_integrations.server import create_app

    app = create_app({"data_dir": str(tmp_path / "rest"), "llm": {"provider": "offline"}},
                     embedder=embedder, api_key=[KEY, "rotated-key-2"], max_body_bytes=64_000)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("headers", [
    {}, {"X-API-Key": ""}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY[:-1]},
    {"X-API-Key": KEY + "x"}, {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer"},
    {"X-API-Key": KEY.upper()},
], ids=["missing", "empty", "wrong", "prefix", "longer", "basic", "bearer-empty", "case"])
def test_rest_rejects_a_missing_or_wrong_key(rest, headers) -> None:
    for method, path, body in [("get", "/memories?user_id=a", None),
                               ("post", "/memories", {"messages": "hi there friend", "user_id": "a"}),
                               ("post", "/search", {"query": "x", "user_id": "a"})]:
        response = getattr(rest, method)(path, headers=headers,
                                         **({"json": body} if body else {}))
        assert response.status_code == 401, (path, response.text)
        assert KEY not in response.text


def test_rest_accepts_the_key_in_either_header_and_every_rotated_key(rest) -> None:
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"},
                    {"X-API-Key": "rotated-key-2"}):
        assert rest.get("/memories?user_id=a", headers=headers).status_code == 200
    assert rest.get("/health").status_code == 200  # open, and tells nothing secret


def test_rest_compares_keys_in_constant_time(rest, monkeypatch) -> None:
    """Every check goes through hmac.compare_digest on fixed-length digests, against every
    accepted key whether or not an earlier one matched: timing tells nothing about the
    key's content or which key matched."""
    import mem_integrations.server.security as security

    calls: list[tuple[int, int]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return compare(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    seen = []
    for given, status in ((KEY, 200), ("rotated-key-2", 200), ("x" * 3, 401),
                          ("y" * 5000, 401)):
        calls.clear()
        assert rest.get("/memories?user_id=a", headers={"X-API-Key": given}).status_code == status
        assert calls and all(a == b for a, b in calls), calls  # digests of equal length
        seen.append(list(calls))
    # the same comparisons, whatever the key and whether or not one matched
    assert all(c == seen[0] for c in seen), seen
    assert sum(n == 32 for n, _ in seen[0]) == 2  # both configured keys, every time


# --- input size limits -------------------------------------------------------------------------


def test_rest_rejects_oversized_bodies_before_reading_them(rest) -> None:
    huge = {"messages": "x" * 100_000, "user_id": "a"}
    response = rest.post("/memories", headers={"X-API-Key": KEY}, json=huge)
    assert response.status_code == 413


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_core_limits_on_memory_text_and_metadata(make_memory) -> None:
    memory = make_memory(offline=True)
    [item] = memory.add("I keep my passport in the desk", user_id="a", infer=False).results
    with pytest.raises(InvalidInputError, match=str(MAX_MEMORY_CHARS)):
        memory.update(item.id, text="x" * (MAX_MEMORY_CHARS + 1))
    with pytest.raises(InvalidInputError, match=str(MAX_METADATA_BYTES)):
        memory.add("I like tea", user_id="a", metadata={"blob": "x" * MAX_METADATA_BYTES})
    with pytest.raises(InvalidInputError):
        memory.add("I like tea", user_id="a", metadata={"../../key": 1})
    assert [m.memory for m in memory.get_all(user_id="a")] == [item.memory]


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_add_refuses_a_memory_longer_than_the_limit(make_memory) -> None:
    """Was: add(infer=False) stored a 1 MB message as one memory."""
    memory = make_memory(offline=True)
    with pytest.raises(InvalidInputError):
        memory.add("I write a lot. " * 70_000, user_id="a", infer=False)
    assert memory.get_all(user_id="a").results == []


# --- data paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("section,field", [("history", "path"), ("graph_store", "path"),
                                           ("vector_store", "path")])
@pytest.mark.parametrize("value", ["../escaped", "../../etc/x", "sub/../../escaped",
                                   "link/escaped"])
def test_relative_data_paths_cannot_leave_the_data_directory(tmp_path, section, field,
                                                            value) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    (tmp_path / "outside").mkdir()
    config: dict[str, Any] = {"data_dir": str(data), "llm": {"provider": "offline"},
                              section: {field: value}}
    if section == "vector_store":
        config[section]["engine"] = "qdrant_client"
    with pytest.raises(ConfigurationError, match="escapes the data directory"):
        Memory(config).close()
    assert list((tmp_path / "outside").iterdir()) == []


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "x" * 65, "a b", "memories;rm"])
def test_collection_names_cannot_be_paths(tmp_path, name) -> None:
    with pytest.raises(ConfigurationError):
        load_config({"data_dir": str(tmp_path), "vector_store": {"collection": name}})


@pytest.mark.parametrize("backend", ["qdrant_edge"])
def test_ids_from_callers_never_become_paths(make_memory, tmp_path) -> None:
    memory = make_memory(offline=True, graph_store={"provider": "ladybug"})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    hostile = ["../../../tmp/owned", "/etc/passwd", "..", "C:\\Windows\\x"]
    for value in hostile:
        memory.add("I live in Paris", user_id=value)
        memory.add("I live in Paris", agent_id=value, run_id=value, infer=False)
        assert [m.memory for m in memory.get_all(user_id=value)] == ["I live in Paris"]
    with pytest.raises(InvalidInputError, match="NUL"):  # refused, not stored
        memory.add("I live in Paris", user_id="a\x00b")
    for bad_id in ["../../etc/passwd", "/etc/passwd", "..", ""]:
        with pytest.raises(MemoryLayerError):
            memory.get(bad_id)
        with pytest.raises(MemoryLayerError):
            memory.reprocess(bad_id)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    created = {p.parts[0] for p in after if p not in before}
    assert created <= {"data"}, created  # nothing outside the data directory
    assert not (Path("/tmp/owned")).exists()
