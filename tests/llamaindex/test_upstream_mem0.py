"""llama-index-memory-mem0's tests (tests/test_mem0.py in run-llama/llama_index), run
against `LongTermMemory` built through its `Mem0Memory`-shaped constructors, plus what the
migration promises: merged or AND scopes, extraction on put, an unfinished turn written at
interpreter exit.

Only the construction is swapped: upstream patches `MemoryClient` / `mem0.Memory` with
mocks and asserts the calls made to them; here the engine is real (the scripted LLM over
HTTP, or the offline extractor), and the same assertions are made on what it received
(`llm.calls`) and stored.

Differences, each a design choice (MIGRATING.md, "LlamaIndex's Mem0Memory"):

* `from_client(api_key=, host=, org_id=, project_id=)` names mem0's hosted platform, which
  has no counterpart: giving one is a `ConfigurationError` (not a key silently unused).
  `test_mem0_memory_from_client` passes them, so its port asserts the refusal, then builds
  without them.
* The scope ids are fields (`memory.user_id`), not a `Mem0Context` (`memory.context`).
* The search query is the `search_msg_limit` latest USER messages (or `input` alone), not
  "role: content" lines of every role plus the input: assistant text and the input twice
  only dilute a semantic query. `test_mem0_memory_get`'s mock assertion on the query string
  becomes an assertion on the recalled memories.
* Rendering: the memories are "- memory" lines under `memory_prompt`, not mem0's
  "[categories] : memory" between its intro and outro sentences.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import ChatMessage, MessageRole  # noqa: E402

from mem_integrations import ConfigurationError, Memory  # noqa: E402
from mem_integrations.llamaindex import LongTermMemory  # noqa: E402
from tests.conftest import facts  # noqa: E402
from tests.llamaindex.scripted import store  # noqa: E402

CONTEXT = {"user_id": "test_user"}


def test_mem0_memory_from_client(offline_memory):
    with pytest.raises(ConfigurationError, match="api_key=, host=, org_id=, project_id="):
        LongTermMemory.from_client(context=CONTEXT, api_key="test_api_key",
                                   host="test_host", org_id="test_org",
                                   project_id="test_project", search_msg_limit=10)
    memory = LongTermMemory.from_client(context=CONTEXT, search_msg_limit=10,
                                        memory=offline_memory)
    assert isinstance(memory, LongTermMemory)
    assert memory.user_id == "test_user"
    assert memory.memory is offline_memory
    assert memory.search_msg_limit == 10
    assert (memory.scopes, memory.extract_on) == ("merged", "put")  # as Mem0Memory


def test_mem0_memory_from_config(tmp_path: Path, embedder):
    # mem0's config dicts are accepted too (translated): here this package's own.
    config = {"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"}}
    memory = LongTermMemory.from_config(context=CONTEXT, config=config, search_msg_limit=15)
    try:
        assert isinstance(memory.memory, Memory)
        assert memory.memory.config.data_dir == tmp_path / "data"
        assert memory.search_msg_limit == 15
    finally:
        memory.memory.close()


def chat(role: MessageRole, text: str) -> ChatMessage:
    return ChatMessage(role=role, content=text)


async def test_mem0_memory_set(make_memory, llm):
    engine = make_memory()
    llm.queue(facts("Likes hiking in the Alps"), facts("Owns a grey cat named Pixel"))
    memory = LongTermMemory.from_client(context=CONTEXT, memory=engine)
    messages = [chat(MessageRole.USER, "User message 1"),
                chat(MessageRole.ASSISTANT, "Assistant message 1"),
                chat(MessageRole.USER, "User message 2"),
                chat(MessageRole.ASSISTANT, "Assistant message 2")]

    memory.set(messages)

    assert llm.chat_calls == 1  # one add, with every user and assistant message
    assert all(m.content in llm.calls[0].user for m in messages)
    assert memory.short_term.get_all() == messages

    new_messages = [chat(MessageRole.USER, "User message 3"),
                    chat(MessageRole.ASSISTANT, "Assistant message 3")]
    memory.set(messages + new_messages)

    assert llm.chat_calls == 2  # only the new messages are added
    assert "User message 3" in llm.calls[1].user and "message 1" not in llm.calls[1].user
    assert memory.short_term.get_all() == messages + new_messages


async def test_mem0_memory_get(offline_memory):
    memory = LongTermMemory.from_client(context=CONTEXT, memory=offline_memory)
    dummy_messages = [chat(MessageRole.USER, "Hello"),
                      chat(MessageRole.ASSISTANT, "Hi there!"),
                      chat(MessageRole.USER, "How are you?"),
                      chat(MessageRole.ASSISTANT, "I'm doing well, thank you!")]
    memory.short_term.set(dummy_messages)
    store(offline_memory, ["The user usually starts with a greeting.",
                           "The user often asks about well-being."], user_id="test_user")

    result = memory.get(input="How are you?")

    assert len(result) == len(dummy_messages) + 1  # +1 for the system message
    assert result[0].role == MessageRole.SYSTEM
    assert "The user usually starts with a greeting." in result[0].content
    assert "The user often asks about well-being." in result[0].content
    assert result[1:] == dummy_messages

    result_no_input = memory.get()  # the query: the latest user messages
    assert [m.role for m in result_no_input] == [m.role for m in result]
    assert sorted(result_no_input[0].content.splitlines()) == \
        sorted(result[0].content.splitlines())
    assert result_no_input[1:] == dummy_messages


async def test_mem0_memory_put(make_memory, llm):
    engine = make_memory()
    llm.queue(facts("User greeted the world"))
    memory = LongTermMemory.from_client(context=CONTEXT, memory=engine)
    test_message = chat(MessageRole.USER, "Hello, world!")

    memory.put(test_message)

    assert memory.short_term.get_all() == [test_message]
    assert llm.chat_calls == 1 and "Hello, world!" in llm.calls[0].user
    assert [m.memory for m in engine.get_all(user_id="test_user")] == \
        ["User greeted the world"]


# --- what the migration adds ------------------------------------------------------------------


async def test_merged_scopes_read_each_ids_memories_and_and_reads_their_intersection(
        offline_memory):
    store(offline_memory, ["Alice rides a green bicycle"], user_id="alice")
    store(offline_memory, ["The chef agent cooks with a green wok"], agent_id="chef")
    store(offline_memory, ["Alice asked the chef for green curry"], user_id="alice",
          agent_id="chef")
    both = {"user_id": "alice", "agent_id": "chef"}

    merged = LongTermMemory.from_client(context=both, memory=offline_memory)
    strict = LongTermMemory.from_defaults(offline_memory, **both)  # scopes="and"

    seen = (await merged.aget(input="Anything green?"))[0].content
    assert all(t in seen for t in ("bicycle", "wok", "curry"))
    seen = (await strict.aget(input="Anything green?"))[0].content
    assert "curry" in seen and "bicycle" not in seen and "wok" not in seen


EXIT = """
import sys
from llama_index.core.base.llms.types import ChatMessage
from mem_integrations import Memory
from mem_integrations.llamaindex import LongTermMemory

memory = Memory({"data_dir": sys.argv[1], "llm": {"provider": "offline"}})
chat = LongTermMemory.from_defaults(memory, user_id="alice")
chat.put(ChatMessage(role="user", content="My flight to Lima leaves on Monday."))
print("unfinished", chat.unfinished)  # the turn has no reply yet; no flush, no close
"""


def test_a_turn_unfinished_at_exit_is_written(tmp_path: Path, embedder):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEMINT_"))}
    run = subprocess.run([sys.executable, "-c", EXIT, str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2],
                         env={**env, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "unfinished 1" in run.stdout

    with Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"}},
                embedder=embedder) as memory:
        assert [m.memory for m in memory.get_all(user_id="alice")] == \
            ["My flight to Lima leaves on Monday"]
        assert memory.pending() == []
