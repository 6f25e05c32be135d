"""Test helpers for code that uses mem-integrations: a scripted OpenAI-compatible server
to stand in for the LLM over real HTTP (text, JSON and tool-call replies), and a scripted
Cohere/Jina-compatible rerank API."""

from mem_integrations.testing.llm_server import (
    Fault,
    ScriptedLLMServer,
    ScriptedToolCall,
    ToolCallReply,
    hashed_embedding,
    last_tool_results,
    tool_call,
    tool_calls,
)
from mem_integrations.testing.rerank_server import RerankCall, ScriptedRerankServer, word_overlap

__all__ = ["Fault", "RerankCall", "ScriptedLLMServer", "ScriptedRerankServer",
           "ScriptedToolCall", "ToolCallReply", "hashed_embedding", "last_tool_results", "tool_call", "tool_calls", "word_overlap"]
