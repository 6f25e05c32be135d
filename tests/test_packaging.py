"""The installed distribution as a user meets it: the public names of every package, an
engine that imports as `mem_integrations.core` even next to the user's own `core/`
package, and an engine that loads no agent framework."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = [
    "AddResult", "AsyncMemory", "BlockingCallError", "ConfigurationError", "DiskFullError",
    "EmbeddingMismatchError", "Event", "FilterError", "HistoryEntry", "InvalidInputError",
    "LLMResponseError", "Memory", "MemoryClosedError", "MemoryConfig", "MemoryEvent",
    "MemoryItem", "MemoryLayerError", "MemoryNotFoundError", "MessageResult",
    "MissingScopeError", "PendingAdd", "PendingNotFoundError", "ProviderError", "PutItem",
    "SearchResult", "StoreError", "StoreLockedError", "StoreUnavailableError", "UsersResult",
    "load_config",
]

PUBLIC = {
    "mem_integrations.core": ENGINE,
    "mem_integrations": ENGINE,  # the engine's names, re-exported: nothing more, nothing less
    "mem_integrations.langchain": [
        "ForgetTool", "LangChainChatModel", "LangChainEmbedder", "LongTermMemory",
        "MemoryChatMessageHistory", "MemoryMiddleware", "MemoryRetriever", "MemoryStore",
        "RecallTool", "RememberTool", "create_memory_tools", "memory_to_document",
    ],
    "mem_integrations.llamaindex": [
        "LlamaIndexChatModel", "LlamaIndexEmbedder", "LongTermMemory", "LongTermMemoryBlock",
        "MemoryRetriever", "ScopedFunctionTool", "memory_to_node", "memory_tools",
    ],
    "mem_integrations.tools": [
        "DEFAULT_LIMIT", "ERROR_PREFIX", "FACT_DESCRIPTION", "FORGET_DESCRIPTION", "MAX_LIMIT",
        "MEMORY_ID_DESCRIPTION", "MemoryTools", "MemoryToolset", "QUERY_DESCRIPTION",
        "RECALL_DESCRIPTION", "REMEMBER_DESCRIPTION", "TOOL_NAMES", "ToolArgumentError",
        "ToolCall", "create_memory_tools", "limit_description", "parse_tool_call",
        "tool_names", "tool_schemas",
    ],
    "mem_integrations.server": [
        "DEFAULT_MAX_BODY_BYTES", "APIKeyMiddleware", "APIKeys", "BodySizeLimitMiddleware",
        "create_app", "keys_from_text",
    ],
    "mem_integrations.mcp": ["INSTRUCTIONS", "create_mcp_server", "http_app", "run"],
    "mem_integrations.testing": [
        "Fault", "RerankCall", "ScriptedLLMServer", "ScriptedRerankServer", "ScriptedToolCall",
        "ToolCallReply", "hashed_embedding", "last_tool_results", "tool_call", "tool_calls",
        "word_overlap",
    ],
    "mem_integrations.cli": ["app", "main", "read_conversations"],
}

FRAMEWORKS = ("langchain", "langgraph", "llama_index", "fastapi", "mcp")


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names_are_pinned(package: str) -> None:
    """A name added to or removed from a package's `__all__` is an API change: make it
    here on purpose."""
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(PUBLIC[package])
    assert len(set(module.__all__)) == len(module.__all__)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"


def _run(code: str, cwd: Path) -> str:
    """`code` in a fresh interpreter of this environment, from `cwd`, as a user's script:
    only the installed distribution, never this checkout, on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_project_with_its_own_core_package_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("x = 1\n")
    out = _run("import json, mem_integrations, core\n"
               "from mem_integrations import Memory\n"
               "import mem_integrations.core as engine\n"
               "print(json.dumps({'x': getattr(core, 'x', None), 'core': core.__file__,\n"
               "                  'engine': engine.__name__, 'memory': Memory.__module__}))",
               tmp_path)
    seen = json.loads(out)
    assert seen["x"] == 1 and Path(seen["core"]) == tmp_path / "core" / "__init__.py"
    assert seen["engine"] == "mem_integrations.core"
    assert seen["memory"].startswith("mem_integrations.core.")


@pytest.mark.parametrize("module", ["mem_integrations.core", "mem_integrations"])
def test_the_engine_loads_no_agent_framework(module: str, tmp_path: Path) -> None:
    out = _run(f"import json, sys, {module}\n"
               "print(json.dumps(sorted(sys.modules)))", tmp_path)
    loaded = [name for name in json.loads(out)
              if name.split(".")[0].startswith(FRAMEWORKS)]
    assert not loaded, f"importing {module} loaded {loaded}"
