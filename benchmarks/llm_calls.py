"""LLM calls and prompt tokens per add, replaying LOCOMO dev sessions through the real
`openai` client against the scripted server (the LLM is held constant).

    python -m benchmarks.llm_calls [--samples 5]

The scripted extraction returns LOCOMO's own per-session observations as the facts (a
realistic stream of new and related facts); the scripted reconcile ADDs every new fact.
What is measured is how often our pipeline needs the second (reconcile) call.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

from benchmarks.locomo import load, sessions
from mem_integrations import Memory
from mem_integrations.core.config import EmbedderConfig
from mem_integrations.core.providers.embedders import SentenceTransformerEmbedder
from mem_integrations.testing import ScriptedLLMServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/llm_calls.json"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    current: dict[str, list[str]] = {"facts": []}

    def responder(body: dict) -> dict:
        text = body["messages"][-1]["content"]
        if text.startswith("EXISTING:"):
            new = json.loads(text.split("NEW:\n", 1)[1])
            return {"operations": [{"event": "ADD", "id": None, "text": f} for f in new]}
        return {"facts": [{"text": f, "categories": []} for f in current["facts"]]}

    embedder = SentenceTransformerEmbedder(EmbedderConfig())
    per_add: list[tuple[int, int]] = []
    with ScriptedLLMServer(responder) as llm, tempfile.TemporaryDirectory() as data:
        memory = Memory({"data_dir": data, "llm": {"base_url": llm.base_url, "api_key": "k"}},
                        embedder=embedder)
        for sample in load()[: args.samples]:
            for session in sessions(sample):
                current["facts"] = session.observations
                before_calls, before_tokens = llm.chat_calls, llm.prompt_tokens
                messages = [{"role": "user", "content": f"{t['speaker']}: {t['text']}"}
                            for t in session.turns]
                memory.add(messages, user_id=session.sample_id)
                per_add.append((llm.chat_calls - before_calls, llm.prompt_tokens - before_tokens))
        memory.close()
    adds = len(per_add)
    result = {
        "adds": adds,
        "llm_calls_per_add": round(sum(c for c, _ in per_add) / adds, 3),
        "adds_with_reconcile": sum(1 for c, _ in per_add if c == 2),
        "max_calls_in_one_add": max(c for c, _ in per_add),
        "prompt_tokens_per_add": round(sum(t for _, t in per_add) / adds, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
