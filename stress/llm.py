"""Scripted LLM helpers shared by the stress runs and the reliability tests: a
`ScriptedLLMServer` whose embeddings endpoint can fail too and whose replies can be marked
cut by the token limit, and a responder that behaves like a careful model."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any

from mem_integrations.core.pipeline.prompts import read_numbered
from mem_integrations.testing import Fault, ScriptedLLMServer


class FaultyServer(ScriptedLLMServer):
    """`ScriptedLLMServer` whose `/v1/embeddings` endpoint can also be scripted to fail
    (HTTP status and/or delay), for embedder faults over real HTTP."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._embedding_faults: deque[Fault] = deque()
        self._faults_lock = threading.Lock()
        self.embedding_faults_served = 0
        self._cut_replies = 0
        # a client that timed out has hung up: answering it is not an error worth a trace
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]

    def cut_next_replies(self, n: int = 1) -> None:
        """The next `n` chat replies say `finish_reason: "length"`: the model hit its
        token limit and the text (queued already cut) is incomplete."""
        with self._faults_lock:
            self._cut_replies += n

    def _chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, payload = super()._chat(body)
        with self._faults_lock:
            cut = status == 200 and self._cut_replies > 0
            if cut:
                self._cut_replies -= 1
        if cut:
            payload["choices"][0]["finish_reason"] = "length"
        return status, payload

    def fail_embeddings(self, *faults: Fault) -> None:
        with self._faults_lock:
            self._embedding_faults.extend(faults)

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._faults_lock:
            fault = self._embedding_faults.popleft() if self._embedding_faults else None
        if fault is None:
            return super()._embeddings(body)
        with self._lock:
            self.embedding_faults_served += 1
            self.embedding_calls += 1
        time.sleep(fault.delay)
        if fault.status < 400:
            return 200, {"object": "list", "data": [], "model": "broken"}
        return fault.status, {"error": {"message": fault.message, "type": "scripted"}}


def schema_name(body: dict[str, Any]) -> str:
    """Which step a chat request comes from: 'extraction', 'reconcile' or 'other'."""
    fmt = body.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name")
    if name:
        return name
    system = next((m.get("content") or "" for m in body.get("messages", [])
                   if m.get("role") == "system"), "")
    return "reconcile" if "EXISTING" in system else "extraction"


def _sentences(transcript: str) -> list[str]:
    out = []
    for line in transcript.splitlines():
        role, _, text = line.partition(": ")
        if role != "user":
            continue
        out.extend(s.strip().rstrip(".!") for s in text.replace("!", ".").split(".")
                   if len(s.split()) >= 2)
    return out


def sensible_llm(body: dict[str, Any]) -> dict[str, Any]:
    """A responder that behaves like a careful model: extraction keeps every user sentence;
    reconcile says NONE for a fact already known, UPDATE for a fact about the same thing
    (same first two words: "Lives in Paris" -> "Lives in Rome"), ADD otherwise. A
    single-call extraction (KNOWN memories shown) decides each fact by the same rules."""
    user = "\n".join(m.get("content") or "" for m in body.get("messages", [])
                     if m.get("role") == "user")
    if schema_name(body) == "extraction":
        transcript, _, shown = user.removeprefix("Conversation:\n").partition("\n\nKNOWN:\n")
        facts = _sentences(transcript)
        if not shown:
            return {"facts": [{"text": s, "categories": []} for s in facts]}
        known = [{"id": i, "text": text}
                 for i, text in read_numbered(shown.split("\n\n")[0])]
        return {"facts": [{"text": fact, "categories": [], "event": op["event"], "id": op["id"]}
                          for fact, op in zip(facts, _decide(known, facts), strict=True)],
                "invalidate": []}
    existing_part, _, new_part = user.partition("\n\nNEW:\n")
    existing = json.loads(existing_part.removeprefix("EXISTING:\n"))
    new = json.loads(new_part.split("\n\n")[0])
    return {"operations": _decide(existing, new)}


def _decide(existing: list[dict[str, Any]], new: list[str]) -> list[dict[str, Any]]:
    """sensible_llm's rules: one operation per new fact, against the memories shown."""
    from mem_integrations.core.records import content_hash

    operations: list[dict[str, Any]] = []
    touched: set[int] = set()
    for fact in new:
        same = next((e["id"] for e in existing
                     if content_hash(e["text"]) == content_hash(fact)), None)
        if same is not None:
            operations.append({"event": "NONE", "id": same, "text": None})
            continue
        head = fact.lower().split()[:2]
        about = next((e["id"] for e in existing if e["id"] not in touched
                      and e["text"].lower().split()[:2] == head), None)
        if about is not None:
            touched.add(about)
            operations.append({"event": "UPDATE", "id": about, "text": fact})
        else:
            operations.append({"event": "ADD", "id": None, "text": fact})
    return operations
