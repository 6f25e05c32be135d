"""Test helpers for code that uses mem-integrations: a scripted OpenAI-compatible server
to stand in for the LLM over real HTTP."""

from mem_integrations.testing.llm_server import Fault, ScriptedLLMServer, hashed_embedding

__all__ = ["Fault", "ScriptedLLMServer", "hashed_embedding"]
