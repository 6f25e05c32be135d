"""Serializing `LongTermMemory` and `LongTermMemoryBlock`: `to_dict` / `from_dict`, JSON and
pickle; the engine re-attached from its configuration (the open one in this process, else
a new one, its secrets from the environment); a paused `FunctionAgent` (alone, or in an
`AgentWorkflow`) resumed from its serialized context in a NEW process on the same data
directory."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import ChatMessage  # noqa: E402

from mem_integrations import ConfigurationError, InvalidInputError  # noqa: E402
from mem_integrations.llamaindex import LongTermMemory, LongTermMemoryBlock  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def child(*args: str) -> subprocess.CompletedProcess[str]:
    """A new Python process in the repository, offline, without the test's keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEMINT_"))}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT,
                          env={**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})


@pytest.mark.parametrize(("serializer", "runner"), [("json", "agent"), ("pickle", "agent"),
                                                    ("json", "workflow")])
def test_a_paused_function_agent_resumes_in_a_new_process(tmp_path: Path, serializer: str,
                                                          runner: str):
    context = tmp_path / "context.json"
    started = child("-m", "tests.llamaindex.agent_process", "start", str(tmp_path / "data"),
                    str(context), serializer, runner)
    assert started.returncode == 0, started.stderr[-3000:]
    saved = context.read_text()
    assert "Book me a table" in saved  # the buffered turn travels with the context

    resumed = child("-m", "tests.llamaindex.agent_process", "resume", str(context),
                    serializer, runner)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    out = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert out["reply"] == "Booked Luigi's, enjoy!"
    # The turn began in the first process and ended in the second: extracted once, whole.
    assert out["stored"] == ["Book me a table at Luigi's for Friday, I am vegetarian"]
    assert out["history"][0] == "Book me a table at Luigi's for Friday, I am vegetarian."
    assert "I am vegetarian" in out["recalled"]


PICKLED = """
import pickle, sys
from llama_index.core.base.llms.types import ChatMessage
chat = pickle.loads(open(sys.argv[1], "rb").read())
chat.put(ChatMessage(role="assistant", content="Noted, Oslo it is."))
print([m.memory for m in chat.memory.get_all(user_id="alice")])
print([m.content for m in chat.get_all()])
"""


def test_a_pickled_memory_works_in_a_new_process(make_memory, tmp_path: Path):
    memory = make_memory(offline=True)
    chat = LongTermMemory.from_defaults(memory, user_id="alice")
    chat.put(ChatMessage(role="user", content="I am moving to Oslo in May."))
    (tmp_path / "chat.pickle").write_bytes(pickle.dumps(chat))
    memory.close()  # the embedded store is opened by one process at a time

    run = child("-c", PICKLED, str(tmp_path / "chat.pickle"))
    assert run.returncode == 0, run.stderr[-3000:]
    stored, history = run.stdout.strip().splitlines()[-2:]
    assert stored == "['I am moving to Oslo in May']"
    assert history == "['I am moving to Oslo in May.', 'Noted, Oslo it is.']"


async def test_round_trips_reattach_the_engine_open_in_this_process(offline_memory):
    chat = LongTermMemory.from_defaults(offline_memory, user_id="alice", limit=2,
                                        scopes="merged", agent_id="chef")
    await chat.aput(ChatMessage(role="user", content="I grow tomatoes on my balcony."))

    for copy in (LongTermMemory.from_dict(json.loads(json.dumps(chat.to_dict()))),
                 pickle.loads(pickle.dumps(chat))):
        assert copy.memory is offline_memory  # the same engine, not a second one
        assert (copy.limit, copy.scopes, copy.agent_id) == (2, "merged", "chef")
        assert [m.content for m in await copy.aget_all()] == \
            ["I grow tomatoes on my balcony."]
    # the buffered turn went along: the copy's reply ends it and it is extracted
    await copy.aput(ChatMessage(role="assistant", content="Lovely!"))
    assert [m.memory for m in offline_memory.get_all(user_id="alice")] == \
        ["I grow tomatoes on my balcony"]

    block = LongTermMemoryBlock(memory=offline_memory, user_id="alice", limit=3,
                                format_template="Known: {text}")
    for copy in (LongTermMemoryBlock.from_dict(json.loads(json.dumps(block.to_dict()))),
                 pickle.loads(pickle.dumps(block))):
        assert copy.memory is offline_memory and copy.limit == 3
        assert await copy.aget([ChatMessage(role="user", content="What do I grow?")]) == \
            "Known: - I grow tomatoes on my balcony"


def test_secrets_are_never_written_and_come_back_from_the_environment(
        make_memory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    memory = make_memory()  # its LLM has api_key "sk-test"
    chat = LongTermMemory.from_defaults(memory, user_id="alice")
    data = chat.to_dict()
    assert "sk-test" not in json.dumps(data)
    assert data["engine"]["secrets"] == ["llm.api_key"]

    # Another data directory: no engine of this process matches, one must be built.
    data["engine"]["config"]["data_dir"] = str(tmp_path / "elsewhere")
    with pytest.raises(ConfigurationError, match="MEMINT_LLM__API_KEY"):
        LongTermMemory.from_dict(data)
    monkeypatch.setenv("MEMINT_LLM__API_KEY", "sk-from-env")
    rebuilt = LongTermMemory.from_dict(data)
    try:
        assert rebuilt.memory is not memory
        assert rebuilt.memory.config.llm.api_key.get_secret_value() == "sk-from-env"
        assert rebuilt.memory.config.llm.base_url == memory.config.llm.base_url
    finally:
        rebuilt.memory.close()


def test_bad_serialized_data_is_a_typed_error(offline_memory):
    data = LongTermMemory.from_defaults(offline_memory, user_id="a").to_dict()
    with pytest.raises(ConfigurationError, match="no 'engine' entry"):
        LongTermMemory.from_dict({k: v for k, v in data.items() if k != "engine"})
    with pytest.raises(ConfigurationError, match="cannot be imported"):
        LongTermMemory.from_dict({**data, "short_term": {"class": "os.system", "data": {}}})
    with pytest.raises(InvalidInputError, match="no option 'size'"):
        LongTermMemory.from_dict({**data, "size": 3})
    # The explicit engine wins over the saved one.
    assert LongTermMemory.from_dict(data, memory=offline_memory).memory is offline_memory
