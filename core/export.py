"""Getting memories out: filled into a schema by the LLM (mem0's memory export), or
written as JSONL for backups and moves between machines.

`AsyncMemory.export` / `export_jsonl` / `import_jsonl` are the public entries; this module
does the work, so the engine file only forwards to it.

The JSONL file holds one JSON object a line, each with a `type`: a `header` first (format
and version), then every `memory` (as `get` returns it: id, text, hash, metadata,
categories, scope, times), every `history` entry of those memories, and with the graph on
every `relation` of their scopes. Importing writes memories under their own ids and
history entries under theirs (`core.imports`), so importing a file twice leaves one copy.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from mem_integrations.core.errors import ConfigurationError, InvalidInputError, LLMResponseError
from mem_integrations.core.graph.base import RelationRecord
from mem_integrations.core.imports import (
    ImportedMemory,
    ImportedRelation,
    import_records,
    import_relations,
)
from mem_integrations.core.models import HistoryEntry, MemoryItem
from mem_integrations.core.pipeline.extractor import LLMExtractor
from mem_integrations.core.scope import SCOPE_KEYS

if TYPE_CHECKING:
    from mem_integrations.core.async_memory import AsyncMemory

__all__ = ["FORMAT", "JsonlImport", "export_jsonl", "fill_schema", "import_jsonl"]

FORMAT = "mem-integrations.jsonl"
VERSION = 1

EXPORT_INSTRUCTIONS = """\
You fill a JSON object of the given schema from what is known about a user, agent or \
run: their MEMORIES, one per line with the date it was recorded. Use only what the \
memories say; when they disagree, the newer one wins. A field nothing supports stays \
null (or an empty list); never invent values."""


def _schema_of(schema: type[BaseModel] | dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The JSON schema and its name, from a pydantic model class or a JSON schema dict."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema(), schema.__name__
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        name = str(schema.get("title") or "export")
        return schema, "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
    raise InvalidInputError(
        "schema must be a pydantic model class or a JSON schema dict with 'properties', "
        f"got {type(schema).__name__}: pass e.g. schema=Profile or "
        '{"type": "object", "properties": {"name": {"type": "string"}}}')


async def fill_schema(extractor: Any, items: list[MemoryItem],
                      schema: type[BaseModel] | dict[str, Any],
                      instructions: str | None) -> BaseModel | dict[str, Any]:
    """ONE LLM call filling `schema` from `items`: a model instance for a model class, the
    parsed dict for a JSON schema."""
    json_schema, name = _schema_of(schema)
    if not isinstance(extractor, LLMExtractor):
        raise ConfigurationError(
            "export to a schema needs an LLM, and the offline extractor is in use: configure "
            "one (OPENAI_API_KEY, or llm={'base_url': ..., 'model': ...}) or pass chat_model=")
    listed = "\n".join(f"- [{(i.updated_at or i.created_at or datetime.now(UTC)).date()}] "
                       f"{i.memory}" for i in items) or "(none)"
    system = EXPORT_INSTRUCTIONS + (f"\n\n{instructions}" if instructions else "")
    system += f"\n\nReply with JSON only, matching this schema:\n{json.dumps(json_schema)}"
    payload = await extractor.ask_json(
        [{"role": "system", "content": system}, {"role": "user", "content": f"MEMORIES:\n{listed}"}],
        json_schema, name)
    if isinstance(schema, dict):
        return payload
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        raise LLMResponseError(f"the LLM's export does not fit {name}: {exc}",
                               raw=json.dumps(payload)) from exc


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str) + "\n"


async def export_jsonl(memory: AsyncMemory, path: Path, items: list[MemoryItem],
                       scope: dict[str, str] | None) -> int:
    """Write `items` (the memories of `scope`, None for all), the scope's whole history —
    deleted memories' included — and (graph on) the relations of the items' scopes to
    `path`; returns how many memories were written. Written to a temporary file first and
    moved into place, so a crash never leaves a half backup under the name asked for."""
    scopes = {tuple((k, v) for k in SCOPE_KEYS if (v := getattr(i, k))) for i in items}
    history = await asyncio.to_thread(memory.history_store.scope_history, scope)
    relations: list[RelationRecord] = []
    if memory.graph is not None:
        for scope in sorted(scopes):
            relations += await asyncio.to_thread(memory.graph.all_relations, dict(scope))
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        out.write(_line({"type": "header", "format": FORMAT, "version": VERSION,
                         "exported_at": datetime.now(UTC).isoformat(),
                         "embedding_model": memory.embedder.model_name}))
        for item in items:
            out.write(_line({"type": "memory", **item.model_dump(mode="json")}))
        for entry in history:
            out.write(_line({"type": "history", **entry.model_dump(mode="json")}))
        for r in relations:
            out.write(_line({"type": "relation", "id": r.id, "source_id": r.source_id,
                             "source": r.source, "relation": r.relation,
                             "target_id": r.target_id, "target": r.target,
                             "created_at": r.created_at, "updated_at": r.updated_at,
                             **r.scope}))
    partial.replace(path)
    return len(items)


class JsonlImport(BaseModel):
    """What `import_jsonl` wrote."""

    memories: int = 0
    history_new: int = 0
    history_present: int = 0
    relations: int = 0


def _read(path: Path
          ) -> tuple[list[ImportedMemory], list[HistoryEntry], list[ImportedRelation]]:
    """Every record of the file, validated before anything is written."""
    memories: list[ImportedMemory] = []
    history: list[HistoryEntry] = []
    relations: list[ImportedRelation] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                kind = record.pop("type", None)
                if number == 1 and (kind != "header" or record.get("format") != FORMAT):
                    raise InvalidInputError(f"{path} is not a {FORMAT} file (no header line): "
                                            "write one with export_jsonl")
                if kind == "memory":
                    memories.append(ImportedMemory(text=record.pop("memory"), **record))
                elif kind == "history":
                    history.append(HistoryEntry.model_validate(record))
                elif kind == "relation":
                    relations.append(ImportedRelation.model_validate(record))
                elif kind != "header":
                    raise InvalidInputError(f"unknown record type {kind!r}")
            except (ValueError, KeyError, TypeError) as exc:  # ValidationError is a ValueError
                raise InvalidInputError(f"{path}, line {number}: {exc}") from None
    return memories, history, relations


async def import_jsonl(memory: AsyncMemory, path: Path) -> JsonlImport:
    """Read a file `export_jsonl` wrote and write it all back under its own ids."""
    memories, history, relations = _read(path)
    done = await import_records(memory, memories, history)
    result = JsonlImport(memories=done.memories, history_new=done.history_new,
                         history_present=done.history_present)
    if relations and memory.graph is not None:
        result.relations = await import_relations(memory, relations)
    return result
