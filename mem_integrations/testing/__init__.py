"""Test helpers for code that uses mem-integrations: a scripted OpenAI-compatible server
to stand in for the LLM over real HTTP (text, JSON and tool-call replies)."""

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

__all__ = ["Fault", "ScriptedLLMServer", "ScriptedToolCall", "ToolCallReply",
           "hashed_embedding", "last_tool_results", "tool_call", "tool_calls"]
