"""The chat wrapper with the official `openai` client against a scripted
OpenAI-compatible server over real HTTP: memories injected, turns remembered, scopes
isolated, streaming passed through."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from mem_integrations import AsyncMemory, Memory
from mem_integrations.chat import AsyncMemoryOpenAI, MemoryOpenAI
from mem_integrations.core.errors import BlockingCallError, ConfigurationError, MissingScopeError
from mem_integrations.testing import ScriptedLLMServer

REPLY = "How about a mushroom risotto tonight?"


@pytest.fixture
def memory(tmp_path: Path, embedder: Any) -> Iterator[Memory]:
    with Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"}},
                embedder=embedder) as memory:
        yield memory


@pytest.fixture
def upstream() -> Iterator[ScriptedLLMServer]:
    """The chat model the application talks to (not the memory's extraction LLM)."""
    with ScriptedLLMServer(responder=lambda body: REPLY) as server:
        yield server


def _client(memory: Memory, upstream: ScriptedLLMServer, **options: Any) -> MemoryOpenAI:
    return MemoryOpenAI(memory, openai.OpenAI(base_url=upstream.base_url, api_key="sk-test",
                                              max_retries=0), **options)


def _memories(memory: Memory, user_id: str) -> set[str]:
    return {m.memory for m in memory.get_all(user_id=user_id)}


def test_memories_go_into_the_existing_system_message(memory: Memory,
                                                      upstream: ScriptedLLMServer) -> None:
    memory.add("I am vegetarian", user_id="alice", infer=False)
    client = _client(memory, upstream)
    messages = [{"role": "system", "content": "You are a chef."},
                {"role": "user", "content": "What should I cook tonight?"}]
    reply = client.chat.completions.create(model="chef-1", messages=messages,
                                           user_id="alice", temperature=0.3)
    assert reply.choices[0].message.content == REPLY
    sent = upstream.calls[-1]
    assert sent.system.startswith("You are a chef.\n\n") and "- I am vegetarian" in sent.system
    assert [m["role"] for m in sent.body["messages"]] == ["system", "user"]
    # other arguments pass through unchanged; the scope ids never reach the model
    assert sent.body["temperature"] == 0.3 and sent.body["model"] == "chef-1"
    assert "user_id" not in sent.body
    assert messages[0]["content"] == "You are a chef."  # the caller's list is untouched


def test_the_turn_is_remembered_in_the_background(memory: Memory,
                                                  upstream: ScriptedLLMServer) -> None:
    client = _client(memory, upstream)
    client.chat.completions.create(model="m", user_id="alice", messages=[
        {"role": "user", "content": "I moved to Lisbon last month. What should I cook?"}])
    client.wait()
    assert "I moved to Lisbon last month" in _memories(memory, "alice")
    # the next call gets it back, in a system message put first
    client.chat.completions.create(model="m", user_id="alice", messages=[
        {"role": "user", "content": "Where did I move to?"}])
    first = upstream.calls[-1].body["messages"][0]
    assert first["role"] == "system" and "I moved to Lisbon last month" in first["content"]


def test_scopes_are_isolated(memory: Memory, upstream: ScriptedLLMServer) -> None:
    memory.add("I am allergic to peanuts", user_id="alice", infer=False)
    client = _client(memory, upstream)
    client.chat.completions.create(model="m", user_id="bob", messages=[
        {"role": "user", "content": "I live in Rome. Am I allergic to anything?"}])
    client.wait()
    assert "peanuts" not in str(upstream.calls[-1].body["messages"])
    assert _memories(memory, "bob") == {"I live in Rome"}
    assert _memories(memory, "alice") == {"I am allergic to peanuts"}


def test_a_scope_is_required_unless_there_is_a_default(memory: Memory,
                                                        upstream: ScriptedLLMServer) -> None:
    with pytest.raises(MissingScopeError, match="user_id="):
        _client(memory, upstream).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}])
    assert upstream.calls == []  # nothing was forwarded
    memory.add("I am vegetarian", agent_id="chef", infer=False)
    _client(memory, upstream, agent_id="chef").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Dinner ideas?"}])
    assert "vegetarian" in upstream.calls[-1].system


def test_streaming_passes_chunks_through_and_remembers_the_turn(
        memory: Memory, upstream: ScriptedLLMServer) -> None:
    memory.add("I am vegetarian", user_id="alice", infer=False)
    client = _client(memory, upstream)
    stream = client.chat.completions.create(
        model="m", user_id="alice", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "I bake bread on Sundays. Dinner idea?"}])
    with stream:
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 2 and text == REPLY and chunks[-1].usage is not None
    assert "vegetarian" in upstream.calls[-1].system
    client.wait()
    assert "I bake bread on Sundays" in _memories(memory, "alice")


def test_async_client_with_an_async_memory_streams_and_remembers(
        tmp_path: Path, embedder: Any, upstream: ScriptedLLMServer) -> None:
    async def main() -> tuple[list[Any], list[str]]:
        memory = AsyncMemory({"data_dir": str(tmp_path / "async"),
                              "llm": {"provider": "offline"}}, embedder=embedder)
        try:
            await memory.add("I am vegetarian", user_id="alice", infer=False)
            client = AsyncMemoryOpenAI(memory, openai.AsyncOpenAI(
                base_url=upstream.base_url, api_key="sk-test"))
            stream = await client.chat.completions.create(
                model="m", user_id="alice", stream=True,
                messages=[{"role": "user", "content": "I play chess. Dinner?"}])
            chunks = [chunk async for chunk in stream]
            await client.await_all()
            return chunks, [m.memory for m in await memory.get_all(user_id="alice")]
        finally:
            await memory.close()

    chunks, remembered = asyncio.run(main())
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY
    assert "vegetarian" in upstream.calls[-1].system
    assert "I play chess" in remembered


def test_a_blocking_wrapper_refuses_an_async_memory(tmp_path: Path, embedder: Any) -> None:
    memory = AsyncMemory({"data_dir": str(tmp_path / "a"), "llm": {"provider": "offline"}},
                         embedder=embedder)
    with pytest.raises(BlockingCallError, match="AsyncMemoryOpenAI"):
        MemoryOpenAI(memory, openai.OpenAI(api_key="sk-test"))  # type: ignore[arg-type]


def test_a_client_of_the_wrong_kind_is_refused(memory: Memory) -> None:
    with pytest.raises(ConfigurationError, match="AsyncMemoryOpenAI"):
        MemoryOpenAI(memory, openai.AsyncOpenAI(api_key="sk-test"))
    with pytest.raises(ConfigurationError, match="MemoryOpenAI for a blocking"):
        AsyncMemoryOpenAI(memory, openai.OpenAI(api_key="sk-test"))
