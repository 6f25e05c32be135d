"""The graph store interface and the Cypher both backends share.

Every query is parameterised: entity names, relation names and scope ids travel as
parameters, never inside the query text. The only things formatted into a query are
constants of this module (labels, property names from a fixed list), the integer
embedding dimension and integer LIMITs (`_limit`: LadybugDB takes ~2.5 ms more over a
`LIMIT $limit` than over a literal one). Relations are edges of ONE type (`MEMINT_REL`)
whose `relation` property holds the relation's name, so any text — quotes, backticks,
CJK, emoji — is just data. Labels are prefixed so that `reset()` touches only what this
library created.

Relations carry event time like memories (`core.validity`): `valid_from` (when the add
that learned them was said) and, once superseded, `valid_to`; edges written before event
time existed count as valid from `created_at` to `invalidated_at`. Reads see the
relations valid now, or `as_of` a time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from mem_integrations.core.scope import SCOPE_KEYS

ENTITY = "MemIntEntity"
RELATION = "MEMINT_REL"

_RELATION_COLUMNS = (
    "r.id AS id, a.id AS source_id, a.name AS source, r.relation AS relation, "
    "b.id AS target_id, b.name AS target, r.valid AS valid, r.created_at AS created_at, "
    "r.updated_at AS updated_at, r.invalidated_at AS invalidated_at, r.user_id AS user_id, "
    "r.agent_id AS agent_id, r.run_id AS run_id, "
    "coalesce(r.valid_from, r.created_at) AS valid_from, "
    "coalesce(r.valid_to, r.invalidated_at) AS valid_to"
)
# valid at $as_of: begun by then, not ended by then (ISO 8601 UTC strings compare in order)
_VALID_AT = ("coalesce(r.valid_from, r.created_at) <= $as_of AND "
             "(coalesce(r.valid_to, r.invalidated_at) IS NULL OR "
             "coalesce(r.valid_to, r.invalidated_at) > $as_of)")


@dataclass
class EntityRecord:
    id: str
    name: str
    type: str = "entity"
    scope: dict[str, str] = field(default_factory=dict)
    embedding: list[float] | None = None
    score: float = 0.0


@dataclass
class RelationRecord:
    id: str
    source_id: str
    source: str
    relation: str
    target_id: str
    target: str
    valid: bool = True
    created_at: str | None = None
    updated_at: str | None = None
    invalidated_at: str | None = None
    scope: dict[str, str] = field(default_factory=dict)
    valid_from: str | None = None  # event time (core.validity); None: since created_at
    valid_to: str | None = None

    def describe(self) -> str:
        return f"{self.source} --{self.relation}--> {self.target}"


def name_key(name: str) -> str:
    """How entity names are compared: case and spacing do not count."""
    return " ".join(name.lower().split())


class GraphStore(Protocol):
    """Synchronous; the async engine calls it from worker threads."""

    name: str

    def open(self, dimension: int) -> None: ...

    def entities_named(self, scope: dict[str, str], keys: list[str], *,
                       exact: bool = False) -> list[EntityRecord]:
        """Entities of the scope whose `name_key` is one of `keys`."""

    def similar_entities(self, scope: dict[str, str], vector: list[float], *, limit: int,
                         threshold: float, exact: bool = False) -> list[EntityRecord]:
        """Entities of the scope by cosine similarity of their name embedding, best first."""

    def relations_of(self, scope: dict[str, str], entity_ids: list[str], *,
                     limit: int, exact: bool = False, as_of: str | None = None
                     ) -> list[RelationRecord]:
        """Valid relations touching the entities (with `as_of`: valid then), most
        recently updated first."""

    def all_relations(self, scope: dict[str, str], *, as_of: str | None = None
                      ) -> list[RelationRecord]:
        """The scope's valid relations (with `as_of`, an ISO time: those valid then)."""

    # True when `write(..., durable=False)` may leave a write that only `checkpoint()` makes
    # safe from a crash (the embedded graph); False when each commit is (Neo4j)
    needs_checkpoint: bool

    def write(self, entities: list[EntityRecord], relations: list[RelationRecord],
              invalidate: list[str], now: str, *, ended: str | None = None,
              durable: bool = True) -> None:
        """Upsert entities and relations, mark relations invalid (their event time ended
        at `ended`, `now` when not given), in one transaction. Idempotent. With
        `durable=False` the write is committed (and read back) but, where
        `needs_checkpoint`, a crash may lose it until `checkpoint()` has run."""

    # after a crash lost writes since the last checkpoint (a torn log set aside on open):
    # the `replay_from` that checkpoint recorded; None otherwise
    replay_from: int | None

    def checkpoint(self, replay_from: int | None = None) -> None:
        """Make every write committed so far durable (see `needs_checkpoint`), recording
        `replay_from`: the journal seq from which the applied history's writes may be
        missing from what is now durable (`core.writer`)."""

    def delete_scope(self, scope: dict[str, str]) -> None: ...

    def reset(self) -> None:
        """Remove every node and edge this library created, and nothing else."""

    def close(self) -> None: ...


_ENTITY_SCOPE = "e.user_id AS user_id, e.agent_id AS agent_id, e.run_id AS run_id"


def _own_scope(row: dict[str, Any]) -> dict[str, str]:
    """An entity's own scope ids (not the query's: a query for {run_id} also finds the
    entities of (alice, run))."""
    return {k: row[k] for k in SCOPE_KEYS if row.get(k) is not None}


def _limit(limit: int) -> str:
    """A LIMIT clause: an integer, so it can be part of the query text."""
    return f"LIMIT {int(limit)}"


def scope_clause(alias: str, scope: dict[str, str], *, exact: bool = False) -> str:
    """`alias.user_id = $user_id AND ...` for the scope ids that are set. With `exact`,
    the unset ids must be unset too: writes resolve entities within exactly their own
    scope, so a relation never links entities of two scopes (reads match like the
    vector store does: every id given must match)."""
    parts = [f"{alias}.{k} = ${k}" if scope.get(k) is not None else f"{alias}.{k} IS NULL"
             for k in SCOPE_KEYS if exact or scope.get(k) is not None]
    return " AND ".join(parts) or "true"


class CypherGraphStore:
    """The queries both backends run; subclasses say how to execute Cypher and how to
    compare embeddings (`_similarity`) and pass them (`_vector`)."""

    name = "cypher"
    needs_checkpoint = False
    replay_from: int | None = None

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.dimension = 0

    # --- for subclasses ------------------------------------------------------------------

    def _run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _vector(self, param: str) -> str:
        """How the query refers to a vector parameter."""
        return f"${param}"

    def _similarity(self, vector_param: str) -> str:
        """A Cypher expression: cosine similarity of `e.embedding` to the parameter."""
        return f"vector.similarity.cosine(e.embedding, {self._vector(vector_param)})"

    # --- reads -----------------------------------------------------------------------------

    @staticmethod
    def _scope_params(scope: dict[str, str]) -> dict[str, Any]:
        return {k: v for k, v in scope.items() if k in SCOPE_KEYS and v is not None}

    def entities_named(self, scope: dict[str, str], keys: list[str], *,
                       exact: bool = False) -> list[EntityRecord]:
        if not keys:
            return []
        rows = self._run(
            f"MATCH (e:{ENTITY}) WHERE {scope_clause('e', scope, exact=exact)} "
            "AND e.name_key IN $keys "
            f"RETURN e.id AS id, e.name AS name, e.type AS type, {_ENTITY_SCOPE}",
            {**self._scope_params(scope), "keys": keys})
        return [EntityRecord(r["id"], r["name"], r["type"] or "entity", _own_scope(r),
                             score=1.0) for r in rows]

    def similar_entities(self, scope: dict[str, str], vector: list[float], *, limit: int,
                         threshold: float, exact: bool = False) -> list[EntityRecord]:
        rows = self._run(
            f"MATCH (e:{ENTITY}) WHERE {scope_clause('e', scope, exact=exact)} "
            f"WITH e, {self._similarity('vector')} AS score WHERE score >= $threshold "
            f"RETURN e.id AS id, e.name AS name, e.type AS type, {_ENTITY_SCOPE}, score "
            f"ORDER BY score DESC {_limit(limit)}",
            {**self._scope_params(scope), "vector": vector, "threshold": threshold})
        return [EntityRecord(r["id"], r["name"], r["type"] or "entity", _own_scope(r),
                             score=float(r["score"])) for r in rows]

    def _relations(self, where: str, params: dict[str, Any], limit: int | None
                   ) -> list[RelationRecord]:
        query = (f"MATCH (a:{ENTITY})-[r:{RELATION}]->(b:{ENTITY}) WHERE {where} "
                 f"RETURN {_RELATION_COLUMNS} ORDER BY r.updated_at DESC")
        if limit is not None:
            query += f" {_limit(limit)}"
        return [RelationRecord(
            id=r["id"], source_id=r["source_id"], source=r["source"], relation=r["relation"],
            target_id=r["target_id"], target=r["target"], valid=bool(r["valid"]),
            created_at=r["created_at"], updated_at=r["updated_at"],
            invalidated_at=r["invalidated_at"],
            scope={k: r[k] for k in SCOPE_KEYS if r.get(k) is not None},
            valid_from=r["valid_from"], valid_to=r["valid_to"],
        ) for r in self._run(query, params)]

    @staticmethod
    def _validity(as_of: str | None) -> tuple[str, dict[str, Any]]:
        """The clause and parameters selecting the relations valid now or at `as_of`."""
        if as_of is None:
            return "r.valid = true", {}
        return _VALID_AT, {"as_of": as_of}

    def relations_of(self, scope: dict[str, str], entity_ids: list[str], *,
                     limit: int, exact: bool = False, as_of: str | None = None
                     ) -> list[RelationRecord]:
        if not entity_ids:
            return []
        valid, params = self._validity(as_of)
        params = {**self._scope_params(scope), **params, "ids": entity_ids}
        found: dict[str, RelationRecord] = {}
        # one query per end, each found from its entities' ids: "a.id IN $ids OR b.id IN
        # $ids" reads every edge instead (LadybugDB: 4.2 ms against 0.9 ms for both here)
        for end in ("a", "b"):
            for record in self._relations(
                    f"{valid} AND {end}.id IN $ids AND {scope_clause('r', scope, exact=exact)}",
                    params, limit):
                found.setdefault(record.id, record)
        return sorted(found.values(), key=lambda r: r.updated_at or "", reverse=True)[:limit]

    def all_relations(self, scope: dict[str, str], *, as_of: str | None = None
                      ) -> list[RelationRecord]:
        valid, params = self._validity(as_of)
        return self._relations(f"{valid} AND {scope_clause('r', scope)}",
                               {**self._scope_params(scope), **params}, None)

    # --- writes ----------------------------------------------------------------------------

    def _run_many(self, statements: list[tuple[str, dict[str, Any]]], *,
                  durable: bool = True) -> None:
        """Run statements as one transaction where the backend allows it (`durable`: see
        `GraphStore.write`)."""
        for query, params in statements:
            self._run(query, params)

    def checkpoint(self, replay_from: int | None = None) -> None:
        """Nothing to do where each commit is durable."""

    def write(self, entities: list[EntityRecord], relations: list[RelationRecord],
              invalidate: list[str], now: str, *, ended: str | None = None,
              durable: bool = True) -> None:
        statements: list[tuple[str, dict[str, Any]]] = []
        for entity in entities:
            # an entity written without an embedding (an existing one, named exactly)
            # keeps the one it has
            embedding = "" if entity.embedding is None else \
                f"e.embedding = {self._vector('embedding')}, "
            # an existing entity keeps its type and its own scope (each property set
            # costs LadybugDB ~0.15 ms)
            statements.append((
                f"MERGE (e:{ENTITY} {{id: $id}}) "
                "ON CREATE SET e.name = $name, e.name_key = $name_key, e.type = $type, "
                "e.user_id = $user_id, e.agent_id = $agent_id, e.run_id = $run_id, "
                f"{embedding}e.updated_at = $now, e.created_at = $now, e.mentions = 1 "
                "ON MATCH SET e.name = $name, e.name_key = $name_key, "
                f"{embedding}e.updated_at = $now, "
                "e.mentions = coalesce(e.mentions, 0) + 1",
                {"id": entity.id, "name": entity.name, "name_key": name_key(entity.name),
                 "type": entity.type, "now": now,
                 **({} if entity.embedding is None else {"embedding": entity.embedding}),
                 **{k: entity.scope.get(k) for k in SCOPE_KEYS}}))
        for relation in relations:
            statements.append((
                f"MATCH (a:{ENTITY} {{id: $source_id}}), (b:{ENTITY} {{id: $target_id}}) "
                f"MERGE (a)-[r:{RELATION} {{id: $id}}]->(b) "
                "SET r.relation = $relation, r.valid = true, r.user_id = $user_id, "
                "r.agent_id = $agent_id, r.run_id = $run_id, r.updated_at = $now, "
                "r.created_at = coalesce(r.created_at, $now), "
                "r.valid_from = coalesce(r.valid_from, $valid_from, $now)",
                {"id": relation.id, "source_id": relation.source_id,
                 "target_id": relation.target_id, "relation": relation.relation, "now": now,
                 "valid_from": relation.valid_from,
                 **{k: relation.scope.get(k) for k in SCOPE_KEYS}}))
        if invalidate:
            statements.append((
                f"MATCH (:{ENTITY})-[r:{RELATION}]->(:{ENTITY}) WHERE r.id IN $ids "
                "SET r.valid = false, r.invalidated_at = coalesce(r.invalidated_at, $now), "
                "r.valid_to = coalesce(r.valid_to, $ended), r.updated_at = $now",
                {"ids": invalidate, "now": now, "ended": ended or now}))
        with self._lock:
            self._run_many(statements, durable=durable)

    def delete_scope(self, scope: dict[str, str]) -> None:
        with self._lock:
            # the scope's relations by their own scope ids, wherever their ends are...
            self._run(f"MATCH (:{ENTITY})-[r:{RELATION}]->(:{ENTITY}) "
                      f"WHERE {scope_clause('r', scope)} DELETE r", self._scope_params(scope))
            # ...then the scope's entities, with whatever else still touches them
            self._run(f"MATCH (e:{ENTITY}) WHERE {scope_clause('e', scope)} DETACH DELETE e",
                      self._scope_params(scope))

    def reset(self) -> None:
        with self._lock:
            self._run(f"MATCH (e:{ENTITY}) DETACH DELETE e")
