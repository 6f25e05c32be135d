"""LangChain's own standard test suites (langchain-tests) for the retriever and the three
memory tools, on one real Memory shared by the module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_tests")

from langchain_core.tools import BaseTool  # noqa: E402
from langchain_tests.integration_tests import (  # noqa: E402
    RetrieversIntegrationTests,
    ToolsIntegrationTests,
)
from langchain_tests.unit_tests import ToolsUnitTests  # noqa: E402

from mem_integrations import Memory  # noqa: E402
from mem_integrations.core.providers.onnx_embedder import OnnxEmbedder  # noqa: E402
from mem_integrations.langchain import (  # noqa: E402
    ForgetTool,
    MemoryRetriever,
    RecallTool,
    RememberTool,
)

# The suites build their subjects from class properties, not fixtures: the memory they
# use is made once per module and reached through this dict.
_shared: dict[str, Memory] = {}


@pytest.fixture(scope="module", autouse=True)
def _standard_memory(tmp_path_factory: pytest.TempPathFactory,
                     embedder: OnnxEmbedder) -> Iterator[None]:
    memory = Memory({"llm": {"provider": "offline"}},
                    data_dir=tmp_path_factory.mktemp("standard"), embedder=embedder)
    memory.add([{"role": "user", "content": text} for text in (
        "I drink green tea", "I like black coffee", "I hate herbal tea", "I grow mint")],
        user_id="standard", infer=False)
    _shared["memory"] = memory
    yield
    memory.close()


class TestMemoryRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[MemoryRetriever]:
        return MemoryRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"memory": _shared["memory"], "user_id": "standard"}

    @property
    def retriever_query_example(self) -> str:
        return "tea"


class _ToolSuite:
    tool_class: type[BaseTool]
    example: dict[str, Any]

    @property
    def tool_constructor(self) -> type[BaseTool]:
        return self.tool_class

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"memory": _shared["memory"], "user_id": "standard"}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return self.example


class TestRememberStandardUnit(_ToolSuite, ToolsUnitTests):
    tool_class = RememberTool
    example = {"fact": "I like oolong tea"}


class TestRememberStandardIntegration(_ToolSuite, ToolsIntegrationTests):
    tool_class = RememberTool
    example = {"fact": "I like oolong tea"}


class TestRecallStandardUnit(_ToolSuite, ToolsUnitTests):
    tool_class = RecallTool
    example = {"query": "tea"}


class TestRecallStandardIntegration(_ToolSuite, ToolsIntegrationTests):
    tool_class = RecallTool
    example = {"query": "tea"}


class TestForgetStandardUnit(_ToolSuite, ToolsUnitTests):
    tool_class = ForgetTool
    example = {"memory_id": "00000000-0000-4000-8000-000000000000"}


class TestForgetStandardIntegration(_ToolSuite, ToolsIntegrationTests):
    tool_class = ForgetTool
    example = {"memory_id": "00000000-0000-4000-8000-000000000000"}
