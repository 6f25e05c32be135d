"""Request and response bodies of the REST server (the results are core's own models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Scoped(_Body):
    user_id: str | None = Field(default=None, description="At least one of user_id, agent_id, "
                                                          "run_id is required.")
    agent_id: str | None = None
    run_id: str | None = None


class AddRequest(_Scoped):
    """Messages to remember, for one scope."""

    messages: str | dict[str, Any] | list[dict[str, Any]] = Field(
        description='A string, one {"role", "content"} message, or a list of them.',
        examples=[[{"role": "user", "content": "I live in Paris and I love hiking."}]])
    metadata: dict[str, Any] | None = None
    infer: bool = Field(default=True, description="Extract facts with the LLM (True) or "
                                                  "store each message verbatim (False).")
    memory_type: Literal["procedural_memory"] | None = None
    prompt: str | None = Field(default=None, description="Replaces the extraction prompt.")
    async_mode: bool = Field(default=False, description="Queue the add and answer 202 at once "
                             "with its pending_id (GET /pending/{pending_id} follows it), "
                             "instead of waiting for the LLM.")
    timestamp: datetime | float | None = Field(
        default=None, description="When this was said (ISO 8601 or Unix seconds): the "
        "memories' valid_from, and what relative dates ('yesterday') are resolved against. "
        "Messages may carry their own 'timestamp'.")


class SearchRequest(_Scoped):
    query: str = Field(min_length=1, examples=["Where does Alice live?"])
    limit: int = Field(default=10, ge=1, le=1000)
    filters: dict[str, Any] | None = Field(
        default=None, description='Metadata filters, e.g. {"topic": "travel"} or '
                                  '{"year": {"gte": 2024}}; AND / OR / NOT combine them.')
    threshold: float | None = Field(default=None, description="Minimum cosine similarity.")
    as_of: datetime | None = Field(default=None, description="Search what was valid then "
                                   "(superseded memories included) instead of now.")
    include_sources: bool = Field(default=False, description="Return the message(s) each "
                                  "memory came from.")
    narrow_dates: bool = Field(default=False, description="Rank memories said in a date or "
                               "period the query names ('in May 2023') first.")


class UpdateRequest(_Body):
    text: str | None = Field(default=None, description="The memory's new text (re-embedded).")
    metadata: dict[str, Any] | None = Field(default=None, description="Replaces the metadata.")


class ErrorBody(BaseModel):
    detail: str
    error: str = Field(description="The error's type, e.g. MissingScopeError.")
    pending_id: str | None = Field(default=None, description="Where the messages of a failed "
                                                             "add are kept (502 only).")


class HealthBody(BaseModel):
    status: Literal["ok"]
    version: str
