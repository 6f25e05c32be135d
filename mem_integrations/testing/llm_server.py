"""A scripted OpenAI-compatible server on 127.0.0.1, for tests and benchmarks.

It speaks `/v1/chat/completions` (text, JSON or tool-call replies; `stream=True` answers
with server-sent-event chunks) and `/v1/embeddings` over real HTTP, so the `openai`
client's request building, retries and parsing are exercised for real; only the model
is replaced. Replies come from a queue (`queue(...)`) and, when the queue is empty, from
a `responder` function. Faults (HTTP status, delay) can be queued too. Every chat call is
recorded with an estimate of its prompt tokens.

    with ScriptedLLMServer() as llm:
        llm.queue({"facts": [{"text": "Lives in Paris", "categories": []}]})
        memory = Memory({"llm": {"base_url": llm.base_url, "api_key": "test"}})
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mem_integrations.core.search.lexical import CJK_RUN


@dataclass
class Fault:
    """A scripted failure: an HTTP status (429, 500...) and/or a delay before answering."""

    status: int = 500
    delay: float = 0.0
    message: str = "scripted fault"


@dataclass
class ChatCall:
    """One chat request as the server saw it."""

    body: dict[str, Any]
    prompt_tokens: int
    reply: str | None = None

    @property
    def system(self) -> str:
        return next((m.get("content") or "" for m in self.body.get("messages", [])
                     if m.get("role") == "system"), "")

    @property
    def user(self) -> str:
        """The text of the user messages (the text parts of multimodal content)."""
        return "\n".join(_text(m.get("content")) for m in self.body.get("messages", [])
                         if m.get("role") == "user")

    @property
    def image_urls(self) -> list[str]:
        """The URLs of the image parts the request carried, in order."""
        return [part["image_url"]["url"] for m in self.body.get("messages", [])
                if isinstance(m.get("content"), list)
                for part in m["content"] if part.get("type") == "image_url"]


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content or ""


def estimate_tokens(text: str) -> int:
    """Roughly what a BPE tokenizer counts (~4 characters a token in English)."""
    return max(1, math.ceil(len(text) / 4))


def hashed_embedding(text: str, dimension: int = 64) -> list[float]:
    """A deterministic bag-of-words vector: texts that share words are similar. CJK
    characters count as words, so it also stands in for a multilingual embedder."""
    vector = [0.0] * dimension
    spaced = CJK_RUN.sub(lambda run: f" {' '.join(run.group())} ", text.lower())
    for word in re.findall(r"\w+", spaced):
        digest = int(hashlib.md5(word.encode()).hexdigest(), 16)
        vector[digest % dimension] += 1.0 if (digest >> 64) % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


@dataclass
class ScriptedToolCall:
    """One function call the scripted model makes. `arguments` may be a dict (sent as
    JSON) or a raw string (to script malformed arguments)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass
class ToolCallReply:
    """An assistant message with tool calls (and optional text)."""

    calls: list[ScriptedToolCall]
    content: str | None = None


Reply = str | dict[str, Any] | ToolCallReply
"""Text, a dict sent as JSON text, or tool calls."""
Responder = Callable[[dict[str, Any]], Reply | Fault]
"""Answers a chat request's body when the queue is empty (a Fault fails the request)."""


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, /, **kwargs: Any
              ) -> ToolCallReply:
    """A reply with one tool call: `tool_call("recall", query="diet")`."""
    return ToolCallReply([ScriptedToolCall(name, arguments if arguments is not None else kwargs)])


def tool_calls(*calls: ScriptedToolCall | tuple[str, dict[str, Any]],
               content: str | None = None) -> ToolCallReply:
    """A reply with several tool calls, given as `ScriptedToolCall`s or `(name, args)`."""
    return ToolCallReply([c if isinstance(c, ScriptedToolCall) else ScriptedToolCall(*c)
                          for c in calls], content=content)


def last_tool_results(body: dict[str, Any]) -> list[str]:
    """The contents of the tool messages that follow the last assistant message of a
    request (what the tools just returned): handy in a responder."""
    results: list[str] = []
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "tool":
            break
        results.insert(0, str(message.get("content") or ""))
    return results


class JSONHandler(BaseHTTPRequestHandler):
    """What the scripted servers' handlers share: keep-alive HTTP/1.1 without Nagle stalls,
    quiet logs, a JSON body in and out."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without this, Nagle's algorithm and delayed
    # ACKs add ~40 ms to every keep-alive request
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _body(self) -> Any:
        """The request's JSON body ({} when empty), or None when it is not JSON."""
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ScriptedLLMServer:
    """An OpenAI-compatible HTTP server whose replies are scripted."""

    def __init__(self, responder: Responder | None = None, *, delay: float = 0.0,
                 embedding_dimension: int = 64) -> None:
        self.responder = responder
        self.delay = delay
        self.embedding_dimension = embedding_dimension
        self.calls: list[ChatCall] = []
        self.embedding_calls = 0
        self.faults_served = 0
        self._queue: deque[Reply | Fault] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- scripting ---------------------------------------------------------------------

    def queue(self, *replies: Reply | Fault) -> None:
        """Replies (text, a dict sent as JSON text, or a Fault), served in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def chat_calls(self) -> int:
        return len(self.calls)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.embedding_calls = 0
            self.faults_served = 0

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ScriptedLLMServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="scripted-llm")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- serving ---------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply | Fault:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is None:
            return Fault(status=500, message="the scripted LLM has no reply queued")
        return self.responder(body)

    def _chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        call = ChatCall(body=body, prompt_tokens=estimate_tokens(prompt))
        with self._lock:
            self.calls.append(call)
        reply = self._next(body)
        if isinstance(reply, Fault):
            with self._lock:
                self.faults_served += 1
            time.sleep(reply.delay)
            if reply.status < 400:
                reply = ""
            else:
                return reply.status, {"error": {"message": reply.message, "type": "scripted"}}
        time.sleep(self.delay)
        number = len(self.calls)
        if isinstance(reply, ToolCallReply):
            scripted = [{
                "id": c.id or f"call_{number}_{i}", "type": "function",
                "function": {"name": c.name, "arguments": c.arguments
                             if isinstance(c.arguments, str) else json.dumps(c.arguments)},
            } for i, c in enumerate(reply.calls)]
            message: dict[str, Any] = {"role": "assistant", "content": reply.content,
                                       "tool_calls": scripted}
            finish, text = "tool_calls", json.dumps(scripted)
        else:
            text = reply if isinstance(reply, str) else json.dumps(reply)
            message, finish = {"role": "assistant", "content": text}, "stop"
        call.reply = text
        completion = estimate_tokens(text)
        return 200, {
            "id": f"chatcmpl-{number}", "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": {"prompt_tokens": call.prompt_tokens, "completion_tokens": completion,
                      "total_tokens": call.prompt_tokens + completion},
        }

    def _stream(self, completion: dict[str, Any], body: dict[str, Any]) -> bytes:
        """A completion as the server-sent events of `stream=True`: the role, the text a
        word at a time (so a client sees several chunks), tool calls, the finish reason,
        the usage when `stream_options.include_usage` asks for it, then `[DONE]`."""
        choice = completion["choices"][0]
        message = choice["message"]
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece}
                   for piece in re.findall(r"\S+\s*|\s+", message.get("content") or "")]
        if message.get("tool_calls"):
            deltas.append({"tool_calls": [{"index": i, **c}
                                          for i, c in enumerate(message["tool_calls"])]})
        head = {k: completion[k] for k in ("id", "created", "model")}
        chunks = [{**head, "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                  for delta in deltas]
        chunks[-1]["choices"][0]["finish_reason"] = choice["finish_reason"]
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**head, "object": "chat.completion.chunk", "choices": [],
                           "usage": completion["usage"]})
        events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
        return "".join(events).encode()

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.embedding_calls += 1
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        dimension = int(body.get("dimensions") or self.embedding_dimension)
        data = [{"object": "embedding", "index": i, "embedding": hashed_embedding(t, dimension)}
                for i, t in enumerate(texts)]
        tokens = sum(estimate_tokens(str(t)) for t in texts)
        return 200, {"object": "list", "data": data, "model": body.get("model", "scripted"),
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(JSONHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
                body = self._body()
                if body is None:
                    return self._send(400, {"error": {"message": "invalid JSON"}})
                if self.path.endswith("/chat/completions"):
                    status, payload = server._chat(body)
                    if status == 200 and body.get("stream"):
                        return self._send_bytes(200, server._stream(payload, body),
                                                "text/event-stream")
                elif self.path.endswith("/embeddings"):
                    status, payload = server._embeddings(body)
                else:
                    status, payload = 404, {"error": {"message": f"no route {self.path}"}}
                self._send(status, payload)

        return Handler
