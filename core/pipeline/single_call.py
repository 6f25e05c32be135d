"""The single-call add (`reconcile.mode = "single_call"`): find what the new messages may
touch BEFORE the LLM call, and let the ONE extraction call also decide.

1. Known memories: the messages' sentences, and each message of several sentences as a
   whole, are embedded in one batch and searched in one batched neighbour search (the
   scope's current memories, the reconcile threshold); the hits are de-duplicated,
   closest first, at most `reconcile.max_shown`. With the graph on, the valid relations
   of the entities the messages name are found too.
2. One extraction call shows them under small integer ids (texts only) and its reply
   carries the facts, each with ADD / UPDATE(id) / DELETE(id) / NONE(id), and with the graph
   the relations and the ids of known relations they supersede.
3. A fact the LLM ADDed whose close neighbour (the two-call add's neighbour search) was
   NOT shown, and a fact the reply left undecided, go to a second, small reconcile call
   with their neighbours — or with `reconcile.unseen_neighbours = "add"` the ADD stands.

So a new user's add is one call, and an add touching what is known is one call whenever
what it touches was found from the messages; the decisions are the same as the two-call
add's whenever the memories a fact is compared with were shown. It runs under the scope's
write lock (the LLM decides on what it was shown, so nothing may change meanwhile); other
scopes are not held up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from mem_integrations.core.graph.base import GraphStore, RelationRecord, name_key
from mem_integrations.core.messages import Message
from mem_integrations.core.models import Event
from mem_integrations.core.pipeline.add import AddContext, AddPlanner, Plan
from mem_integrations.core.pipeline.extractor import describe
from mem_integrations.core.pipeline.graph import (
    MAX_CANDIDATES,
    MAX_READ,
    GraphDraft,
    GraphPlanner,
    Named,
    by_kind,
)
from mem_integrations.core.pipeline.offline import split_sentences
from mem_integrations.core.pipeline.schema import Decided, Extraction, Fact, Operation
from mem_integrations.core.records import DATA, HASH
from mem_integrations.core.stores.base import Hit

__all__ = ["Known", "SingleCallPlanner"]

# the texts searched for one add: a long transcript's first ones are enough to find what
# it is about, and the embedding batch stays small
MAX_SENTENCES = 48
MAX_QUERIES = 64
MAX_NAME_WORDS = 4
USER_ENTITY = "user"


@dataclass
class Known:
    """What the LLM is shown: memories and relations, ids 0..n-1 in these orders."""

    hits: list[Hit] = field(default_factory=list)
    relations: list[RelationRecord] = field(default_factory=list)
    named: Named = field(default_factory=Named)  # the entities the messages name


def sentences_and_queries(messages: list[Message]) -> tuple[list[str], list[str]]:
    """The messages' sentences, each once, in order, at most `MAX_SENTENCES` (the names
    they use are looked up in the graph); and the texts the known memories are searched
    with, each once, in order, at most `MAX_QUERIES`: every sentence, and after its
    sentences a message of several as a whole, since a fact often sums up a message (one
    sentence alone misses what it is about)."""
    sentences: dict[str, None] = {}
    queries: dict[str, None] = {}
    for message in messages:
        content = (message.get("content") or "").strip()
        split = split_sentences(content)
        for sentence in split:
            sentences.setdefault(sentence, None)
            queries.setdefault(sentence, None)
        if len(split) > 1:
            queries.setdefault(content, None)
    return list(sentences)[:MAX_SENTENCES], list(queries)[:MAX_QUERIES]


def name_grams(sentences: list[str]) -> list[str]:
    """Every run of up to four words, as entity name keys: the names the text may use,
    and "user", the entity the extraction prompt names the speaker by ("I", "my")."""
    grams: dict[str, None] = {USER_ENTITY: None}
    for sentence in sentences:
        words = name_key("".join(c if c.isalnum() or c in "'-" else " "
                                 for c in sentence)).split()
        for n in range(1, MAX_NAME_WORDS + 1):
            for i in range(len(words) - n + 1):
                grams.setdefault(" ".join(words[i:i + n]), None)
    return list(grams)


class SingleCallPlanner:
    """Plans an add in one LLM call (see the module's docstring), with `planner`'s steps
    for everything after the decisions."""

    def __init__(self, planner: AddPlanner, graph_store: GraphStore | None) -> None:
        self.planner = planner
        self.graph_store = graph_store

    async def plan(self, messages: list[Message], ctx: AddContext, *,
                   prompt: str | None = None) -> Plan:
        """Find the known memories, make the one extraction call, and plan the writes.
        Call it under the scope's write lock."""
        known = await self.known(messages, ctx)
        graph = self.graph_store is not None
        extraction = await self.planner.extractor.extract(
            messages, prompt=prompt, graph=graph,
            known=[h.payload.get(DATA, "") for h in known.hits],
            known_relations=[describe(t) for t in GraphPlanner.as_triples(known.relations)]
            if graph else None)
        return await self.decide(extraction, ctx, known)

    async def known(self, messages: list[Message], ctx: AddContext) -> Known:
        """The memories (and relations) the messages may touch: one embedding batch of
        their sentences and longer messages, one batched neighbour search, the entities
        their sentences name."""
        sentences, queries = sentences_and_queries(messages)
        if not sentences:
            return Known()
        # the graph's lookups need no embedding: they run meanwhile
        found, (named, relations) = await asyncio.gather(
            self._memories(queries, ctx), self._relations(sentences, ctx))
        best: dict[str, Hit] = {}
        for hits in found:
            for hit in hits:
                if hit.id not in best or hit.score > best[hit.id].score:
                    best[hit.id] = hit
        shown: list[Hit] = []
        texts: set[str | None] = set()
        for hit in sorted(best.values(), key=lambda h: -h.score):
            if hit.payload.get(HASH) not in texts:  # the same text is shown once
                texts.add(hit.payload.get(HASH))
                shown.append(hit)
        return Known(hits=shown[:self.planner.config.max_shown], relations=relations,
                     named=named)

    async def _memories(self, queries: list[str], ctx: AddContext) -> list[list[Hit]]:
        """Each query's neighbours: one embedding batch, one batched search."""
        vectors = await self.planner.embedder.embed(queries, "document")
        return await self.planner.neighbours(vectors, ctx, self.planner.config.per_sentence)

    async def _relations(self, sentences: list[str], ctx: AddContext
                         ) -> tuple[Named, list[RelationRecord]]:
        if self.graph_store is None:
            return Named(), []
        store = self.graph_store
        grams = name_grams(sentences)
        found = await asyncio.to_thread(store.entities_named, ctx.scope, grams, exact=True)
        named = Named(set(grams), {name_key(e.name): e for e in found}, [])
        if not found:
            return named, []
        read = await asyncio.to_thread(store.relations_of, ctx.scope,
                                       [e.id for e in found], limit=MAX_READ, exact=True)
        # all of them unless the limit cut the list: the graph draft then reads no more
        named.relations = read if len(read) < MAX_READ else None
        return named, by_kind(read, min(self.planner.config.max_shown, MAX_CANDIDATES))

    async def decide(self, extraction: Extraction, ctx: AddContext, known: Known) -> Plan:
        """The writes for a single-call extraction: its decisions applied to the memories
        shown; undecided facts, and added ones with a close neighbour that was not shown,
        reconciled in a second call."""
        planner = self.planner
        plan = Plan()
        fresh = await planner._fresh(extraction.facts, ctx.scope_filter)
        facts = [fact for _, fact in fresh]
        decided = [extraction.decisions[i] if i < len(extraction.decisions) else Decided()
                   for i, _ in fresh]
        vectors, draft = await planner.embed_and_draft(extraction, facts, ctx, known.named)
        neighbours = await self._neighbours(facts, vectors, decided, ctx)
        operations, later = self._sort(facts, decided, neighbours, known)
        await planner._apply_operations(plan, ctx, operations, known.hits, facts, vectors)
        invalidate: list[int] = []
        if draft is not None:
            invalidate = self._superseded(draft, known.relations, extraction.invalidate)
        # A reply that decided nothing (nothing was shown, or the LLM ignored the request)
        # leaves the relations to the second call too, as in the two-call add.
        undecided = all(d.event is None for d in decided)
        invalidate += await self._second_call(
            plan, ctx, [fresh[i] for i in later], [vectors[i] for i in later],
            [neighbours[i] for i in later], draft if undecided else None)
        if draft is not None:
            planner.graph_writes(plan, ctx, draft, invalidate)
        return plan

    async def _neighbours(self, facts: list[Fact], vectors: list[list[float]],
                          decided: list[Decided], ctx: AddContext) -> dict[int, list[Hit]]:
        """The two-call add's neighbours, for the facts whose decision may rest on what was
        not shown (ADD) or that have none; one batched search."""
        check = [i for i, d in enumerate(decided) if d.event in (None, Event.ADD)]
        if not check:
            return {}
        found = await self.planner.neighbours([vectors[i] for i in check], ctx)
        return dict(zip(check, found, strict=True))

    def _sort(self, facts: list[Fact], decided: list[Decided],
              neighbours: dict[int, list[Hit]], known: Known
              ) -> tuple[list[Operation], list[int]]:
        """The operations the reply decided, and the facts left for a second call."""
        shown = {h.id for h in known.hits}
        reconcile_unseen = self.planner.config.unseen_neighbours == "reconcile"
        close = self.planner.config.close_neighbour
        operations: list[Operation] = []
        later: list[int] = []
        for i, (fact, decision) in enumerate(zip(facts, decided, strict=True)):
            if decision.event is None:  # undecided: as in the two-call add
                if neighbours[i]:
                    later.append(i)
                else:
                    operations.append(Operation(event=Event.ADD, text=fact.text))
            elif decision.event is Event.ADD:
                unseen = any(h.id not in shown and h.score >= close for h in neighbours[i])
                if unseen and reconcile_unseen:
                    later.append(i)
                else:
                    operations.append(Operation(event=Event.ADD, text=fact.text))
            else:
                operations.append(Operation(event=decision.event, id=decision.id,
                                            text=fact.text))
        return operations, later

    async def _second_call(self, plan: Plan, ctx: AddContext, facts: list[tuple[int, Fact]],
                           vectors: list[list[float]], neighbours: list[list[Hit]],
                           draft: GraphDraft | None) -> list[int]:
        """Reconcile `facts` (with their index in the extraction) with their neighbours
        (those the first call did not change) in one small call, with `draft`'s relations
        when given; a fact left with none is added. The draft candidates to invalidate."""
        changed = {getattr(op, "memory_id", None) for op in plan.ops}
        neighbours = [[h for h in hits if h.id not in changed] for hits in neighbours]
        related = [i for i, hits in enumerate(neighbours) if hits]
        for i, hits in enumerate(neighbours):
            if not hits:
                fact = facts[i][1]
                self.planner._add(plan, ctx, fact.text, vectors[i], fact.categories, fact.quote)
        if not related:
            return []
        position = {facts[i][0]: p for p, i in enumerate(related)}
        return await self.planner._reconcile(
            plan, ctx, [facts[i][1] for i in related], [vectors[i] for i in related],
            [neighbours[i] for i in related], draft, position)

    @staticmethod
    def _superseded(draft: GraphDraft, shown: list[RelationRecord], ids: list[int]
                    ) -> list[int]:
        """The reply's "invalidate" (ids of the relations shown) as indices into
        `draft.candidates`, which the shown ones join; unknown ids are ignored."""
        position = {r.id: i for i, r in enumerate(draft.candidates)}
        indices: list[int] = []
        for index in ids:
            if not 0 <= index < len(shown):
                continue
            record = shown[index]
            if record.id not in position:
                position[record.id] = len(draft.candidates)
                draft.candidates.append(record)
            indices.append(position[record.id])
        return indices
