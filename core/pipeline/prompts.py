"""Our prompts: short, with the JSON shape stated, so they work with or without a
provider's structured-output mode."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from mem_integrations.core.config import ExtractionConfig

EXTRACTION_INSTRUCTIONS = """\
You extract durable facts worth remembering from a conversation: personal details, \
preferences, plans, relationships, events with their dates, and standing instructions.
- One fact per item, a short self-contained sentence that names its subject \
("User lives in Paris", "Alice is the user's daughter").
- Write each fact in the language the user used for it; never translate ("我住在上海" \
gives "用户住在上海", not "User lives in Shanghai").
- Resolve relative dates in any language ("yesterday", "last month", "上周", "去年", \
"先週", "지난주") to calendar dates, counting from the date the message was said (a \
line [YYYY-MM-DD HH:MM] before messages gives it) or else from the date given below.
- Give each fact a "quote": the words of the message it comes from, copied exactly.
- Skip greetings, small talk, questions and anything only true for this moment.
- Take facts from the user's messages; take facts from the assistant's messages only \
when they are about the assistant itself or were confirmed by the user.
- No facts: return an empty list."""

RECONCILE_INSTRUCTIONS = """\
You keep a memory store consistent. You get EXISTING memories (with integer ids) and \
NEW facts. Return the operations that bring the store up to date:
- ADD a new fact that is not known yet (id null, text = the fact).
- UPDATE an existing memory when a new fact changes or refines it (id = its id, text = \
the updated memory, combining both when both stay true).
- DELETE an existing memory that a new fact contradicts or makes false (id = its id).
- NONE when a new fact is already known (id = the memory that holds it).
Facts and memories may be in different languages: compare their meaning, not their \
words (a Chinese fact can UPDATE or repeat an English memory), and write an updated \
memory in the language of the new fact.
Use only the ids shown. Every new fact must be covered by an operation."""

GRAPH_EXTRACTION = """\
Also list the entities named (people, places, organisations, things; type in one word) \
and the relations between them as (source, relation, target) with a short snake_case \
relation ("lives_in", "daughter_of", "works_at"). Call the user "user" unless their \
name is known."""

GRAPH_RECONCILE = """\
RELATIONS lists existing relations (with integer ids) and NEW_RELATIONS the ones just \
learned. In "invalidate", give the ids of existing relations the new information makes \
no longer true (for example an old address after a move); an empty list if none."""

NONE_SHOWN = "(none)"
_NUMBERED_LINE = re.compile(r"\[(?P<id>\d+)\] (?P<text>.*)")

DECIDE_INSTRUCTIONS = """\
KNOWN lists what is already remembered, one a line after its integer id ("[3] ..."). \
For each fact also decide, in "event" and "id": ADD a fact not known yet (id null); \
UPDATE a known memory the fact changes or refines (id = its id, text = the updated \
memory, combining both when both stay true); DELETE a known memory the fact makes false \
(id = its id); NONE when it is already known (id = that memory). Compare meaning, not \
words or language. Use only the ids shown."""

DECIDE_GRAPH = """\
KNOWN_RELATIONS lists remembered relations, one a line after its integer id: in \
"invalidate", give the ids of those the conversation makes no longer true (an old address \
after a move), else []."""

IMAGE_EXTRACTION = """\
Images from the conversation follow it, each after its marker ("[image 1]"). Take facts \
from them as from the messages (what they show about the user, their things, places and \
plans; not a description of the picture), and set "image": true on a fact taken from an \
image, false otherwise."""

PROCEDURE_INSTRUCTIONS = """\
Summarise the agent's work in this conversation as a procedure another agent can follow: \
the task, the steps taken in order with their key inputs and outputs, decisions and \
their reasons, errors met and how they were solved, and the outcome. Plain text, no \
preamble."""


def numbered(texts: list[str]) -> str:
    """`texts` one a line as "[id] text": the shortest form a model can refer to by id (a
    JSON object a text adds some 18 characters to each); a text's own line breaks become
    spaces, and an empty list is "(none)"."""
    return "\n".join(f"[{i}] {' '.join(text.split())}" for i, text in enumerate(texts)) \
        or NONE_SHOWN


def read_numbered(block: str) -> list[tuple[int, str]]:
    """The (id, text) lines of a `numbered` block: what a scripted model reads."""
    return [(int(m["id"]), m["text"]) for m in map(_NUMBERED_LINE.match, block.splitlines())
            if m]


def extraction_messages(transcript: str, config: ExtractionConfig, *, today: date,
                        custom_prompt: str | None = None, graph: bool = False,
                        images: list[str] | None = None, known: list[str] | None = None,
                        known_relations: list[str] | None = None) -> list[dict[str, Any]]:
    """The one extraction call. `custom_prompt` (per add) or `config.prompt` replace the
    instructions; include/exclude rules and categories are appended either way. `images`
    (URLs, for a vision model) follow the transcript as image parts, each after its
    "[image N]" marker, in the same user message.

    `known` (the single-call add, `core.pipeline.single_call`): memories the messages may
    touch, shown as KNOWN under small integer ids (texts only, once each), and with the
    graph on `known_relations` as KNOWN_RELATIONS; the reply then also decides each fact
    (`schema.decided_extraction_schema`)."""
    deciding = bool(known or known_relations)
    parts = [custom_prompt or config.prompt or EXTRACTION_INSTRUCTIONS]
    if config.include:
        parts.append(f"Only keep facts about: {config.include}")
    if config.exclude:
        parts.append(f"Never keep facts about: {config.exclude}")
    if config.categories:
        listed = "\n".join(f"- {name}: {desc}" for name, desc in config.categories.items())
        parts.append(f"Tag each fact with the categories that apply, from:\n{listed}")
    else:
        parts.append("Leave categories empty.")
    parts.append(f"Today is {today.isoformat()}.")
    if images:
        parts.append(IMAGE_EXTRACTION)
    fact = '{"text": "...", "categories": ["..."], "quote": "..."' + (
        ', "image": false' if images else '') + (
        ', "event": "ADD|UPDATE|DELETE|NONE", "id": 0}' if deciding else '}')
    if deciding:
        parts.append(DECIDE_INSTRUCTIONS)
    if graph:
        parts.append(GRAPH_EXTRACTION)
        if deciding:
            parts.append(DECIDE_GRAPH)
        parts.append(f'Reply with JSON only: {{"facts": [{fact}], '
                     '"entities": [{"name": "...", "type": "..."}], '
                     '"relations": [{"source": "...", "relation": "...", "target": "..."}]'
                     + (', "invalidate": [0]}' if deciding else '}'))
    else:
        parts.append(f'Reply with JSON only: {{"facts": [{fact}]}}')
    user: str | list[dict[str, Any]] = f"Conversation:\n{transcript}"
    if deciding:
        user += "\n\nKNOWN:\n" + numbered(known or [])
        if graph:
            user += "\n\nKNOWN_RELATIONS:\n" + numbered(known_relations or [])
    if images:
        user = [{"type": "text", "text": user}]
        for number, url in enumerate(images, 1):
            user.append({"type": "text", "text": f"[image {number}]"})
            user.append({"type": "image_url", "image_url": {"url": url}})
    return [
        {"role": "system", "content": "\n\n".join(parts)},
        {"role": "user", "content": user},
    ]


def reconcile_messages(existing: list[str], facts: list[str], *,
                       custom_prompt: str | None = None,
                       relations: list[str] | None = None,
                       new_relations: list[str] | None = None) -> list[dict[str, str]]:
    """The one reconcile call. Existing memories (and relations, with the graph on) are
    shown under small integer ids."""
    known = [{"id": i, "text": text} for i, text in enumerate(existing)]
    instructions = custom_prompt or RECONCILE_INSTRUCTIONS
    operations = '"operations": [{"event": "ADD|UPDATE|DELETE|NONE", "id": 0, "text": "..."}]'
    user = (f"EXISTING:\n{json.dumps(known, ensure_ascii=False)}\n\n"
            f"NEW:\n{json.dumps(facts, ensure_ascii=False)}")
    if relations is None:
        system = f"{instructions}\n\nReply with JSON only: {{{operations}}}"
    else:
        listed = [{"id": i, "relation": text} for i, text in enumerate(relations)]
        system = (f"{instructions}\n{GRAPH_RECONCILE}\n\n"
                  f'Reply with JSON only: {{{operations}, "invalidate": [0]}}')
        user += (f"\n\nRELATIONS:\n{json.dumps(listed, ensure_ascii=False)}\n\n"
                 f"NEW_RELATIONS:\n{json.dumps(new_relations or [], ensure_ascii=False)}")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def procedure_messages(transcript: str, *, custom_prompt: str | None = None) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": custom_prompt or PROCEDURE_INSTRUCTIONS},
        {"role": "user", "content": transcript},
    ]
