"""Graph memory in the add pipeline: resolve the entities of extracted relations
against the scope's graph (by name, then by embedding similarity — no LLM), find the
existing relations they touch (chosen by kind, `by_kind`, when there are more than can
be shown), and turn the reconcile call's decisions into journal operations
(`RelationAdd`, `RelationInvalidate`).

Supersession is decided by the SAME reconcile call that reconciles facts, so turning the
graph on adds no LLM call. When the facts need no reconcile call, new relations are
added and nothing is invalidated; an exact repeat of a valid relation is not added twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from mem_integrations.core.config import GraphStoreConfig
from mem_integrations.core.graph.base import EntityRecord, GraphStore, RelationRecord, name_key
from mem_integrations.core.journal import RelationAdd, RelationInvalidate
from mem_integrations.core.models import Event, Relation
from mem_integrations.core.pipeline.schema import Extraction, Triple
from mem_integrations.core.providers.base import Embedder

MAX_CANDIDATES = 30
# the valid relations read around the entities of one add: the candidates are chosen from
# these by kind (`by_kind`), so that a user's old address is still among them after
# hundreds of newer relations
MAX_READ = 500


def by_kind(relations: list[RelationRecord], limit: int,
            first: set[tuple[str, str]] | None = None) -> list[RelationRecord]:
    """At most `limit` of `relations` (most recently updated first), chosen by kind
    (source id, relation): first the relations that are alone of their kind, those of the
    kinds in `first` before the others; then the newest of every other kind; then the
    rest.

    A kind with one valid relation ("lives_in") may be single-valued, and a new relation
    of that kind may supersede it: it stays among those shown however many relations of
    other kinds are newer. A kind with several valid relations at once ("likes") is not
    single-valued: its older ones can wait."""
    def kind(r: RelationRecord) -> tuple[str, str]:
        return r.source_id, r.relation

    counts = Counter(kind(r) for r in relations)
    wanted = first or set()
    chosen = sorted((r for r in relations if counts[kind(r)] == 1),
                    key=lambda r: kind(r) not in wanted)  # stable: newest first within
    seen = {kind(r) for r in chosen}
    for r in relations:
        if kind(r) not in seen:
            seen.add(kind(r))
            chosen.append(r)
    taken = {r.id for r in chosen}
    chosen += [r for r in relations if r.id not in taken]
    return chosen[:limit]


@dataclass
class Named:
    """Entities looked up by name before the extraction: the name keys searched, and the
    entities found, by name key."""

    searched: set[str] = field(default_factory=set)
    entities: dict[str, EntityRecord] = field(default_factory=dict)
    # every valid relation touching `entities`, most recently updated first (None: not
    # all were read)
    relations: list[RelationRecord] | None = None


@dataclass
class GraphDraft:
    """Resolved entities, new relations, and the existing relations shown to reconcile."""

    entities: dict[str, EntityRecord] = field(default_factory=dict)  # by name_key
    new: list[tuple[Triple, RelationRecord]] = field(default_factory=list)
    candidates: list[RelationRecord] = field(default_factory=list)
    vectors: dict[str, list[float]] = field(default_factory=dict)  # entity id -> embedding


class GraphPlanner:
    def __init__(self, store: GraphStore, embedder: Embedder, config: GraphStoreConfig,
                 new_id: Any) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self._new_id = new_id

    @staticmethod
    def entity_names(extraction: Extraction) -> dict[str, str]:
        """The entity names the extracted relations use, by name key (first spelling)."""
        names: dict[str, str] = {}
        for t in extraction.relations:
            if name_key(t.source) != name_key(t.target):
                names.setdefault(name_key(t.source), t.source)
                names.setdefault(name_key(t.target), t.target)
        return names

    async def known_entities(self, extraction: Extraction, scope: dict[str, str],
                             found: Named | None = None) -> dict[str, EntityRecord]:
        """The scope's entities the extracted relations name exactly, by name key: those
        of `found` (names looked up before), and one lookup for the other names."""
        names = self.entity_names(extraction)
        searched = found.searched if found else set()
        known = {k: e for k, e in found.entities.items() if k in names} if found else {}
        missing = [k for k in names if k not in searched]
        if missing:
            known.update((name_key(e.name), e) for e in await asyncio.to_thread(
                self.store.entities_named, scope, missing, exact=True))
        return known

    async def draft(self, extraction: Extraction, scope: dict[str, str],
                    name_vectors: dict[str, list[float]],
                    known: dict[str, EntityRecord], found: Named | None = None) -> GraphDraft:
        """Resolve entities and draft the relation writes. `known` are the entities named
        exactly (`known_entities`): they keep their stored embeddings. The other names'
        embeddings, by name key, are given (the caller embeds them in the same batch as
        the facts): they find an entity by similarity, or become new ones. `found`: what
        was looked up before, whose relations are not read again."""
        draft = GraphDraft()
        triples = [t for t in extraction.relations
                   if name_key(t.source) != name_key(t.target)]
        if not triples:
            return draft
        types = {name_key(e.name): e.type for e in extraction.entities}
        names = self.entity_names(extraction)
        unknown = [k for k in names if k not in known]
        similar = await asyncio.to_thread(
            self._similar, scope, [name_vectors[k] for k in unknown]) if unknown else []
        for key in names:
            entity = known.get(key)
            if entity is None:
                vector = name_vectors[key]
                entity = similar.pop(0) or EntityRecord(
                    self._new_id(), names[key], types.get(key, "entity"), dict(scope))
                draft.vectors[entity.id] = vector
            # an existing entity keeps its own scope: a write in a wider scope ({run_id})
            # that resolves to it must not re-scope it (delete_all would then miss it)
            draft.entities[key] = entity
        existing_ids = [e.id for k, e in draft.entities.items() if k in known or e.score]
        touching = self._read_before(found, existing_ids)
        if touching is None:
            touching = await asyncio.to_thread(self.store.relations_of, scope, existing_ids,
                                               limit=MAX_READ, exact=True)
        present = {(r.source_id, r.relation, r.target_id) for r in touching}
        for t in triples:
            source, target = draft.entities[name_key(t.source)], draft.entities[name_key(t.target)]
            if (source.id, t.relation, target.id) in present:
                continue  # already known and valid: nothing to add, nothing to ask
            present.add((source.id, t.relation, target.id))
            draft.new.append((t, RelationRecord(
                id=self._new_id(), source_id=source.id, source=source.name, relation=t.relation,
                target_id=target.id, target=target.name, scope=dict(scope))))
        sources = {record.source_id for _, record in draft.new}
        draft.candidates = by_kind([r for r in touching if r.source_id in sources],
                                   MAX_CANDIDATES,
                                   {(r.source_id, r.relation) for _, r in draft.new})
        return draft

    @staticmethod
    def _read_before(found: Named | None, ids: list[str]) -> list[RelationRecord] | None:
        """The valid relations touching `ids` as `relations_of` returns them, when `found`
        read them all already; None when they must be read."""
        if found is None or found.relations is None:
            return None
        read = {e.id for e in found.entities.values()}
        if not read.issuperset(ids):
            return None
        wanted = set(ids)
        return [r for r in found.relations if r.source_id in wanted or r.target_id in wanted]

    def _similar(self, scope: dict[str, str], vectors: list[list[float]]
                 ) -> list[EntityRecord | None]:
        """For each name embedding, the scope's most similar entity above the resolution
        threshold, or None (one worker thread for them all)."""
        found = []
        for vector in vectors:
            similar = self.store.similar_entities(
                scope, vector, limit=1, threshold=self.config.resolution_threshold, exact=True)
            found.append(similar[0] if similar else None)
        return found

    @staticmethod
    def as_triples(records: list[RelationRecord]) -> list[Triple]:
        return [Triple(source=r.source, relation=r.relation, target=r.target) for r in records]

    @staticmethod
    def operations(draft: GraphDraft, invalidate: list[int], at: str | None = None
                   ) -> tuple[list[RelationAdd | RelationInvalidate], list[Relation]]:
        """The writes for the draft and the reconcile call's decisions (indices into
        `draft.candidates`; unknown and repeated ones are ignored), and the events
        reported to the caller. `at` is the add's event time: new relations are valid
        from it and the invalidated ones end at it (`core.validity`)."""
        ops: list[RelationAdd | RelationInvalidate] = []
        events: list[Relation] = []
        by_id = {e.id: e for e in draft.entities.values()}
        for _, record in draft.new:
            record = replace(record, valid_from=at)
            ops.append(RelationAdd(record, by_id[record.source_id], by_id[record.target_id]))
            events.append(Relation(source=record.source, relationship=record.relation,
                                   destination=record.target, event=Event.ADD))
        seen: set[int] = set()
        for index in invalidate:
            if 0 <= index < len(draft.candidates) and index not in seen:
                seen.add(index)
                old = draft.candidates[index]
                ops.append(RelationInvalidate(old.id, old.describe(), at))
                events.append(Relation(source=old.source, relationship=old.relation,
                                       destination=old.target, event=Event.DELETE))
        return ops, events
