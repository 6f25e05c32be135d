"""What the extraction and reconcile steps produce, validated leniently: an LLM that
returns a bare list of strings, a lowercase event or an id as text is still understood;
an item that makes no sense is dropped, never crashed on."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from mem_integrations.core.models import Event
from mem_integrations.core.pipeline.parsing import UnparseableReply

log = logging.getLogger(__name__)


class Fact(BaseModel):
    """One fact extracted from the conversation."""

    # at most core.records.MAX_MEMORY_CHARS: a runaway reply is dropped, not stored
    text: str = Field(min_length=1, max_length=20_000)
    categories: list[str] = Field(default_factory=list)
    # set by a vision model on a fact it read from an image of the messages
    image: bool = False
    # the words of the message it was taken from, verbatim (optional: core.sources)
    quote: str | None = Field(default=None, max_length=2_000)

    @field_validator("quote", mode="before")
    @classmethod
    def _quote(cls, value: Any) -> Any:
        # lenient: a quote that is not text is no quote; the fact stays
        return (value.strip() or None) if isinstance(value, str) else None

    @field_validator("text")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("empty fact")
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, (list, tuple)):  # 5, true, {...}: not categories
            return []
        return [str(v) for v in value if v]

    @field_validator("image", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool:
        # lenient: "true", 1 or a missing value from a model that half-follows the schema
        return value is True or (isinstance(value, str) and value.strip().lower() == "true") \
            or value == 1


class Decided(BaseModel):
    """A fact of a single-call extraction, with the decision the same reply made about it
    against the KNOWN memories shown (`core.pipeline.single_call`): ADD, UPDATE(id),
    DELETE(id) or NONE(id). A fact without a usable decision is left to reconcile."""

    event: Event | None = None
    id: int | None = None

    @field_validator("event", mode="before")
    @classmethod
    def _known_event(cls, value: Any) -> Any:
        value = _event_name(value)
        return value if value in Event.__members__ else None  # unknown: undecided

    @field_validator("id", mode="before")
    @classmethod
    def _int_id(cls, value: Any) -> Any:
        value = _small_id(value)
        return value if isinstance(value, int) else None


def _event_name(value: Any) -> Any:
    """An event as the LLM wrote it ("update", " ADD ") in our spelling."""
    return value.strip().upper() if isinstance(value, str) else value


def _small_id(value: Any) -> Any:
    """An id shown to the LLM as it wrote it back ("3", 3); None for true/false."""
    if isinstance(value, bool):  # true/false are not ids
        return None
    if isinstance(value, str):
        return _as_int(value)
    return value


class Operation(BaseModel):
    """One reconcile decision. `id` is the small integer id shown to the LLM."""

    event: Event
    id: int | None = None
    text: str | None = None

    @field_validator("event", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return _event_name(value)

    @field_validator("id", mode="before")
    @classmethod
    def _int_id(cls, value: Any) -> Any:
        return _small_id(value)


class EntityMention(BaseModel):
    """An entity named in the conversation."""

    name: str = Field(min_length=1)
    type: str = "entity"

    @field_validator("name", "type", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return " ".join(str(value).split()) if value is not None else value


class Triple(BaseModel):
    """A relation between two entities. `fact` (optional) is the index of the fact it
    comes from, when the extractor knows it."""

    source: str = Field(min_length=1)
    relation: str = Field(min_length=1)
    target: str = Field(min_length=1)
    fact: int | None = None

    @field_validator("source", "target", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return " ".join(str(value).split()) if value is not None else value

    @field_validator("relation", mode="before")
    @classmethod
    def _relation(cls, value: Any) -> Any:
        # A relation name is data, kept as a property: normalised for matching only.
        return "_".join(str(value).lower().split()) if value is not None else value


class Extraction(BaseModel):
    """Everything one extraction call returns."""

    facts: list[Fact] = Field(default_factory=list)
    entities: list[EntityMention] = Field(default_factory=list)
    relations: list[Triple] = Field(default_factory=list)
    # single-call extraction only: per fact (same order) its decision, and the ids of the
    # KNOWN relations the new information supersedes
    decisions: list[Decided] = Field(default_factory=list)
    invalidate: list[int] = Field(default_factory=list)


class Decisions(BaseModel):
    """Everything one reconcile call returns: memory operations and, with the graph on,
    the ids of existing relations the new information supersedes."""

    operations: list[Operation] = Field(default_factory=list)
    invalidate: list[int] = Field(default_factory=list)


EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "categories": {"type": "array", "items": {"type": "string"}},
                    # optional: where the fact was said (core.sources)
                    "quote": {"type": "string"},
                },
                "required": ["text", "categories"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["facts"],
    "additionalProperties": False,
}

RECONCILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "event": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
                    "id": {"type": ["integer", "null"]},
                    "text": {"type": ["string", "null"]},
                },
                "required": ["event", "id", "text"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["operations"],
    "additionalProperties": False,
}


def _items(payload: dict[str, Any], key: str, aliases: tuple[str, ...]) -> list[Any]:
    for name in (key, *aliases):
        if name in payload:
            value = payload[name]
            if not isinstance(value, list):
                raise UnparseableReply(f"'{name}' is not a list")
            return value
    raise UnparseableReply(f"reply has no '{key}' list")


def read_facts(payload: dict[str, Any]) -> list[Fact]:
    """Facts from an extraction reply (`{"facts": [...]}`; items may be plain strings)."""
    facts: list[Fact] = []
    for item in _items(payload, "facts", ("memories", "memory")):
        fact = _fact_or_none(item)
        if fact is None:
            log.warning("dropping malformed fact from LLM reply: %r", item)
        else:
            facts.append(fact)
    return facts


def read_operations(payload: dict[str, Any]) -> list[Operation]:
    """Operations from a reconcile reply; malformed items are dropped."""
    operations: list[Operation] = []
    for item in _items(payload, "operations", ("memory", "memories")):
        try:
            operations.append(Operation.model_validate(item))
        except ValidationError:
            log.warning("dropping malformed operation from LLM reply: %r", item)
    return operations


GRAPH_EXTRACTION_PROPERTIES: dict[str, Any] = {
    "entities": {
        "type": "array",
        "items": {"type": "object",
                  "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                  "required": ["name", "type"], "additionalProperties": False},
    },
    "relations": {
        "type": "array",
        "items": {"type": "object",
                  "properties": {"source": {"type": "string"}, "relation": {"type": "string"},
                                 "target": {"type": "string"}},
                  "required": ["source", "relation", "target"], "additionalProperties": False},
    },
}


DECISION_PROPERTIES: dict[str, Any] = {
    "event": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
    "id": {"type": ["integer", "null"]},
}


def _with_image_flag(schema: dict[str, Any]) -> dict[str, Any]:
    """The extraction schema whose facts carry `"image": true|false` (only asked for when
    images are shown, so a text-only add keeps the smaller schema)."""
    items = schema["properties"]["facts"]["items"]
    facts = {**schema["properties"]["facts"], "items": {
        **items, "properties": {**items["properties"], "image": {"type": "boolean"}},
        "required": [*items["required"], "image"]}}
    return {**schema, "properties": {**schema["properties"], "facts": facts}}


def extraction_schema(graph: bool, images: bool = False) -> dict[str, Any]:
    schema = EXTRACTION_SCHEMA if not graph else {
        **EXTRACTION_SCHEMA,
        "properties": {**EXTRACTION_SCHEMA["properties"], **GRAPH_EXTRACTION_PROPERTIES},
        "required": ["facts", "entities", "relations"]}
    return _with_image_flag(schema) if images else schema


def reconcile_schema(graph: bool) -> dict[str, Any]:
    if not graph:
        return RECONCILE_SCHEMA
    return {**RECONCILE_SCHEMA,
            "properties": {**RECONCILE_SCHEMA["properties"],
                           "invalidate": {"type": "array", "items": {"type": "integer"}}},
            "required": ["operations", "invalidate"]}


def _lenient(model: type[BaseModel], items: Any, what: str) -> list[Any]:
    out = []
    for item in items if isinstance(items, list) else []:
        try:
            out.append(model.model_validate(item))
        except ValidationError:
            log.warning("dropping malformed %s from LLM reply: %r", what, item)
    return out


def read_extraction(payload: dict[str, Any]) -> Extraction:
    """Facts (required) and, when present, entities and relations."""
    return Extraction(facts=read_facts(payload),
                      entities=_lenient(EntityMention, payload.get("entities"), "entity"),
                      relations=_lenient(Triple, payload.get("relations"), "relation"))


def _as_int(value: str) -> int | None:
    """An id written as text ("3", " 3 "); None for anything else (including "²", which
    str.isdigit() accepts and int() rejects)."""
    text = value.strip()
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdecimal()):
        return None
    return int(text)


def _invalidated(payload: dict[str, Any]) -> list[int]:
    """The "invalidate" ids of a reply (relations shown under small ids); junk dropped."""
    ids = payload.get("invalidate")
    invalidate: list[int] = []
    for i in ids if isinstance(ids, list) else []:
        value = i if isinstance(i, int) and not isinstance(i, bool) else \
            _as_int(i) if isinstance(i, str) else None
        if value is not None:
            invalidate.append(value)
    return invalidate


def read_decisions(payload: dict[str, Any]) -> Decisions:
    return Decisions(operations=read_operations(payload), invalidate=_invalidated(payload))


def read_decided_extraction(payload: dict[str, Any]) -> Extraction:
    """A single-call extraction reply: `read_extraction`'s, with each fact's decision
    (undecided where it has none or a malformed one) and the invalidated relations."""
    extraction = read_extraction(payload)
    kept = [item for item in _items(payload, "facts", ("memories", "memory"))
            if _fact_or_none(item) is not None]
    extraction.decisions = [_lenient_decision(item) for item in kept]
    extraction.invalidate = _invalidated(payload)
    return extraction


def _fact_or_none(item: Any) -> Fact | None:
    try:
        return Fact.model_validate({"text": item} if isinstance(item, str) else item)
    except ValidationError:
        return None


def _lenient_decision(item: Any) -> Decided:
    if not isinstance(item, dict):
        return Decided()
    try:
        return Decided.model_validate(item)
    except ValidationError:
        return Decided()


def decided_extraction_schema(graph: bool, images: bool = False) -> dict[str, Any]:
    """`extraction_schema` whose facts also carry "event" and "id" (the decision against
    the KNOWN memories), with the graph on also "invalidate" (KNOWN relation ids)."""
    schema = extraction_schema(graph, images)
    items = schema["properties"]["facts"]["items"]
    facts = {**schema["properties"]["facts"], "items": {
        **items, "properties": {**items["properties"], **DECISION_PROPERTIES},
        "required": [*items["required"], "event", "id"]}}
    properties = {**schema["properties"], "facts": facts}
    required = list(schema["required"])
    if graph:
        properties["invalidate"] = {"type": "array", "items": {"type": "integer"}}
        required.append("invalidate")
    return {**schema, "properties": properties, "required": required}
