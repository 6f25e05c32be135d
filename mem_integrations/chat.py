"""OpenAI-compatible chat with memory: a drop-in wrapper around any OpenAI-compatible
client that gives each chat call the user's long-term memory.

    from openai import OpenAI
    from mem_integrations import Memory
    from mem_integrations.chat import MemoryOpenAI

    client = MemoryOpenAI(Memory(), OpenAI())
    reply = client.chat.completions.create(model="gpt-4.1-mini", user_id="alice",
                                           messages=[{"role": "user", "content": "Hi!"}])

Each `chat.completions.create` call

1. searches the scope's memories once, for the latest user message(s);
2. adds what it found to the system message (an existing one is extended, a missing one is
   put first), in the wording of `mem_integrations.rendering`;
3. forwards the call, every other keyword argument unchanged (`stream=True` included: the
   stream is handed back chunk by chunk);
4. remembers the turn - the latest user message(s) and the assistant's text - with
   `Memory.add`, in the background by default.

Durability of the background add: the engine keeps an add's messages as a pending add
before its LLM call and drops them only once written, so a failed or interrupted add is
listed by `memory.pending()` and retried by `memory.reprocess(id)`. What the engine has not
yet received is held by the wrapper: `wait()` / `await_all()` settle it, and at interpreter
exit a hook waits for it up to `exit_timeout` seconds (then logs what it left).
Adds run on the `Memory` loop thread, which outlives the caller's event loop; with an
`AsyncMemory` they are tasks on the caller's loop, so `await client.await_all()` before that
loop ends (`asyncio.run` cancels unfinished tasks).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import openai

from mem_integrations._common import (
    Background,
    Extraction,
    ScopeIds,
    check_injection,
    fixed_scope,
    merge_scopes,
    settle_at_exit,
)
from mem_integrations.core.errors import (
    BlockingCallError,
    ConfigurationError,
    MissingScopeError,
)
from mem_integrations.core.sync_memory import AnyMemory, Memory, bridge
from mem_integrations.rendering import MEMORY_TEMPLATE, format_memories

__all__ = ["AsyncMemoryOpenAI", "ChatMemory", "MemoryOpenAI"]

log = logging.getLogger(__name__)

Messages = Sequence[Mapping[str, Any]]

SYSTEM_ROLES = ("system", "developer")
"""The roles that carry instructions: OpenAI's newer models call the system message
"developer"; memories extend whichever comes first."""


class ChatMemory:
    """What a chat call with memory does around the model call: find the memories for the
    latest user message(s), put them into the system message, remember the turn.

    Shared by `MemoryOpenAI`, `AsyncMemoryOpenAI` and the REST server's
    `POST /v1/chat/completions`.

    Args:
        memory: a `Memory`, or an `AsyncMemory` for async-only use.
        user_id, agent_id, run_id: default scope ids; a call's own ids take precedence,
            key by key. Without either, a call raises `MissingScopeError`.
        limit, threshold, filters: how memories are searched.
        template: the memory block added to the system message; `{memories}` is replaced
            by one line per memory.
        extraction: remember each turn in the "background" (default: the reply is not
            delayed), "await" it before returning (errors propagate), or "off".
        exit_timeout: how long, at interpreter exit, to wait for background adds.
    """

    def __init__(
        self,
        memory: AnyMemory,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 5,
        threshold: float | None = None,
        filters: dict[str, Any] | None = None,
        template: str = MEMORY_TEMPLATE,
        extraction: Extraction = "background",
        exit_timeout: float = 30.0,
    ) -> None:
        check_injection(extraction, template)
        self.bridge = bridge(memory)
        self.scope = fixed_scope(user_id, agent_id, run_id)
        self.limit = limit
        self.threshold = threshold
        self.filters = filters
        self.template = template
        self.extraction = extraction
        self.exit_timeout = exit_timeout
        self._background = Background()
        settle_at_exit(self)

    # --- one call's steps ----------------------------------------------------------------

    def scope_for(self, call: ScopeIds, operation: str) -> ScopeIds:
        """The call's scope ids over the defaults; `MissingScopeError` when neither has one."""
        scope = merge_scopes(call, self.scope)
        if not scope:
            raise MissingScopeError(operation)
        return scope

    async def recall(self, messages: Messages, scope: ScopeIds) -> list[dict[str, Any]]:
        """`messages` with the memories relevant to the latest user message(s) added to
        the system message (the same messages when none are found)."""
        query = "\n".join(_text(m.get("content")) for m in _latest_user(messages)).strip()
        if not query:
            return list(messages)
        found = await self.bridge.arun(self.bridge.async_memory.search(
            query, **scope, limit=self.limit, threshold=self.threshold, filters=self.filters))
        if not found.results:
            return list(messages)
        return _with_system_block(messages, self.template.format(
            memories=format_memories(found.results)))

    async def remember(self, messages: Messages, reply: str, scope: ScopeIds) -> None:
        """Remember the turn: in the background, awaited, or not at all (`extraction`)."""
        turn = [{"role": "user", "content": _text(m.get("content"))}
                for m in _latest_user(messages)]
        turn.append({"role": "assistant", "content": reply})
        # only text is extracted: images and tool results repeat what is known elsewhere
        turn = [m for m in turn if m["content"].strip()]
        if self.extraction == "off" or not turn:
            return
        if self.extraction == "await":
            await self.bridge.arun(self._add(turn, scope))
        else:
            self._background.track(self.bridge.submit(self._add(turn, scope)), "memory add")

    async def _add(self, turn: list[dict[str, str]], scope: ScopeIds) -> None:
        await self.bridge.async_memory.add(turn, **scope)

    # --- settling background adds ------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background adds started so far are done (with a `Memory`)."""
        self._background.wait(timeout)

    async def await_all(self) -> None:
        """Await the background adds started so far (from any event loop)."""
        await self._background.await_all()

    @property
    def unfinished(self) -> int:
        """How many background adds have not finished yet."""
        return len(self._background)


# --- the client wrappers ------------------------------------------------------------------------


class MemoryOpenAI:
    """A blocking OpenAI-compatible client whose chat calls have long-term memory.

    `client.chat.completions.create(..., user_id=/agent_id=/run_id=)` is the wrapped
    client's call plus memory (see the module docstring); every other attribute
    (`embeddings`, `models`, ...) is the wrapped client's.

    Args:
        memory: a `Memory` (blocking calls cannot use an `AsyncMemory`).
        client: an `openai.OpenAI` (or `AzureOpenAI`, or any client of the same shape);
            by default one is built from `base_url` / `api_key` (or the `OPENAI_*`
            environment variables).
        **options: `ChatMemory`'s: default scope ids, `limit`, `threshold`, `filters`,
            `template`, `extraction`, `exit_timeout`.
    """

    def __init__(self, memory: Memory, client: Any | None = None, *,
                 base_url: str | None = None, api_key: str | None = None, **options: Any
                 ) -> None:
        if not isinstance(memory, Memory):
            raise BlockingCallError(
                "MemoryOpenAI makes blocking calls, which need a Memory: pass a Memory, or "
                "use AsyncMemoryOpenAI with an AsyncMemory")
        self.client = client if client is not None else openai.OpenAI(base_url=base_url,
                                                                      api_key=api_key)
        if _is_async(self.client):
            raise ConfigurationError("MemoryOpenAI wraps a blocking client (openai.OpenAI): "
                                     "use AsyncMemoryOpenAI for an async one")
        self.memory = ChatMemory(memory, **options)
        self.chat = _Namespace(completions=_Completions(self))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the turns sent so far are remembered."""
        self.memory.wait(timeout)


class AsyncMemoryOpenAI:
    """`MemoryOpenAI` for async code: wraps an `openai.AsyncOpenAI`, and works with a
    `Memory` or an `AsyncMemory` (then `await client.await_all()` before the event loop
    ends, so no turn is cancelled unremembered)."""

    def __init__(self, memory: AnyMemory, client: Any | None = None, *,
                 base_url: str | None = None, api_key: str | None = None, **options: Any
                 ) -> None:
        self.client = client if client is not None else openai.AsyncOpenAI(base_url=base_url,
                                                                           api_key=api_key)
        if not _is_async(self.client):
            raise ConfigurationError("AsyncMemoryOpenAI wraps an async client "
                                     "(openai.AsyncOpenAI): use MemoryOpenAI for a blocking one")
        self.memory = ChatMemory(memory, **options)
        self.chat = _Namespace(completions=_AsyncCompletions(self))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the turns sent so far are remembered (with a `Memory`)."""
        self.memory.wait(timeout)

    async def await_all(self) -> None:
        """Await the remembering of the turns sent so far."""
        await self.memory.await_all()


def _is_async(client: Any) -> bool:
    # openai decorates `create` (argument checks): look through to the coroutine function
    return inspect.iscoroutinefunction(inspect.unwrap(client.chat.completions.create))


class _Namespace:
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


_OPERATION = "chat.completions.create (the wrapper has no default scope)"


class _Completions:
    def __init__(self, owner: MemoryOpenAI) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Any:  # parse, with_raw_response...: unchanged
        return getattr(self._owner.client.chat.completions, name)

    def create(self, *, messages: Messages, user_id: str | None = None,
               agent_id: str | None = None, run_id: str | None = None, **kwargs: Any
               ) -> Any:
        """The wrapped client's `chat.completions.create`, with memory for the scope."""
        chat, run = self._owner.memory, self._owner.memory.bridge.run
        scope = chat.scope_for(fixed_scope(user_id, agent_id, run_id), _OPERATION)
        sent = run(chat.recall(messages, scope))
        response = self._owner.client.chat.completions.create(messages=sent, **kwargs)
        if kwargs.get("stream"):
            return RememberingStream(response, lambda text: run(
                chat.remember(messages, text, scope)))
        run(chat.remember(messages, reply_text(response), scope))
        return response


class _AsyncCompletions:
    def __init__(self, owner: AsyncMemoryOpenAI) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner.client.chat.completions, name)

    async def create(self, *, messages: Messages, user_id: str | None = None,
                     agent_id: str | None = None, run_id: str | None = None, **kwargs: Any
                     ) -> Any:
        """The wrapped client's `chat.completions.create`, with memory for the scope."""
        chat = self._owner.memory
        scope = chat.scope_for(fixed_scope(user_id, agent_id, run_id), _OPERATION)
        sent = await chat.recall(messages, scope)
        response = await self._owner.client.chat.completions.create(messages=sent, **kwargs)
        if kwargs.get("stream"):
            return AsyncRememberingStream(response, lambda text: chat.remember(
                messages, text, scope))
        await chat.remember(messages, reply_text(response), scope)
        return response


# --- streams ---------------------------------------------------------------------------------


class RememberingStream:
    """A chat stream handed back chunk by chunk; once it is read to the end, the reply's
    text (of the first choice) goes to `on_end`. A stream closed early is not remembered:
    the user did not get the whole answer. Everything else is the wrapped stream's."""

    def __init__(self, stream: Any, on_end: Any) -> None:
        self._stream = stream
        self._on_end = on_end
        self._parts: list[str] = []

    def __iter__(self) -> Iterator[Any]:
        for chunk in self._stream:
            self._parts.append(chunk_text(chunk))
            yield chunk
        self._on_end("".join(self._parts))

    def __enter__(self) -> RememberingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()

    def __getattr__(self, name: str) -> Any:  # close, response...
        return getattr(self._stream, name)


class AsyncRememberingStream:
    """`RememberingStream` for async iteration; `on_end` returns an awaitable."""

    def __init__(self, stream: Any, on_end: Any) -> None:
        self._stream = stream
        self._on_end = on_end
        self._parts: list[str] = []

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for chunk in self._stream:
            self._parts.append(chunk_text(chunk))
            yield chunk
        await self._on_end("".join(self._parts))

    async def __aenter__(self) -> AsyncRememberingStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stream.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# --- OpenAI message shapes ----------------------------------------------------------------------


def reply_text(completion: Any) -> str:
    """The text of a completion's first choice ("" for a tool-call-only reply)."""
    choices = getattr(completion, "choices", None) or []
    return (choices[0].message.content or "") if choices else ""


def chunk_text(chunk: Any) -> str:
    """The text a stream chunk adds to the first choice ("" for usage-only chunks)."""
    return next((c.delta.content or "" for c in getattr(chunk, "choices", None) or []
                 if c.index == 0 and c.delta is not None), "")


def _text(content: Any) -> str:
    """A message's text: the string, or the text parts of a multimodal list."""
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content
                         if isinstance(p, Mapping) and p.get("type") == "text")
    return content if isinstance(content, str) else ""


def _latest_user(messages: Messages) -> list[Mapping[str, Any]]:
    """The last run of consecutive user messages (what this turn asks)."""
    end = next((i for i in range(len(messages) - 1, -1, -1)
                if messages[i].get("role") == "user"), None)
    if end is None:
        return []
    start = end
    while start > 0 and messages[start - 1].get("role") == "user":
        start -= 1
    return list(messages[start:end + 1])


def _with_system_block(messages: Messages, block: str) -> list[dict[str, Any]]:
    """A copy of `messages` with `block` appended to the first system (or developer)
    message, or put first as a new system message. The caller's list is not changed."""
    out = [dict(m) for m in messages]
    system = next((m for m in out if m.get("role") in SYSTEM_ROLES), None)
    if system is None:
        return [{"role": "system", "content": block}, *out]
    content = system.get("content")
    if isinstance(content, list):
        system["content"] = [*content, {"type": "text", "text": block}]
    else:
        system["content"] = f"{content}\n\n{block}" if content else block
    return out
