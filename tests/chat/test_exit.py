"""The chat wrapper's promise at interpreter exit: a script that makes one chat call and
ends at once, while the turn's background add is still waiting for the extraction LLM,
does not lose the turn — the `atexit` hook (`chat._settle_at_exit`) waits for the add up
to `exit_timeout` seconds, so the memory is written before the process ends, and nothing
is left as a pending add."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mem_integrations import Memory
from mem_integrations.testing import ScriptedLLMServer
from tests.conftest import facts, ops

REPLY = "Welcome to Lisbon!"
FACT = "Moved to Lisbon last month"

SCRIPT = """
import sys
import openai
from mem_integrations import Memory
from mem_integrations.chat import MemoryOpenAI

data_dir, llm_url = sys.argv[1], sys.argv[2]
memory = Memory({"data_dir": data_dir, "llm": {"base_url": llm_url, "api_key": "sk-test"}})
client = MemoryOpenAI(memory, openai.OpenAI(base_url=llm_url, api_key="sk-test",
                                            max_retries=0))
client.chat.completions.create(model="m", user_id="alice", messages=[
    {"role": "user", "content": "I moved to Lisbon last month."}])
# the last line: the add is still in flight; no wait(), no close()
print("unfinished", client.memory.unfinished)
"""


def respond(body: dict[str, Any]) -> Any:
    """One server for both: the memory's extraction (and reconcile) calls, and the chat
    call the wrapper forwards."""
    text = body["messages"][-1]["content"]
    if text.startswith("Conversation:\n"):
        return facts(FACT)
    if "EXISTING" in text:
        return ops({"event": "ADD", "text": FACT})
    return REPLY


def test_a_background_add_in_flight_at_exit_is_finished(tmp_path: Path,
                                                       embedder: Any) -> None:
    # every reply is delayed, so the add is still waiting for its extraction call when
    # the script's last line has run
    with ScriptedLLMServer(respond, delay=1.0) as llm:
        run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data"),
                              llm.base_url], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
        extraction_calls = sum(c.body["messages"][-1]["content"].startswith("Conversation:\n")
                               for c in llm.calls)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["unfinished", "1"]  # it was in flight at the last line
    assert extraction_calls == 1
    with Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"}},
                embedder=embedder) as memory:
        assert [m.memory for m in memory.get_all(user_id="alice")] == [FACT]
        assert memory.pending() == []
