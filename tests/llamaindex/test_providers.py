"""LlamaIndex LLMs and embeddings as the engine's providers.

The real LlamaIndex OpenAI integrations talk over HTTP to the scripted OpenAI-compatible
server, so the request, the reply and the token usage take their real paths.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")
openai_llm = pytest.importorskip("llama_index.llms.openai")
openai_embedding = pytest.importorskip("llama_index.embeddings.openai")

from llama_index.core.embeddings import MockEmbedding  # noqa: E402

from mem_integrations import (  # noqa: E402
    ConfigurationError,
    EmbeddingMismatchError,
    Memory,
    ProviderError,
)
from mem_integrations.llamaindex import LlamaIndexChatModel, LlamaIndexEmbedder  # noqa: E402
from mem_integrations.testing import Fault  # noqa: E402
from tests.conftest import facts  # noqa: E402


def llama_llm(server, **kwargs):
    return openai_llm.OpenAI(model="gpt-4o-mini", api_base=server.base_url,
                             api_key="sk-test", max_retries=0, **kwargs)


def llama_embedding(server):
    return openai_embedding.OpenAIEmbedding(model="text-embedding-3-small",
                                            api_base=server.base_url, api_key="sk-test",
                                            max_retries=0)


def test_llamaindex_models_run_the_whole_engine(llm, tmp_path):
    memory = Memory({"data_dir": str(tmp_path), "vector_store": {"engine": "qdrant_edge"}},
                    chat_model=LlamaIndexChatModel(llama_llm(llm)),
                    embedder=LlamaIndexEmbedder(llama_embedding(llm)))
    try:
        llm.queue(facts("User lives in Lisbon", "User works as a pastry chef"))
        added = memory.add([{"role": "user", "content": "I live in Lisbon and bake pastries "
                             "for a living."}], user_id="alice")
        assert [e.memory for e in added.results] == \
            ["User lives in Lisbon", "User works as a pastry chef"]

        # The extraction request went through LlamaIndex's OpenAI client.
        [call] = llm.calls
        assert call.body["model"] == "gpt-4o-mini"
        assert call.body["messages"][0]["role"] == "system"
        assert "I live in Lisbon" in call.user
        assert llm.embedding_calls >= 1
        assert memory.async_memory.embedder.model_name == "text-embedding-3-small"

        hits = memory.search("Which city does the user live in?", user_id="alice", limit=1)
        assert hits.results[0].memory == "User lives in Lisbon"
        # measured with one embedding on first use (the scripted server sends 64 values)
        assert memory.async_memory.embedder.dimension == llm.embedding_dimension == 64
    finally:
        memory.close()


async def test_chat_model_reports_text_and_token_usage(llm):
    llm.queue('{"facts": []}')
    model = LlamaIndexChatModel(llama_llm(llm))
    reply = await model.complete([{"role": "system", "content": "Extract facts."},
                                  {"role": "user", "content": "Hello!"}],
                                 json_schema={"type": "object"}, schema_name="extraction")
    assert reply.text == '{"facts": []}'
    assert reply.prompt_tokens == llm.calls[0].prompt_tokens
    assert reply.completion_tokens is not None and reply.completion_tokens > 0


async def test_use_async_path(llm):
    llm.queue("pong")
    model = LlamaIndexChatModel(llama_llm(llm), use_async=True)
    assert (await model.complete([{"role": "user", "content": "ping"}])).text == "pong"
    embedder = LlamaIndexEmbedder(llama_embedding(llm), use_async=True)
    vectors = await embedder.embed(["one", "two"], "document")
    query = await embedder.embed(["one"], "query")
    assert len(vectors) == 2 and vectors[0] == query[0]


def test_llm_failure_is_a_provider_error_and_keeps_the_messages(llm, tmp_path, embedder):
    memory = Memory({"data_dir": str(tmp_path)}, embedder=embedder,
                    chat_model=LlamaIndexChatModel(llama_llm(llm)))
    try:
        llm.queue(Fault(status=500))
        with pytest.raises(ProviderError, match="pending add"):
            memory.add("I am learning Portuguese.", user_id="alice")
        [pending] = memory.pending()
        assert pending.messages[0]["content"] == "I am learning Portuguese."
        assert memory.get_all(user_id="alice").results == []
        llm.queue(facts("User is learning Portuguese"))
        memory.reprocess(pending.id)
        assert [m.memory for m in memory.get_all(user_id="alice")] == \
            ["User is learning Portuguese"]
    finally:
        memory.close()


def test_embedder_identity_is_recorded_with_the_collection(tmp_path):
    data = {"data_dir": str(tmp_path), "llm": {"provider": "offline"}}
    with Memory(data, embedder=LlamaIndexEmbedder(MockEmbedding(embed_dim=8),
                                                  dimension=8)) as memory:
        memory.add("I keep bees in my garden.", user_id="alice")
        assert memory.async_memory.embedder.model_name == "llamaindex:MockEmbedding"
    with Memory(data, embedder=LlamaIndexEmbedder(MockEmbedding(embed_dim=16))) as memory, \
            pytest.raises(EmbeddingMismatchError):
        memory.search("bees", user_id="alice")


def test_wrong_objects_are_rejected():
    with pytest.raises(ConfigurationError):
        LlamaIndexChatModel("gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        LlamaIndexEmbedder(object())  # type: ignore[arg-type]
