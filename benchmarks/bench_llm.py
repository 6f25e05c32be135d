"""The benchmark LLM: a scripted model, served over HTTP on 127.0.0.1 by `ScriptedLLMServer`,
that answers mem0's prompts (1.0.11: fact extraction, update-memory, graph tool calls; 2.x:
additive extraction) and ours (extraction, reconcile) with the same decisions, so the LLM
is held constant and only the libraries differ.

The script:
- facts: each declarative user sentence is a fact (or, when the driver sets
  `facts_override`, exactly those facts, e.g. LOCOMO's per-session observations);
- a new fact identical to a memory shown is NONE; a new fact about the same thing as a
  memory shown UPDATEs it: the same subject and verb, and either at least a third of their
  other words in common (the same thing said again or refined) or one thing each (a value
  replaced: "Anna lives in Paris" -> "Anna lives in Berlin"); of several, the one with
  the most words in common. Otherwise it is ADDed (mem0 2.x can only ADD). The rule
  reads only the fact and the memory, never the order or the number of memories shown,
  so both of our reconcile modes decide alike whenever they show the same memory;
- graph: a fact "Anna lives in Paris" is the relation (anna, lives_in, paris); an existing
  relation with the same source and relation but another target is superseded
  (mem0: a delete_graph_memory tool call; ours: its id in "invalidate").

Every request is recorded: which library and step it came from (recognised from the
prompt), and its prompt tokens, estimated as ~4 characters a token over the messages
plus the tool definitions and the JSON schema sent (what a provider bills for).
"""

from __future__ import annotations

import ast
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mem_integrations.core.pipeline.prompts import read_numbered
from mem_integrations.testing import Fault, ScriptedLLMServer, tool_call, tool_calls
from mem_integrations.testing.llm_server import Reply, estimate_tokens

STOP = {"a", "an", "the", "in", "on", "at", "to", "of", "for", "with", "and", "is", "are",
        "was", "were", "my", "her", "his", "their", "our", "about", "from", "by", "as", "it"}
PREPOSITIONS = {"in", "on", "at", "to", "for", "with", "from", "about", "by", "as", "of"}


# --- the deterministic "model" -----------------------------------------------------------

def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’-]+", text)


def fact_key(fact: str) -> tuple[str, str]:
    """(subject, verb): the first two words, lowercased."""
    words = [w.lower() for w in _words(fact)]
    return (words[0] if words else "", words[1] if len(words) > 1 else "")


def facts_from_text(text: str) -> list[str]:
    """Each declarative sentence of the user's lines is a fact."""
    facts: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        role, sep, rest = line.partition(": ")
        if sep and role in ("assistant", "system"):
            continue
        if sep and role == "user":
            line = rest
        for sentence in re.split(r"(?<=[.!?])\s+", line):
            sentence = sentence.strip()
            if not sentence or sentence.endswith("?") or len(_words(sentence)) < 3:
                continue
            fact = sentence.rstrip(".! ")
            if fact and fact not in facts:
                facts.append(fact)
    return facts


def triple(fact: str) -> tuple[str, str, str] | None:
    """(source, relation, target) of a fact: subject, verb (+ preposition), object."""
    words = _words(fact)
    if len(words) < 3:
        return None
    source, relation, rest = words[0], [words[1].lower()], words[2:]
    if rest and rest[0].lower() in PREPOSITIONS:
        relation.append(rest[0].lower())
        rest = rest[1:]
    target = [w for w in rest if w.lower() not in STOP][:3]
    if not target:
        return None
    return source, "_".join(relation), " ".join(target)


def _norm(name: str) -> str:
    return "_".join(str(name).lower().split())


def entities_of(facts: list[str]) -> list[tuple[str, str]]:
    out: dict[str, str] = {}
    for fact in facts:
        t = triple(fact)
        if t:
            out.setdefault(t[0], "person")
            out.setdefault(t[2], "thing")
    return list(out.items())


def _content(text: str) -> set[str]:
    """The words after the subject and verb, without the small ones."""
    return {w for w in (w.lower() for w in _words(text)[2:]) if w not in STOP}


def same_thing(fact: str, memory: str) -> float:
    """How much `fact` is about what `memory` says (0: not at all): the share of their
    words in common when they have the same subject and verb and at least a third in
    common, or when each names one thing; else 0."""
    key = fact_key(fact)
    if not key[0] or fact_key(memory) != key:
        return 0.0
    ours, theirs = _content(fact), _content(memory)
    if len(ours) <= 1 and len(theirs) <= 1:
        return 1.0 / 3
    shared = len(ours & theirs) / max(1, len(ours | theirs))
    return shared if shared >= 1 / 3 else 0.0


def decide(existing: list[tuple[Any, str]], facts: list[str]) -> list[dict[str, Any]]:
    """ADD / UPDATE / NONE for each new fact against the memories shown."""
    ops: list[dict[str, Any]] = []
    used: set[Any] = set()
    for fact in facts:
        same = next((i for i, text in existing if text.strip().lower() == fact.lower()), None)
        if same is not None:
            ops.append({"event": "NONE", "id": same, "text": fact})
            continue
        # the most in common; a tie goes to the first text in alphabetical order, not the
        # first shown, so that the order shown does not decide
        scored = sorted((-same_thing(fact, text), text, i) for i, text in existing
                        if i not in used)
        match = scored[0][2] if scored and scored[0][0] < 0 else None
        if match is not None:
            used.add(match)
            ops.append({"event": "UPDATE", "id": match, "text": fact,
                        "old_memory": dict(existing)[match]})
        else:
            ops.append({"event": "ADD", "id": None, "text": fact})
    return ops


def superseded(existing: list[tuple[str, str, str]],
               new: list[tuple[str, str, str]]) -> list[int]:
    """Indices of existing relations that a new one (same source and relation, another
    target) replaces."""
    out = []
    for i, (s, r, t) in enumerate(existing):
        for ns, nr, nt in new:
            if _norm(s) == _norm(ns) and _norm(r) == _norm(nr) and _norm(t) != _norm(nt):
                out.append(i)
                break
    return out


# --- the server ----------------------------------------------------------------------------

@dataclass
class Call:
    lib: str
    kind: str
    prompt_tokens: int
    at: float


class BenchLLM:
    """The scripted model, served by a `ScriptedLLMServer`. `delay` (seconds) can be
    changed between phases."""

    def __init__(self, delay: float = 0.0) -> None:
        self.facts_override: list[str] | None = None
        self.calls: list[Call] = []
        self.unknown: list[str] = []
        self._lock = threading.Lock()
        self._server = ScriptedLLMServer(responder=self._respond, delay=delay)

    @property
    def delay(self) -> float:
        return self._server.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._server.delay = seconds

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def __enter__(self) -> BenchLLM:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return list(self.calls[mark:])

    def _respond(self, body: dict[str, Any]) -> Reply | Fault:
        """Answer a chat request and record it, with the prompt tokens a provider bills:
        the messages plus the tool definitions and the JSON schema sent."""
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        extra = ""
        if body.get("tools"):
            extra += json.dumps(body["tools"])
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            extra += json.dumps(fmt.get("json_schema", {}).get("schema", {}))
        tokens = estimate_tokens(prompt) + (estimate_tokens(extra) if extra else 0)
        try:
            lib, kind, reply = self.answer(body)
        except Exception as exc:  # a bug in the script must show, not hang
            self.unknown.append(f"error: {exc!r}")
            return Fault(status=500, message=repr(exc))
        with self._lock:
            self.calls.append(Call(lib, kind, tokens, time.perf_counter()))
        return reply

    # --- answering ----------------------------------------------------------------------

    def _facts(self, text: str) -> list[str]:
        if self.facts_override is not None:
            return list(self.facts_override)
        return facts_from_text(text)

    def answer(self, body: dict[str, Any]) -> tuple[str, str, Reply]:
        """(library, step, message) for a request."""
        messages = body.get("messages") or []
        system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
        user = "\n".join(m.get("content") or "" for m in messages if m.get("role") == "user")
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or []]

        if tools:
            return self._mem0_graph(tools[0], system, user)
        if user.startswith("Conversation:\n"):
            return self._ours_extract(system, user)
        if user.startswith("EXISTING:\n"):
            return self._ours_reconcile(user)
        if "smart memory manager" in user and "new retrieved facts" in user:
            return self._mem0_update(user)
        if user.startswith("Input:\n"):
            facts = self._facts(user[len("Input:\n"):])
            return "mem0-1", "extract", {"facts": facts}
        if "## New Messages" in user:
            return self._mem0_additive(user)
        self.unknown.append(user[:200])
        return "unknown", "unknown", {}

    def _ours_extract(self, system: str, user: str) -> tuple[str, str, Reply]:
        transcript, _, shown = user[len("Conversation:\n"):].partition("\n\nKNOWN:\n")
        facts = self._facts(transcript)
        reply: dict[str, Any] = {"facts": [{"text": f, "categories": []} for f in facts]}
        if '"relations"' in system:
            reply["entities"] = [{"name": n, "type": t} for n, t in entities_of(facts)]
            reply["relations"] = [{"source": s, "relation": r, "target": t}
                                  for s, r, t in filter(None, map(triple, facts))]
        if shown:  # the single-call add: decide each fact against the KNOWN memories
            known_part, _, rel_part = shown.partition("\n\nKNOWN_RELATIONS:\n")
            existing = read_numbered(known_part)
            for fact, op in zip(reply["facts"], decide(existing, facts), strict=True):
                fact.update(event=op["event"], id=op["id"])
            if rel_part:
                reply["invalidate"] = self._invalidated(
                    [{"id": i, "relation": text} for i, text in read_numbered(rel_part)],
                    list(filter(None, map(triple, facts))))
            return "ours", "extract+decide", reply
        return "ours", "extract", reply

    @staticmethod
    def _invalidated(relations: list[dict[str, Any]], new: list[tuple[str, str, str]]
                     ) -> list[int]:
        """The ids of the relations shown that the new relations supersede."""
        parsed = [_parse_described(r["relation"]) for r in relations]
        keep = [(i, t) for i, t in enumerate(parsed) if t]
        hits = superseded([t for _, t in keep], new)
        return [relations[keep[i][0]]["id"] for i in hits]

    def _ours_reconcile(self, user: str) -> tuple[str, str, Reply]:
        existing_part, _, rest = user[len("EXISTING:\n"):].partition("\n\nNEW:\n")
        new_part, _, graph_part = rest.partition("\n\nRELATIONS:\n")
        existing = [(m["id"], m["text"]) for m in json.loads(existing_part)]
        facts = json.loads(new_part)
        ops = [{"event": o["event"], "id": o["id"], "text": o["text"]}
               for o in decide(existing, facts)]
        reply: dict[str, Any] = {"operations": ops}
        if graph_part:
            rel_part, _, new_rel_part = graph_part.partition("\n\nNEW_RELATIONS:\n")
            new = [t for t in map(_parse_described, json.loads(new_rel_part)) if t]
            reply["invalidate"] = self._invalidated(json.loads(rel_part), new)
        return "ours", "reconcile", reply

    def _mem0_update(self, user: str) -> tuple[str, str, Reply]:
        blocks = user.split("```")
        # ... [existing block] ... facts block ... ; blocks at odd indices are inside fences
        inside = [blocks[i] for i in range(1, len(blocks), 2)]
        facts = ast.literal_eval(inside[-1].strip())
        existing: list[tuple[Any, str]] = []
        if "Below is the current content of my memory" in user and len(inside) >= 2:
            existing = [(m["id"], m["text"]) for m in ast.literal_eval(inside[-2].strip())]
        ops = []
        for n, op in enumerate(decide(existing, facts)):
            if op["event"] == "ADD":
                op["id"] = str(len(existing) + n)
            op.setdefault("old_memory", "")
            ops.append(op)
        return "mem0-1", "update", {"memory": ops}

    def _mem0_additive(self, user: str) -> tuple[str, str, Reply]:
        section = user.split("## New Messages\n", 1)[1].split("\n\n## ", 1)[0]
        existing_part = user.split("## Existing Memories\n", 1)[-1].split("\n\n## ", 1)[0]
        try:
            known = {m.get("text", "").strip().lower() for m in json.loads(existing_part)}
        except ValueError:
            known = set()
        facts = [f for f in self._facts(section) if f.lower() not in known]
        return "mem0-2", "extract", {
            "memory": [{"text": f, "attributed_to": "user"} for f in facts]}

    def _mem0_graph(self, tool: str, system: str, user: str) -> tuple[str, str, Reply]:
        kind, reply = mem0_graph_reply(tool, user, self._facts)
        if kind.startswith("tool:"):
            self.unknown.append(f"tool {tool}")
        return "mem0-1", kind, reply


def mem0_graph_reply(tool: str, user: str,
                     facts: Callable[[str], list[str]] = facts_from_text) -> tuple[str, Reply]:
    """(step, tool-call message) answering mem0 1.0.x's graph prompt for `tool`
    (extract_entities, establish_relationships, delete_graph_memory); `facts` reads the
    facts of a text. Also the migration tests' answer to mem0's graph calls."""
    if tool == "extract_entities":
        args = {"entities": [{"entity": n, "entity_type": t} for n, t in entities_of(facts(user))]}
        return "graph_entities", tool_call(tool, args)
    if tool == "establish_relationships":
        found = facts(user.split("Text: ", 1)[-1])
        args = {"entities": [{"source": s, "relationship": r, "destination": t}
                             for s, r, t in filter(None, map(triple, found))]}
        return "graph_relations", tool_call(tool, args)
    if tool == "delete_graph_memory":
        head, _, data = user.partition("\n\n New Information: ")
        lines = head.replace("Here are the existing memories: ", "").strip().splitlines()
        existing = [tuple(part.strip() for part in line.split(" -- "))
                    for line in lines if line.count(" -- ") == 2]
        new = list(filter(None, map(triple, facts(data))))
        calls = [("delete_graph_memory", {"source": existing[i][0],
                                          "relationship": existing[i][1],
                                          "destination": existing[i][2]})
                 for i in superseded(existing, new)]  # type: ignore[arg-type]
        return "graph_delete", tool_calls(*calls)
    return f"tool:{tool}", tool_calls()


def _parse_described(text: str) -> tuple[str, str, str] | None:
    """Our relation rendering: 'source --relation--> target'."""
    m = re.fullmatch(r"(.*?) --(.*?)--> (.*)", text.strip())
    return (m.group(1), m.group(2), m.group(3)) if m else None
