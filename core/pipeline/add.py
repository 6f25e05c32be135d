"""The add pipeline after extraction: de-duplicate, embed, find neighbours, reconcile, and
plan the writes. The plan is journaled, applied and confirmed by `core.writer`.

LLM calls: extraction is one call (made by the caller); this module makes at most ONE
more, the reconcile call, and only when some fact has a neighbour close enough to be an
update or a contradiction. Exact repeats are dropped by content hash without asking.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from mem_integrations.core.config import ReconcileConfig
from mem_integrations.core.filters import Condition, FilterNode, all_of
from mem_integrations.core.journal import MemoryClose, MemoryUpsert
from mem_integrations.core.messages import Message
from mem_integrations.core.models import Event, MemoryEvent, Relation
from mem_integrations.core.pipeline.extractor import Extractor, ReconcileInput
from mem_integrations.core.pipeline.graph import GraphDraft, GraphPlanner, Named
from mem_integrations.core.pipeline.schema import Extraction, Fact, Operation, Triple
from mem_integrations.core.providers.base import Embedder
from mem_integrations.core.records import (
    ACTOR_ID,
    CATEGORIES,
    CREATED_AT,
    DATA,
    HASH,
    MEMORY_TYPE,
    METADATA,
    PROCEDURAL,
    ROLE,
    SOURCE_ADDS,
    VALID_FROM,
    content_hash,
    embedded_text,
    make_payload,
    payload_scope,
)
from mem_integrations.core.sources import add_sources, locate, said_at, traced
from mem_integrations.core.stores.base import Hit, SearchRequest, VectorStore
from mem_integrations.core.turn_context import with_context
from mem_integrations.core.validity import closed, current, event_time, iso, successor
from mem_integrations.core.writer import Writes

log = logging.getLogger(__name__)

NOT_PROCEDURAL = Condition(MEMORY_TYPE, "ne", PROCEDURAL)


@dataclass
class Plan(Writes):
    """The writes of one add (operations and vectors) and the events reported to the
    caller."""

    events: list[MemoryEvent] = field(default_factory=list)
    relations: list[Relation] | None = None


@dataclass(frozen=True)
class Verbatim:
    """A text stored as given (`infer=False`, or a procedure's summary), with the role
    and name of the message it came from."""

    text: str
    role: str | None = None
    actor_id: str | None = None


def _answers(item: Verbatim, previous: Verbatim) -> bool:
    """Whether a message is a turn answering the one before it: the other side speaks
    (another role or name). Messages of one speaker in a row are separate statements,
    each embedded alone (`core.turn_context`)."""
    return (item.role, item.actor_id) != (previous.role, previous.actor_id)


@dataclass
class AddContext:
    scope: dict[str, str]
    scope_filter: FilterNode | None
    metadata: dict[str, Any] | None
    now: datetime
    role: str | None = None
    actor_id: str | None = None
    memory_type: str | None = None
    # what the memories are dated and sourced by (core.sources): the add's messages, and
    # its id (None: the memories get no source)
    messages: list[Message] = field(default_factory=list)
    add_id: str | None = None


def _vector(hit: Hit) -> list[float]:
    if hit.vector is None:  # _with_vectors read it under the scope's lock
        raise RuntimeError(f"memory {hit.id} has no stored vector")
    return hit.vector


class AddPlanner:
    """Turns extracted facts (or verbatim texts) into a `Plan`."""

    def __init__(self, extractor: Extractor, embedder: Embedder, store: VectorStore,
                 reconcile: ReconcileConfig, new_id: Any,
                 graph: GraphPlanner | None = None, turn_context: bool = True) -> None:
        self.extractor = extractor
        self.turn_context = turn_context
        self.embedder = embedder
        self.store = store
        self.config = reconcile
        self.graph = graph
        self._new_id = new_id

    async def _hash_owners(self, hashes: list[str], scope_filter: FilterNode | None
                           ) -> dict[str, str]:
        """Content hash -> id of a memory of the scope that holds it now (a fact that was
        true once and is again is a new memory: its past stays as it was)."""
        if not hashes:
            return {}
        where = all_of(scope_filter, current(), Condition(HASH, "in", list(set(hashes))))
        hits, _ = await asyncio.to_thread(self.store.scroll, where, limit=len(hashes) * 4)
        return {h.payload.get(HASH): h.id for h in hits}

    async def _fresh(self, facts: list[Fact], scope_filter: FilterNode | None
                     ) -> list[tuple[int, Fact]]:
        """Facts (with their index in the extraction) that are neither repeated in this
        batch nor already stored verbatim."""
        unique: dict[str, tuple[int, Fact]] = {}
        for index, fact in enumerate(facts):
            unique.setdefault(content_hash(fact.text), (index, fact))
        known = await self._hash_owners(list(unique), scope_filter)
        if known:
            log.debug("dropping %d exact repeat(s) without asking the LLM", len(known))
        return [item for h, item in unique.items() if h not in known]

    async def plan(self, source: Extraction | list[Verbatim], ctx: AddContext) -> Plan:
        """The writes for extracted facts (embed, neighbours, reconcile) or for verbatim
        texts. Call it under the scope's write lock: it reads what the writes are
        decided on."""
        if isinstance(source, Extraction):
            return await self._plan_facts(source, ctx)
        return await self._plan_verbatim(source, ctx)

    async def _plan_facts(self, extraction: Extraction, ctx: AddContext) -> Plan:
        plan = Plan()
        fresh = await self._fresh(extraction.facts, ctx.scope_filter)
        facts = [fact for _, fact in fresh]
        vectors, draft = await self.embed_and_draft(extraction, facts, ctx)
        invalidate: list[int] = []
        if fresh:
            # only what is valid now is reconciled; the vectors are kept with a
            # superseded memory's past version
            neighbours = await self.neighbours(vectors, ctx)
            for i, hits in enumerate(neighbours):
                if not hits:
                    self._add(plan, ctx, facts[i].text, vectors[i], facts[i].categories,
                              facts[i].quote)
            related = [i for i, hits in enumerate(neighbours) if hits]
            if related:
                position = {fresh[i][0]: p for p, i in enumerate(related)}
                invalidate = await self._reconcile(
                    plan, ctx, [facts[i] for i in related], [vectors[i] for i in related],
                    [neighbours[i] for i in related], draft, position)
        if draft is not None:
            self.graph_writes(plan, ctx, draft, invalidate)
        return plan

    async def embed_and_draft(self, extraction: Extraction, facts: list[Fact], ctx: AddContext,
                              named: Named | None = None
                              ) -> tuple[list[list[float]], GraphDraft | None]:
        """The facts' vectors and, with the graph on, the draft of its writes: ONE
        embedding batch for the facts and the names of entities not stored yet (`named`:
        entities looked up by name before, see `GraphPlanner.known_entities`)."""
        if self.graph is None:
            return await self.embedder.embed([f.text for f in facts], "document") \
                if facts else [], None
        known = await self.graph.known_entities(extraction, ctx.scope, named)
        names = {k: n for k, n in GraphPlanner.entity_names(extraction).items()
                 if k not in known}
        texts = [f.text for f in facts] + list(names.values())
        embedded = await self.embedder.embed(texts, "document") if texts else []
        draft = await self.graph.draft(extraction, ctx.scope, dict(zip(
            names, embedded[len(facts):], strict=True)), known, named)
        return embedded[:len(facts)], draft

    async def neighbours(self, vectors: list[list[float]], ctx: AddContext,
                         limit: int | None = None) -> list[list[Hit]]:
        """For each vector, the scope's current memories close enough to reconcile with
        (`limit`, by default `reconcile.neighbours_per_fact`, at most, above
        `neighbour_threshold`), best first, with their vectors: one batched search."""
        return await asyncio.to_thread(self.store.search_batch, [
            SearchRequest(limit=limit or self.config.neighbours_per_fact, dense=v,
                          filter=all_of(ctx.scope_filter, NOT_PROCEDURAL, current()),
                          score_threshold=self.config.neighbour_threshold, with_vectors=True)
            for v in vectors])

    @staticmethod
    def graph_writes(plan: Plan, ctx: AddContext, draft: GraphDraft, invalidate: list[int]
                     ) -> None:
        """Add the draft's relations and the invalidation of `invalidate` (indices into
        `draft.candidates`) to `plan`, when there is any."""
        if not (draft.new or invalidate):
            return
        said = said_at(ctx.messages, None) or ctx.now
        ops, events = GraphPlanner.operations(draft, invalidate, iso(said))
        plan.ops.extend(ops)
        plan.vectors.update(draft.vectors)
        plan.relations = events

    async def _reconcile(self, plan: Plan, ctx: AddContext, facts: list[Fact],
                         vectors: list[list[float]], neighbours: list[list[Hit]],
                         draft: GraphDraft | None, position: dict[int, int]) -> list[int]:
        """One reconcile call; returns the indices of draft candidates to invalidate."""
        known: dict[str, int] = {}
        hits: list[Hit] = []
        for fact_hits in neighbours:
            for hit in fact_hits:
                if hit.id not in known:
                    known[hit.id] = len(hits)
                    hits.append(hit)
        data = ReconcileInput(
            existing=[h.payload.get(DATA, "") for h in hits], facts=facts,
            neighbours=[[(known[h.id], h.score) for h in fact_hits] for fact_hits in neighbours],
        )
        if draft is not None:
            data.relations = GraphPlanner.as_triples(draft.candidates)
            data.new_relations = [
                Triple(source=t.source, relation=t.relation, target=t.target,
                       fact=position.get(t.fact) if t.fact is not None else None)
                for t, _ in draft.new]
        decisions = await self.extractor.reconcile(data)
        await self._apply_operations(plan, ctx, decisions.operations, hits, facts, vectors)
        return decisions.invalidate if draft is not None else []

    async def _with_vectors(self, hits: list[Hit]) -> list[Hit]:
        """`hits` with their vectors: a memory kept (closed, a past version, one more
        source) is written again with its own."""
        missing = [h.id for h in hits if h.vector is None]
        if not missing:
            return hits
        found = {h.id: h.vector for h in await asyncio.to_thread(
            self.store.retrieve, missing, with_vectors=True)}
        return [h if h.vector is not None else replace(h, vector=found.get(h.id))
                for h in hits]

    async def _apply_operations(self, plan: Plan, ctx: AddContext, operations: list[Operation],
                                hits: list[Hit], facts: list[Fact],
                                vectors: list[list[float]]) -> None:
        hits = await self._with_vectors(hits)
        by_text = {f.text: (f, v) for f, v in zip(facts, vectors, strict=True)}
        touched: set[int] = set()
        # content that stays stored: not the memories this reply deletes
        doomed = {op.id for op in operations if op.event is Event.DELETE}
        seen_hashes = {h.payload.get(HASH) for i, h in enumerate(hits) if i not in doomed}
        to_embed: list[tuple[Operation, Hit | None]] = []
        for op in operations:
            target = None
            if op.event in (Event.UPDATE, Event.DELETE, Event.NONE):
                if op.id is None or not 0 <= op.id < len(hits) or op.id in touched:
                    if op.event is not Event.NONE:
                        log.warning("ignoring %s of unknown or repeated id %r", op.event.value, op.id)
                    continue
                touched.add(op.id)
                target = hits[op.id]
            if op.event is Event.NONE:
                self._said_again(plan, ctx, target, op.text)
                continue
            if op.event is Event.DELETE:
                self._delete(plan, target, ctx)
                continue
            text = (op.text or "").strip()
            if not text:
                log.warning("ignoring %s without text", op.event.value)
                continue
            digest = content_hash(text)
            if op.event is Event.UPDATE and digest == target.payload.get(HASH):
                continue  # an UPDATE to the same content changes nothing
            if digest in seen_hashes:
                if op.event is Event.ADD:
                    continue  # the LLM re-added something already stored
                # An UPDATE to content another memory (or this batch) already holds would
                # store it twice: the target is redundant instead.
                self._delete(plan, target, ctx)
                continue
            seen_hashes.add(digest)
            to_embed.append((op, target))
        # The LLM may also write a text that is stored in the scope but was not shown to it
        # (not a neighbour of any fact): hash de-duplication covers the whole scope.
        owners = await self._hash_owners([content_hash(op.text.strip()) for op, _ in to_embed],
                                         ctx.scope_filter)
        deleted = {op.memory_id for op in plan.ops if isinstance(op, MemoryClose)}
        kept: list[tuple[Operation, Hit | None]] = []
        for op, target in to_embed:
            owner = owners.get(content_hash(op.text.strip()))
            owner = None if owner in deleted else owner
            if owner is None or (target is not None and owner == target.id):
                kept.append((op, target))
            elif op.event is Event.UPDATE:
                self._delete(plan, target, ctx)
        to_embed = kept
        missing = [op.text.strip() for op, _ in to_embed if op.text.strip() not in by_text]
        extra = dict(zip(missing, await self.embedder.embed(missing, "document"), strict=True)) \
            if missing else {}
        for op, target in to_embed:
            text = op.text.strip()
            fact, vector = by_text.get(text, (None, extra.get(text)))
            categories = fact.categories if fact else []
            quote = fact.quote if fact else None
            if op.event is Event.ADD:
                self._add(plan, ctx, text, vector, categories, quote)
            else:
                self._update(plan, ctx, target, text, vector, categories, quote)

    @staticmethod
    def _traced(payload: dict[str, Any], ctx: AddContext, text: str, quote: str | None
                ) -> dict[str, Any]:
        return traced(payload, add_id=ctx.add_id, text=text, quote=quote,
                      messages=ctx.messages, now=ctx.now)

    def _add(self, plan: Plan, ctx: AddContext, text: str, vector: list[float],
             categories: list[str], quote: str | None = None) -> None:
        self._write_new(plan, self._new_id(), self._payload(ctx, text, categories, quote),
                        vector)

    def _payload(self, ctx: AddContext, text: str, categories: list[str],
                 quote: str | None = None) -> dict[str, Any]:
        return self._traced(make_payload(
            text, ctx.scope, now=ctx.now, metadata=ctx.metadata, categories=categories,
            role=ctx.role, actor_id=ctx.actor_id, memory_type=ctx.memory_type), ctx, text, quote)

    @staticmethod
    def _write_new(plan: Plan, memory_id: str, payload: dict[str, Any],
                   vector: list[float]) -> None:
        plan.ops.append(MemoryUpsert(memory_id, Event.ADD, None, payload))
        plan.vectors[memory_id] = vector
        plan.events.append(MemoryEvent(id=memory_id, memory=payload[DATA], event=Event.ADD))

    def _update(self, plan: Plan, ctx: AddContext, target: Hit, text: str, vector: list[float],
                categories: list[str], quote: str | None = None) -> None:
        """The memory keeps its id and takes the new text, dated and sourced by this add;
        what it said until now is kept as a past version under a new id, closed when the
        new fact began (`core.validity`), with its own sources."""
        old = target.payload
        metadata = {**(old.get(METADATA) or {}), **(ctx.metadata or {})} or None
        past_id = self._new_id()
        payload = successor(self._traced(make_payload(
            text, payload_scope(old), now=ctx.now, metadata=metadata,
            categories=[*(old.get(CATEGORIES) or []), *categories],
            role=old.get(ROLE), actor_id=old.get(ACTOR_ID),
            memory_type=old.get(MEMORY_TYPE), created_at=old.get(CREATED_AT)),
            ctx, text, quote), past_id)
        began = event_time(payload[VALID_FROM])
        assert began is not None  # traced() always dates it
        plan.ops.append(MemoryUpsert(past_id, Event.ADD, None,
                                     closed(old, at=began, by=target.id)))
        plan.vectors[past_id] = _vector(target)
        plan.ops.append(MemoryUpsert(target.id, Event.UPDATE, old.get(DATA), payload))
        plan.vectors[target.id] = vector
        plan.events.append(MemoryEvent(id=target.id, memory=text, event=Event.UPDATE,
                                       previous_memory=old.get(DATA)))

    @staticmethod
    def _said_again(plan: Plan, ctx: AddContext, target: Hit, text: str | None) -> None:
        """A fact already known: the memory stays as it is, and this add becomes one more
        of its sources (so `delete_source` of either add keeps it)."""
        if ctx.add_id is None or ctx.add_id in (target.payload.get(SOURCE_ADDS) or []):
            return
        index, quote = locate(text or target.payload.get(DATA, ""), None, ctx.messages)
        payload = add_sources(target.payload, ctx.add_id, index, quote, ctx.messages)
        plan.ops.append(MemoryUpsert(target.id, Event.UPDATE, payload.get(DATA), payload))
        plan.vectors[target.id] = _vector(target)

    def _delete(self, plan: Plan, target: Hit, ctx: AddContext) -> None:
        """A memory the new facts make false is closed, not removed: it stays for reads
        of the past (an explicit `delete()` removes)."""
        text = target.payload.get(DATA)
        at = said_at(ctx.messages, None) or ctx.now
        plan.ops.append(MemoryClose(target.id, closed(target.payload, at=at)))
        plan.vectors[target.id] = _vector(target)
        plan.events.append(MemoryEvent(id=target.id, memory=text or "", event=Event.DELETE))

    async def _plan_verbatim(self, texts: list[Verbatim], ctx: AddContext) -> Plan:
        """`infer=False` and procedural memories: store texts as given (exact repeats in
        the scope are still skipped), each embedded after the message before it
        (`core.turn_context`)."""
        plan = Plan()
        unique: dict[str, Verbatim] = {}
        said_before: dict[str, Verbatim] = {}
        previous: Verbatim | None = None
        for item in texts:
            text_hash = content_hash(item.text)
            if text_hash not in unique:
                unique[text_hash] = item
                if previous is not None and _answers(item, previous):
                    said_before[text_hash] = previous
            previous = item
        known = await self._hash_owners(list(unique), ctx.scope_filter)
        if len(known) == len(unique):
            return plan
        ids = {h: self._new_id() for h in unique if h not in known}
        payloads: list[tuple[str, dict[str, Any]]] = []
        for text_hash, item in unique.items():
            if text_hash in known:
                continue
            payload = self._payload(replace(ctx, role=item.role, actor_id=item.actor_id),
                                    item.text, [])
            prior = said_before.get(text_hash) if self.turn_context else None
            # only a turn new in this add: its deletion then finds this one in its scope
            if prior is not None and content_hash(prior.text) in ids:
                payload = with_context(payload, ids[content_hash(prior.text)], prior.text)
            payloads.append((ids[text_hash], payload))
        vectors = await self.embedder.embed([embedded_text(p) for _, p in payloads], "document")
        for (memory_id, payload), vector in zip(payloads, vectors, strict=True):
            self._write_new(plan, memory_id, payload, vector)
        return plan
