"""LangChain chat models and embeddings as the engine's LLM and embedder: a real ChatOpenAI
and OpenAIEmbeddings (when langchain-openai is installed) over HTTP against the scripted
server, structured output when the
model has it, plain text when it has not, and errors that lose nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from mem_integrations import Memory
from mem_integrations.core.errors import EmbeddingMismatchError, ProviderError
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder
from mem_integrations.langchain import LangChainChatModel, LangChainEmbedder
from mem_integrations.testing import Fault, ScriptedLLMServer
from tests.conftest import facts
from tests.langchain.fakes import fake_model

EXTRACTED = '{"facts": [{"text": "User lives in Porto", "categories": ["home"]}]}'


@pytest.fixture
def memories(tmp_path: Path) -> Any:
    made: list[Memory] = []

    def make(data_dir: Path | None = None, **parts: Any) -> Memory:
        memory = Memory(data_dir=data_dir or tmp_path / f"m{len(made)}", **parts)
        made.append(memory)
        return memory

    yield make
    for memory in made:
        memory.close()


def chat_openai(llm: ScriptedLLMServer) -> Any:
    langchain_openai = pytest.importorskip("langchain_openai")
    return langchain_openai.ChatOpenAI(model="gpt-test", base_url=llm.base_url,
                                       api_key="sk-test", max_retries=0)


def test_chat_openai_and_openai_embeddings_as_the_engine(memories: Any,
                                                         llm: ScriptedLLMServer) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    embeddings = langchain_openai.OpenAIEmbeddings(
        model="text-embedding-3-small", base_url=llm.base_url, api_key="sk-test",
        dimensions=64, check_embedding_ctx_length=False)
    memory = memories(chat_model=LangChainChatModel(chat_openai(llm)),
                      embedder=LangChainEmbedder(embeddings))
    llm.queue(facts("User lives in Porto"))
    [event] = memory.add("I live in Porto", user_id="ana").results
    assert event.memory == "User lives in Porto"

    request = llm.calls[0].body
    assert request["response_format"]["type"] == "json_schema"  # structured output used
    assert request["response_format"]["json_schema"]["name"] == "extraction"
    assert "Conversation:\nuser: I live in Porto" in llm.calls[0].user
    assert [i.memory for i in memory.search("Porto", user_id="ana").results] == \
        ["User lives in Porto"]
    assert llm.embedding_calls >= 2
    recorded = (memory.config.data_dir / "qdrant" / "memories" / "collection.json").read_text()
    assert "langchain:OpenAIEmbeddings:text-embedding-3-small" in recorded
    assert '"dimension": 64' in recorded


def test_structured_output_refused_falls_back_to_text(memories: Any,
                                                      embedder: OnnxEmbedder,
                                                      llm: ScriptedLLMServer) -> None:
    memory = memories(chat_model=LangChainChatModel(chat_openai(llm)), embedder=embedder)
    llm.queue(Fault(status=400, message="response_format json_schema is not supported"),
              facts("User lives in Porto"), facts("User has two sons"))
    memory.add("I live in Porto", user_id="ana")
    memory.add("I have two sons", user_id="bea")
    assert "response_format" in llm.calls[0].body
    assert "response_format" not in llm.calls[1].body
    assert "response_format" not in llm.calls[2].body  # it remembers
    assert [i.memory for i in memory.get_all(user_id="bea").results] == ["User has two sons"]


@pytest.mark.parametrize("model_factory", [
    pytest.param(lambda reply: GenericFakeChatModel(messages=iter([reply])),
                 id="no-structured-output"),
    pytest.param(lambda reply: fake_model(reply), id="tool-calling-model-replying-text"),
])
def test_models_without_usable_structured_output(memories: Any, model_factory: Any,
                                                 embedder: OnnxEmbedder) -> None:
    reply = f"Here you go:\n```json\n{EXTRACTED}\n```"
    memory = memories(chat_model=LangChainChatModel(model_factory(reply)), embedder=embedder)
    [event] = memory.add("I live in Porto", user_id="ana").results
    assert event.memory == "User lives in Porto"
    assert memory.get(event.id).categories == ["home"]


def test_structured_reply_from_tool_call_arguments(memories: Any,
                                                   embedder: OnnxEmbedder) -> None:
    call = AIMessage(content="", tool_calls=[{"name": "extraction", "id": "1", "type": "tool_call",
                                              "args": {"facts": [{"text": "User likes figs",
                                                                  "categories": []}]}}])
    memory = memories(chat_model=LangChainChatModel(fake_model(call)), embedder=embedder)
    [event] = memory.add("I like figs", user_id="cy").results
    assert event.memory == "User likes figs"


class _Broken(GenericFakeChatModel):
    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("model server unreachable")


def test_model_failure_is_a_provider_error_and_nothing_is_lost(
        memories: Any, embedder: OnnxEmbedder) -> None:
    memory = memories(chat_model=LangChainChatModel(_Broken(messages=iter([]))),
                      embedder=embedder)
    with pytest.raises(ProviderError, match="unreachable") as raised:
        memory.add("I live in Porto", user_id="ana")
    [pending] = memory.pending()
    assert pending.id == raised.value.pending_id
    assert pending.messages == [{"role": "user", "content": "I live in Porto"}]


class _CountingEmbeddings(DeterministicFakeEmbedding):
    queries: int = 0
    documents: int = 0

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return super().embed_query(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += 1
        return super().embed_documents(texts)


def test_embedder_kinds_name_and_dimension(memories: Any) -> None:
    embeddings = _CountingEmbeddings(size=32)
    embedder = LangChainEmbedder(embeddings, model_name="fake-32")
    memory = memories(config={"llm": {"provider": "offline"}}, embedder=embedder)
    memory.add("I keep bees in my garden", user_id="dee", infer=False)
    assert embedder.dimension == 32
    documents = embeddings.documents
    memory.search("hobbies", user_id="dee")
    assert embeddings.queries == 1 and embeddings.documents == documents
    memory.close()

    # the collection remembers which embedder built it
    other = LangChainEmbedder(DeterministicFakeEmbedding(size=32), model_name="other")
    reopened = memories(config={"llm": {"provider": "offline"}}, embedder=other,
                        data_dir=memory.config.data_dir)
    with pytest.raises(EmbeddingMismatchError):
        reopened.search("x", user_id="dee")


def test_rejects_objects_that_are_not_langchain_models() -> None:
    with pytest.raises(Exception, match="BaseChatModel"):
        LangChainChatModel(object())  # type: ignore[arg-type]
    with pytest.raises(Exception, match="Embeddings"):
        LangChainEmbedder(object())  # type: ignore[arg-type]
