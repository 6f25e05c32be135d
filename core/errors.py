"""The typed errors every public call raises.

One base class, `MemoryLayerError`, so callers can catch everything this library raises
without catching Python's builtin `MemoryError` (which means the interpreter is out of RAM).
Every error raised for bad input is raised *before* anything is written.
"""

from __future__ import annotations

import asyncio


class MemoryLayerError(Exception):
    """Base class of every error raised by mem-integrations.

    Its message is scrubbed of secrets (credentials in URLs, API keys, passwords: see
    `core.redaction.redact_text`), since messages go to logs, HTTP answers and history.db
    and may quote a provider's or a driver's own error text."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(_scrub(a) if isinstance(a, str) else a for a in args))


def _scrub(text: str) -> str:
    from mem_integrations.core.redaction import redact_text  # errors imports nothing

    return redact_text(text)


class ConfigurationError(MemoryLayerError):
    """The configuration is invalid or names something that is not installed."""


class InvalidInputError(MemoryLayerError, ValueError):
    """A call's arguments are invalid (empty message, malformed filter, bad metadata...)."""


class MissingScopeError(InvalidInputError):
    """No `user_id`, `agent_id` or `run_id` was given where one is required."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"{operation} needs at least one scope id: pass user_id=, agent_id= or run_id="
        )


class MemoryNotFoundError(MemoryLayerError, KeyError):
    """No memory has the given id."""

    def __init__(self, memory_id: str) -> None:
        super().__init__(memory_id)
        self.memory_id = memory_id

    def __str__(self) -> str:
        return f"no memory with id {self.memory_id!r}"


class MemoryOutOfScopeError(MemoryNotFoundError):
    """A memory exists but lies outside the scope the call named (`get(id, user_id=...)`).

    A `MemoryNotFoundError`, so code that handles unknown ids handles it too, and servers
    answer it exactly as an unknown id: whether another scope's id exists is not shown."""

    def __init__(self, memory_id: str, scope: str) -> None:
        super().__init__(memory_id)
        self.scope = scope

    def __str__(self) -> str:
        return (f"no memory with id {self.memory_id!r} in scope {self.scope}: check the id "
                "(from get_all or search of that scope) or the scope ids you passed")


class FilterError(InvalidInputError):
    """A metadata filter is malformed (unknown operator, wrong value type...)."""


class EmbeddingMismatchError(ConfigurationError):
    """The embedder differs from the one the collection was built with."""


class ProviderError(MemoryLayerError):
    """An LLM or embedding provider failed after all retries.

    When raised by `add`, nothing was written and the messages are kept durably under
    `pending_id`: pass it to `reprocess()` to try again (for example after fixing the
    model or the prompt); `pending()` lists them all.
    """

    def __init__(self, message: str, *, pending_id: str | None = None) -> None:
        self.reason = _scrub(message)  # it is stored with a pending add
        if pending_id:
            message = (
                f"{message}. Nothing was written; the messages are kept as pending add "
                f"{pending_id!r}: call reprocess({pending_id!r}) to retry."
            )
        super().__init__(message)
        self.pending_id = pending_id

    def with_pending(self, pending_id: str) -> ProviderError:
        """The same error, saying where the messages are kept."""
        return type(self)(self.reason, pending_id=pending_id)


class LLMResponseError(ProviderError):
    """The LLM's reply could not be parsed (or made no sense) after retries."""

    def __init__(self, message: str, *, pending_id: str | None = None, raw: str | None = None):
        super().__init__(message, pending_id=pending_id)
        self.raw = raw

    def with_pending(self, pending_id: str) -> LLMResponseError:
        return LLMResponseError(self.reason, pending_id=pending_id, raw=self.raw)


class StoreError(MemoryLayerError):
    """A vector, graph or history store failed or is in an unexpected state.

    `pending_id` is set when an `add` kept its messages for `reprocess()`."""

    pending_id: str | None = None


class StoreLockedError(StoreError):
    """The embedded data directory is already open: in another process (the message
    names its pid), or by another `Memory` in this one."""


class StoreUnavailableError(StoreError):
    """A store server (Qdrant, Neo4j, PostgreSQL) cannot be reached or answered with an
    error. The message names the (redacted) URL. An `add` keeps its messages for
    `reprocess()` (its `pending_id`), as it does when a provider is down."""


class DiskFullError(StoreError):
    """Too little free disk space to write safely (below `storage.min_free_mb`, or the
    disk is full). Raised before anything is written; free space and call again."""


class MemoryClosedError(MemoryLayerError, RuntimeError):
    """The `Memory` / `AsyncMemory` was closed; make a new one to go on."""


class PendingNotFoundError(InvalidInputError):
    """No pending add has the given id (`pending()` lists them)."""

    def __init__(self, pending_id: str, operation: str) -> None:
        super().__init__(f"no pending add {pending_id!r} to {operation}: pending() (or "
                         "`mem-integrations pending`) lists the ones there are")
        self.pending_id = pending_id


class BlockingCallError(MemoryLayerError, RuntimeError):
    """A blocking call was made where nothing can block: on an `AsyncMemory` (it lives on
    the caller's event loop, so only its async methods work), or on `Memory` from its own
    event-loop thread (the call would wait for itself forever)."""


class CorruptionError(StoreError):
    """A store's files are damaged or disagree with the history (the source of truth).

    The message names what is damaged; `repair` (`Memory.repair()`, or
    `mem-integrations repair`) rebuilds the vector store and the graph from the history."""


class LoopThreadError(BlockingCallError, asyncio.InvalidStateError):
    """A blocking call made on the event-loop thread of an async component (a LangGraph
    store over `AsyncMemory`): it would wait for itself. Also an
    `asyncio.InvalidStateError`, the error LangGraph's async stores raise there."""
