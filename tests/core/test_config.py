"""Configuration: sources, precedence, per-component providers, secrets."""

from __future__ import annotations

import json
import threading
import warnings

import pytest

from mem_integrations import ConfigurationError, Memory
from mem_integrations.core.config import load_config
from mem_integrations.core.factory import build_extractor
from mem_integrations.core.pipeline.extractor import LLMExtractor
from mem_integrations.core.pipeline.offline import OfflineExtractor
from mem_integrations.testing import ScriptedLLMServer


def test_defaults_are_local(tmp_path):
    config = load_config({"data_dir": str(tmp_path)})
    assert config.vector_store.engine is None and config.embedder.provider is None
    assert config.llm.api_key is None


def test_openai_env_fills_the_llm_only(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://llm.example/v1")
    config = load_config()
    assert config.llm.api_key.get_secret_value() == "sk-env"
    assert config.llm.base_url == "http://llm.example/v1"
    assert config.embedder.api_key is None  # the local embedder needs no key


def test_prefixed_env_overrides_per_component(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-shared")
    monkeypatch.setenv("MEMINT_LLM__BASE_URL", "http://llm.example/v1")
    monkeypatch.setenv("MEMINT_LLM__MODEL", "qwen3")
    monkeypatch.setenv("MEMINT_EMBEDDER__PROVIDER", "openai")
    monkeypatch.setenv("MEMINT_EMBEDDER__BASE_URL", "http://embed.example/v1")
    monkeypatch.setenv("MEMINT_EMBEDDER__API_KEY", "sk-embed")
    config = load_config()
    assert (config.llm.base_url, config.llm.model) == ("http://llm.example/v1", "qwen3")
    assert config.llm.api_key.get_secret_value() == "sk-shared"
    assert config.embedder.base_url == "http://embed.example/v1"
    assert config.embedder.api_key.get_secret_value() == "sk-embed"


def test_code_beats_environment(monkeypatch):
    monkeypatch.setenv("MEMINT_LLM__MODEL", "from-env")
    assert load_config({"llm": {"model": "from-code"}}).llm.model == "from-code"


def test_config_files(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"llm": {"model": "m-json"}}))
    (tmp_path / "c.toml").write_text('[llm]\nmodel = "m-toml"\n')
    assert load_config(tmp_path / "c.json").llm.model == "m-json"
    assert load_config(str(tmp_path / "c.toml")).llm.model == "m-toml"
    with pytest.raises(ConfigurationError):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ConfigurationError):
        load_config(tmp_path / "bad.json")


@pytest.mark.parametrize("bad", [
    {"llm": {"temperature": "hot"}}, {"nonsense": 1}, {"vector_store": {"collection": "a b"}},
    {"llm": {"provider": "skynet"}},
])
def test_invalid_config_is_a_configuration_error(bad):
    with pytest.raises(ConfigurationError):
        load_config(bad)


def test_secrets_stay_out_of_reprs_and_dumps():
    config = load_config({"llm": {"api_key": "sk-very-secret"},
                          "vector_store": {"api_key": "qd-secret"}})
    assert "sk-very-secret" not in repr(config) and "sk-very-secret" not in str(config)
    assert "sk-very-secret" not in config.model_dump_json()
    assert "qd-secret" not in config.model_dump_json()


def test_offline_extractor_only_without_llm_settings(recwarn):
    assert isinstance(build_extractor(load_config({"llm": {"provider": "offline"}})),
                      OfflineExtractor)
    with_key = load_config({"llm": {"api_key": "sk-x"}})
    assert isinstance(build_extractor(with_key), LLMExtractor)
    with_url = load_config({"llm": {"base_url": "http://127.0.0.1:1/v1"}})
    assert isinstance(build_extractor(with_url), LLMExtractor)


async def test_the_offline_notice_is_logged_once_and_only_when_extracting(monkeypatch, caplog):
    import mem_integrations.core.pipeline.offline as offline

    monkeypatch.setattr(offline, "_announced", threading.Event())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a log line, not a Python warning
        default = build_extractor(load_config())
        declined = build_extractor(load_config({"llm": {"provider": "offline"}}))
        assert caplog.records == []  # building one (list, history, search) says nothing
        message = [{"role": "user", "content": "I live in Paris."}]
        await declined.extract(message)
        assert caplog.records == []  # offline on purpose: nothing to say
        await default.extract(message)
        await build_extractor(load_config()).extract(message)
    notices = [r for r in caplog.records if "No LLM configured" in r.getMessage()]
    assert len(notices) == 1 and notices[0].levelname == "WARNING"


@pytest.mark.parametrize("llm", [{"model": "gpt-4.1-mini"}, {"model": "deepseek-chat"},
                                 {"temperature": 0.2}])
def test_an_llm_section_without_key_or_url_is_a_configuration_error(tmp_path, llm):
    """Naming a model but not where it runs must not quietly mean rule-based extraction."""
    config = load_config({"data_dir": str(tmp_path), "llm": llm})
    with pytest.raises(ConfigurationError, match="llm.provider='offline'") as raised:
        build_extractor(config)
    assert "api_key" in str(raised.value) and "base_url" in str(raised.value)
    with pytest.raises(ConfigurationError):
        Memory(config)
    assert not (tmp_path / "history.db").exists()  # nothing made


def test_llm_and_embedder_use_their_own_endpoints(tmp_path):
    """The classic mem0 mix-up: an embedder sent to the LLM's base URL. Here each
    component talks only to its own server."""
    with ScriptedLLMServer() as llm_server, ScriptedLLMServer() as embed_server:
        memory = Memory({
            "data_dir": str(tmp_path),
            "llm": {"base_url": llm_server.base_url, "api_key": "sk-llm", "model": "chat-m"},
            "embedder": {"provider": "openai", "base_url": embed_server.base_url,
                         "api_key": "sk-embed", "model": "embed-m", "dimensions": 64},
        })
        try:
            llm_server.queue({"facts": [{"text": "Lives in Paris", "categories": []}]})
            memory.add("I live in Paris", user_id="alice")
            assert memory.search("Paris", user_id="alice").results[0].memory == "Lives in Paris"
        finally:
            memory.close()
        assert llm_server.chat_calls == 1 and llm_server.embedding_calls == 0
        assert embed_server.chat_calls == 0 and embed_server.embedding_calls >= 2


def test_relative_store_paths_cannot_escape_the_data_dir(tmp_path):
    with pytest.raises(ConfigurationError):
        Memory({"data_dir": str(tmp_path), "history": {"path": "../../elsewhere.db"},
                "llm": {"provider": "offline"}})


def test_history_db_url_is_mem0s_name_for_history_url():
    config = load_config({"history_db_url": "postgresql://memint:pw@db:5432/memint"})
    assert config.history.url.get_secret_value() == "postgresql://memint:pw@db:5432/memint"
    assert "pw" not in repr(config)
