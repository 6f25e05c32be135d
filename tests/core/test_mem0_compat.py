"""mem0 code, written for `from mem0 import Memory`, run unchanged against ours.

Everything talks to local scripted OpenAI-compatible servers over real HTTP: one plays
DeepSeek's chat API, another SiliconFlow's embeddings API, as mem0 users configure them.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from pathlib import Path

import pytest

from mem_integrations import ConfigurationError, InvalidInputError, Memory, MissingScopeError
from mem_integrations.core.config import load_config
from mem_integrations.core.factory import embedder_choice
from mem_integrations.testing import ScriptedLLMServer
from tests.conftest import facts, ops


@pytest.fixture
def embeddings_server():
    with ScriptedLLMServer(embedding_dimension=1024) as server:
        yield server


def mem0_config(llm: ScriptedLLMServer, embeddings: ScriptedLLMServer, tmp_path: Path) -> dict:
    """A mem0 v1 config as its users write it for DeepSeek + SiliconFlow + local Qdrant."""
    return {
        "vector_store": {"provider": "qdrant", "config": {
            "collection_name": "memories", "embedding_model_dims": 1024,
            "path": str(tmp_path / "qdrant"), "on_disk": True}},
        "llm": {"provider": "deepseek", "config": {
            "deepseek_base_url": llm.base_url, "api_key": "sk-deepseek",
            "model": "deepseek-chat", "temperature": 0.1, "max_tokens": 2000}},
        "embedder": {"provider": "openai", "config": {
            "openai_base_url": embeddings.base_url, "api_key": "sk-siliconflow",
            "model": "BAAI/bge-m3", "embedding_dims": 1024}},
        "history_db_path": str(tmp_path / "history.db"),
        "version": "v1.1",
    }


def test_mem0_code_runs_verbatim(llm, embeddings_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.warns(FutureWarning, match="version"):
        m = Memory.from_config(mem0_config(llm, embeddings_server, tmp_path))
    try:
        llm.queue(facts("Likes to play tennis"))
        r = m.add([{"role": "user", "content": "I like to play tennis."}], user_id="alice")
        mid = r["results"][0]["id"]
        assert r["results"][0]["event"] == "ADD"

        hits = m.search("What sports?", user_id="alice")["results"]
        assert hits[0]["memory"] == "Likes to play tennis" and "score" in hits[0]
        assert hits[0].get("metadata", {}) == {}
        assert isinstance(hits[0]["created_at"], str)

        everything = m.get_all(user_id="alice")
        assert [x["memory"] for x in everything["results"]] == ["Likes to play tennis"]
        assert m.get(mid)["memory"] == "Likes to play tennis"
        assert json.loads(json.dumps(dict(m.get(mid))))["id"] == mid

        llm.queue(facts("Likes to play tennis on weekends"),
                  ops({"event": "UPDATE", "id": 0, "text": "Likes to play tennis on weekends"}))
        m.add("I play tennis on weekends", user_id="alice")
        history = m.history(mid)
        assert [h["event"] for h in history] == ["ADD", "UPDATE"]
        assert history[1]["new_memory"] == "Likes to play tennis on weekends"

        m.delete(mid)
        assert m.get_all(user_id="alice")["results"] == []
        m.delete_all(user_id="alice")
        m.reset()
    finally:
        m.close()
    # the LLM and the embedder were reached at their own URLs with their own keys
    assert llm.chat_calls == 3 and embeddings_server.embedding_calls > 0
    assert llm.calls[0].body["model"] == "deepseek-chat"


def test_a_mem0_config_becomes_ours(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-from-env")
    config = load_config({
        "llm": {"provider": "deepseek", "config": {"model": "deepseek-chat"}},
        "embedder": {"provider": "huggingface", "config": {}},
        "vector_store": {"provider": "qdrant", "config": {"host": "qdrant.local", "port": 6334}},
        "graph_store": {"provider": "neo4j", "config": {
            "url": "bolt://neo4j.local:7687", "username": "neo4j", "password": "pw"}},
        "history_db_path": "./history.db",
        "custom_fact_extraction_prompt": "Only food.",
        "custom_update_memory_prompt": "Be careful.",
    })
    assert config.llm.base_url == "https://api.deepseek.com"
    assert config.llm.api_key.get_secret_value() == "sk-from-env"
    assert embedder_choice(config).kind == "onnx"  # mem0's local default: MiniLM, here on ONNX
    assert config.vector_store.url == "http://qdrant.local:6334"
    assert config.graph_store.provider == "neo4j"
    assert config.graph_store.password.get_secret_value() == "pw"
    assert config.history.path == str(tmp_path / "history.db")  # mem0: relative to the cwd
    assert (config.extraction.prompt, config.reconcile.prompt) == ("Only food.", "Be careful.")


@pytest.mark.parametrize("provider,url", [
    ("ollama", "http://localhost:11434/v1"), ("lmstudio", "http://localhost:1234/v1"),
    ("vllm", "http://localhost:8000/v1"), ("groq", "https://api.groq.com/openai/v1"),
    ("together", "https://api.together.xyz/v1"), ("xai", "https://api.x.ai/v1"),
])
def test_openai_compatible_providers_get_their_usual_base_url(provider, url):
    config = load_config({"llm": {"provider": provider, "config": {"model": "m"}}})
    assert config.llm.provider == "openai" and config.llm.base_url == url


def test_kuzu_is_the_embedded_graph(tmp_path):
    config = load_config({"graph_store": {"provider": "kuzu",
                                          "config": {"db": str(tmp_path / "g")}}})
    assert config.graph_store.provider == "ladybug"
    assert config.graph_store.path == str(tmp_path / "g")


@pytest.mark.parametrize("config,message", [
    ({"llm": {"provider": "anthropic", "config": {}}}, "'anthropic' is not supported"),
    ({"vector_store": {"provider": "pgvector", "config": {}}}, "supported: qdrant"),
    ({"graph_store": {"provider": "neptune", "config": {}}}, "neo4j, memgraph, kuzu"),
    ({"llm": {"provider": "openai", "config": {"modle": "x"}}}, "did you mean 'model'"),
    ({"embedder": {"provider": "openai", "config": {"embedding_dim": 3}}},
     "did you mean 'embedding_dims'"),
    ({"vector_store": {"provider": "qdrant", "config": {"embedding_model_dims": 768}},
      "embedder": {"provider": "openai", "config": {"embedding_dims": 1024}}}, "must be the same"),
    ({"llm": {"modle": "x"}}, "llm.modle: unknown key; did you mean 'model'"),
    ({"serch": {}}, "did you mean 'search'"),
])
def test_what_we_cannot_do_says_what_to_write_instead(config, message):
    with pytest.raises(ConfigurationError, match=message) as raised:
        load_config(config)
    assert "pydantic" not in str(raised.value) and "input_value" not in str(raised.value)


def test_no_secret_is_echoed_by_a_config_error():
    with pytest.raises(ConfigurationError) as raised:
        load_config({"llm": {"provider": "openai", "config": {
            "api_key": "sk-very-secret", "temperature": "hot"}}})
    assert "sk-very-secret" not in str(raised.value)


def test_mem0_settings_with_no_effect_are_accepted_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_config({"llm": {"provider": "openai", "config": {"model": "m", "top_p": 0.2}},
                     "version": "v1.1"})
    texts = " ".join(str(w.message) for w in caught if w.category is FutureWarning)
    assert "llm.config.top_p" in texts and "config.version" in texts


def test_results_read_as_mem0_dicts(tmp_path, embedder):
    with Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                embedder=embedder) as m:
        added = m.add("I love green tea.", user_id="alice", metadata={"topic": "drinks"})
        item = m.get(added["results"][0]["id"])
        assert item["memory"] == "I love green tea" and item["metadata"] == {"topic": "drinks"}
        assert "hash" in item and "score" not in item and item.get("score") is None
        with pytest.raises(KeyError):
            item["score"]
        plain = dict(item)
        assert plain == {k: v.isoformat() if isinstance(v, datetime) else v
                         for k, v in item.model_dump().items()}
        assert datetime.fromisoformat(plain["created_at"]) == item.created_at
        found = m.search("tea", user_id="alice")
        assert len(found) == 1 and [i.memory for i in found] == ["I love green tea"]
        assert found.model_dump()["results"][0]["memory"] == "I love green tea"


def test_mem0_call_spellings(tmp_path, embedder):
    with Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"}},
                embedder=embedder) as m:
        mid = m.add("I like tennis.", user_id="alice")["results"][0]["id"]
        m.add("I like chess.", user_id="bob")
        m.update(memory_id=mid, data="Likes to play tennis on weekends")
        assert m.get(memory_id=mid)["memory"] == "Likes to play tennis on weekends"
        # mem0 2.x: the scope inside filters, top_k for limit
        hits = m.search(query="hobbies", filters={"user_id": "alice"}, top_k=5)
        assert [h["memory"] for h in hits["results"]] == ["Likes to play tennis on weekends"]
        assert len(m.get_all(filters={"user_id": "bob"})["results"]) == 1
        # combined with an explicit id, never widened or changed
        assert len(m.search("chess", user_id="bob", filters={"user_id": "bob"})) == 1
        with pytest.raises(InvalidInputError, match="different scopes"):
            m.search("chess", user_id="alice", filters={"user_id": "bob"})
        with pytest.raises(MissingScopeError):
            m.search("chess", filters={"topic": "x"})
        with pytest.warns(FutureWarning, match="output_format"):
            m.get_all(user_id="alice", output_format="v1.1")
        with pytest.raises(TypeError, match=r"^Memory\.update\(\)"):
            m.update(mid, colour="red")
        with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
            m.search("x", user_id="alice", bogus=1)
        with pytest.raises(InvalidInputError, match="not both"):
            m.update(mid, text="a", data="b")
        with pytest.raises(InvalidInputError, match="disagree"):
            m.search("x", user_id="alice", limit=3, top_k=4)
        assert [h["event"] for h in m.history(memory_id=mid)] == ["ADD", "UPDATE"]
        m.delete(memory_id=mid)
        m.delete_all(user_id="bob")
        assert m.get_all(filters={"user_id": "bob"})["results"] == []
