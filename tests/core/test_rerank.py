"""Rerankers after fusion: the Cohere/Jina-compatible HTTP API (over real HTTP, against
the scripted server of mem_integrations.testing), the one-call LLM reranker (the scripted
LLM over real HTTP), the local cross-encoder's configuration errors, and `search(rerank=)`."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.errors import (
    ConfigurationError,
    InvalidInputError,
    LLMResponseError,
    ProviderError,
)
from mem_integrations.core.models import PutItem
from mem_integrations.testing import Fault, ScriptedLLMServer, ScriptedRerankServer, word_overlap

FACTS = ["Alice keeps bees in her garden in Lyon", "Alice adopted a grey cat named Miso",
         "Alice's cat Miso sleeps on the garden bench", "Bob plays the cello on Sundays",
         "Alice works as a nurse at the Lyon hospital"]
QUERY = "what is the name of Alice's cat in the garden"


def _memory(tmp_path: Path, embedder: Any, **search: Any) -> Memory:
    memory = Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"},
                     "search": search}, embedder=embedder)
    memory.async_memory.config.search  # noqa: B018 - built
    return memory


def _fill(memory: Memory) -> dict[str, str]:
    ids = {text: str(uuid.uuid5(uuid.NAMESPACE_URL, text)) for text in FACTS}
    memory.put_many([PutItem(id=i, text=t, user_id="alice") for t, i in ids.items()])
    return ids


def test_http_reranker_orders_the_fused_candidates_by_the_api(tmp_path, embedder):
    with ScriptedRerankServer() as api:
        memory = _memory(tmp_path, embedder, rerank={
            "provider": "http", "base_url": api.base_url, "api_key": "rk-secret",
            "model": "rerank-v3.5", "candidates": 4})
        try:
            _fill(memory)
            plain = memory.search(QUERY, user_id="alice", rerank=False).results
            assert api.calls == []  # rerank=False asks nothing
            reranked = memory.search(QUERY, user_id="alice").results  # default: on
        finally:
            memory.close()
    [call] = api.calls
    assert call.authorization == "Bearer rk-secret"
    assert call.body["model"] == "rerank-v3.5" and call.body["query"] == QUERY
    # the best 4 fused candidates were sent, in fusion's order, and came back in the
    # API's order (ties keep fusion's); the rest keep their place after them
    assert call.body["documents"] == [r.memory for r in plain[:4]]
    expected = sorted(plain[:4], key=lambda r: -word_overlap(QUERY, r.memory))
    assert [r.id for r in reranked] == [r.id for r in expected] + [r.id for r in plain[4:]]
    assert [r.id for r in reranked] != [r.id for r in plain]  # the API changed the order
    stats = memory.async_memory.reranking.stats
    assert (stats.searches, stats.calls, stats.documents) == (1, 1, 4) and stats.seconds > 0


def test_http_reranker_retries_server_errors_and_says_when_the_key_is_refused(tmp_path,
                                                                             embedder):
    with ScriptedRerankServer() as api:
        memory = _memory(tmp_path, embedder, rerank={
            "provider": "http", "base_url": api.base_url, "max_retries": 2})
        try:
            _fill(memory)
            api.fail(Fault(503), Fault(429))
            assert memory.search(QUERY, user_id="alice").results
            assert len(api.calls) == 3
            api.fail(Fault(401))
            with pytest.raises(ProviderError, match="api_key"):
                memory.search(QUERY, user_id="alice")
            assert len(api.calls) == 4  # a refused key is not retried
            api.fail(Fault(500), Fault(500), Fault(500))
            with pytest.raises(ProviderError, match="HTTP 500"):
                memory.search(QUERY, user_id="alice")
        finally:
            memory.close()


def test_http_reranker_refuses_a_reply_without_results(tmp_path, embedder):
    with ScriptedRerankServer() as api:
        memory = _memory(tmp_path, embedder, rerank={"provider": "http",
                                                     "base_url": api.base_url})
        try:
            _fill(memory)
            api.fail(Fault(status=200))  # a 200 whose body is not a rerank reply
            with pytest.raises(ProviderError, match="results"):
                memory.search(QUERY, user_id="alice")
        finally:
            memory.close()


def test_llm_reranker_makes_one_call_with_small_ids(tmp_path, embedder,
                                                    llm: ScriptedLLMServer):
    memory = Memory({"data_dir": str(tmp_path / "data"),
                     "llm": {"base_url": llm.base_url, "api_key": "sk-test", "max_retries": 0},
                     "search": {"rerank": {"provider": "llm", "candidates": 3}}},
                    embedder=embedder)
    try:
        ids = _fill(memory)
        plain = memory.search(QUERY, user_id="alice", rerank=False).results
        llm.queue({"ranking": [2, 99, 0, 2]})  # an unknown id and a repeat are ignored
        reranked = memory.search(QUERY, user_id="alice", rerank=True).results
        [call] = llm.calls
        assert all(i not in call.user for i in ids.values())  # no UUIDs shown
        assert all(f"{n}: " in call.user for n in range(3))
        # 2 and 0 as ranked, then 1 (left out), then the rest in fusion's order
        assert [r.id for r in reranked] == [plain[2].id, plain[0].id, plain[1].id] + [
            r.id for r in plain[3:]]
        llm.queue("I would rather not say")
        with pytest.raises(LLMResponseError, match="ranking"):
            memory.search(QUERY, user_id="alice", rerank=True)
        assert memory.async_memory.reranking.stats.calls == 2
    finally:
        memory.close()


def test_llm_reranker_needs_an_llm(tmp_path, embedder):
    memory = _memory(tmp_path, embedder, rerank={"provider": "llm"})
    try:
        _fill(memory)
        with pytest.raises(ConfigurationError, match="needs an LLM"):
            memory.search(QUERY, user_id="alice")
    finally:
        memory.close()


def test_rerank_without_a_reranker_is_refused_before_searching(tmp_path, embedder):
    memory = _memory(tmp_path, embedder)
    try:
        _fill(memory)
        assert memory.search(QUERY, user_id="alice").results  # default: no reranker, fine
        with pytest.raises(ConfigurationError, match="search.rerank.provider"):
            memory.search(QUERY, user_id="alice", rerank=True)
        with pytest.raises(InvalidInputError, match="rerank must be"):
            memory.search(QUERY, user_id="alice", rerank="yes")
    finally:
        memory.close()


@pytest.mark.parametrize("rerank, match", [
    ({"provider": "cross_encoder"}, "needs search.rerank.model"),
    ({"provider": "cross_encoder", "model": "/nowhere/ms-marco"}, "nothing is downloaded"),
    ({"provider": "http"}, "needs search.rerank.base_url"),
])
def test_a_reranker_that_cannot_be_built_says_what_to_set(tmp_path, embedder, rerank, match):
    memory = _memory(tmp_path, embedder, rerank=rerank)
    try:
        _fill(memory)
        with pytest.raises(ConfigurationError, match=match):
            memory.search(QUERY, user_id="alice")
    finally:
        memory.close()


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real sentence-transformers CrossEncoder (a two-layer BERT with random weights
    and MiniLM's tokenizer) saved to disk, as a user's downloaded model would be: no
    cross-encoder weights ship in any package these machines can install."""
    pytest.importorskip("sentence_transformers", reason="needs the [sentence-transformers] "
                        "extra (torch, transformers) to build a cross-encoder")
    import torch
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    from mem_integrations.core.providers import onnx_embedder

    directory = tmp_path_factory.mktemp("cross-encoder")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(Path(onnx_embedder.__file__).with_name("minilm") / "tokenizer.json"),
        unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
        mask_token="[MASK]")
    torch.manual_seed(17)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, num_labels=1))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_local_cross_encoder_reranks_by_its_own_scores(tmp_path, embedder, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    memory = _memory(tmp_path, embedder, rerank={"provider": "cross_encoder",
                                                 "model": str(tiny_cross_encoder),
                                                 "candidates": 5})
    try:
        _fill(memory)
        plain = memory.search(QUERY, user_id="alice", rerank=False).results
        reranked = memory.search(QUERY, user_id="alice").results
    finally:
        memory.close()
    scores = CrossEncoder(str(tiny_cross_encoder), local_files_only=True).predict(
        [(QUERY, r.memory) for r in plain])
    expected = [plain[i].id for i in sorted(range(5), key=lambda i: -scores[i])]
    assert expected != [r.id for r in plain[:5]]  # the model disagrees with fusion here
    assert [r.id for r in reranked] == expected + [r.id for r in plain[5:]]
    stats = memory.async_memory.reranking.stats
    assert (stats.searches, stats.calls, stats.documents) == (1, 0, 5)  # local: no calls


def test_the_eval_reports_what_reranking_cost(embedder):
    from mem_integrations.evals import EvalFact, EvalQuestion, evaluate

    facts = [EvalFact(str(i), text) for i, text in enumerate(FACTS)]
    questions = [EvalQuestion(QUERY, ("1", "2")), EvalQuestion("who plays the cello", ("3",))]
    offline = {"llm": {"provider": "offline"}}
    with ScriptedRerankServer() as api:
        report = asyncio.run(evaluate(facts, questions, embedder=embedder, config={
            **offline, "search": {"rerank": {"provider": "http", "base_url": api.base_url}}}))
    assert report.rerank_calls == len(api.calls) == 2
    assert report.rerank_ms_mean is not None and report.rerank_ms_mean > 0
    assert "reranking:" in report.table() and report.to_dict()["rerank_calls"] == 2
    plain = asyncio.run(evaluate(facts, questions, embedder=embedder, config=offline))
    assert (plain.rerank_calls, plain.rerank_ms_mean) == (0, None)
    assert "reranking" not in plain.table()
