"""The README's LangChain agent run as a script: one `invoke`, then the script ends while
the middleware's background add still waits for the extraction LLM. The turn must not be
lost — the exit hook waits for the add (up to `exit_timeout`) while the thread pools still
run, so the memory is written and nothing is left pending."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mem_integrations import Memory
from mem_integrations.testing import ScriptedLLMServer
from tests.conftest import facts, ops

FACT = "Is vegetarian"

SCRIPT = """
import sys
from langchain.agents import create_agent
from langchain_openai import ChatOpenAI
from mem_integrations import Memory
from mem_integrations.langchain import MemoryMiddleware

data_dir, llm_url = sys.argv[1], sys.argv[2]
memory = Memory({"data_dir": data_dir, "llm": {"base_url": llm_url, "api_key": "sk-test"}})
middleware = MemoryMiddleware(memory, user_id="alice")
agent = create_agent(ChatOpenAI(model="m", base_url=llm_url, api_key="sk-test",
                                max_retries=0), tools=[], middleware=[middleware])
agent.invoke({"messages": [{"role": "user", "content": "I am vegetarian."}]})
# the last line: the add is still in flight; no wait(), no close()
print("unfinished", middleware.unfinished)
"""


def respond(body: dict[str, Any]) -> Any:
    text = body["messages"][-1]["content"]
    if isinstance(text, str) and text.startswith("Conversation:\n"):
        return facts(FACT)
    if isinstance(text, str) and "EXISTING" in text:
        return ops({"event": "ADD", "text": FACT})
    return "Noted!"


def test_a_background_add_in_flight_at_exit_is_finished(tmp_path: Path, embedder: Any) -> None:
    with ScriptedLLMServer(respond, delay=1.0) as llm:
        run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data"),
                              llm.base_url], capture_output=True, text=True, timeout=180,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["unfinished", "1"]
    assert "cannot schedule new futures" not in run.stderr
    with Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"}},
                embedder=embedder) as memory:
        assert [m.memory for m in memory.get_all(user_id="alice")] == [FACT]
        assert memory.pending() == []
