"""Graph memory in Neo4j (or any Bolt server speaking Neo4j's Cypher), through the
official `neo4j` driver.

Entity lookup by embedding uses a Neo4j 5 vector index when the server can create one,
and otherwise computes cosine similarity in the query (`vector.similarity.cosine`) over
the scope's entities only. Everything this library creates carries the `MemIntEntity`
label or the `MEMINT_REL` type, so `reset()` leaves the rest of the database alone.
"""

from __future__ import annotations

import logging
from typing import Any

from mem_integrations.core.errors import ConfigurationError, StoreError, StoreUnavailableError
from mem_integrations.core.graph.base import ENTITY, CypherGraphStore, EntityRecord, scope_clause
from mem_integrations.core.redaction import redact_url

log = logging.getLogger(__name__)

VECTOR_INDEX = "memint_entity_embedding"


class Neo4jGraphStore(CypherGraphStore):
    """Graph memory over Bolt."""

    name = "neo4j"

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 database: str | None = None, use_vector_index: bool = True) -> None:
        super().__init__()
        try:
            import neo4j
        except ImportError as exc:
            raise ConfigurationError(
                "Neo4j graph memory needs the driver: pip install 'mem-integrations[graph]'"
            ) from exc
        self.url = url
        self.where = redact_url(url)
        self.database = database
        self._exceptions = neo4j.exceptions
        auth = (username, password) if username is not None else None
        try:
            self._driver = neo4j.GraphDatabase.driver(url, auth=auth)
        except (neo4j.exceptions.ConfigurationError, ValueError) as exc:
            # the driver's message repeats the URL, password included: not chained
            raise ConfigurationError(
                f"graph_store.url {self.where!r} is not one the neo4j driver accepts "
                f"({str(exc).replace(url, self.where)}). Give the credentials as "
                "graph_store.username / graph_store.password, not in the URL") from None
        self._want_index = use_vector_index
        self.vector_index = False

    def __repr__(self) -> str:
        return f"Neo4jGraphStore(url={self.where!r}, database={self.database!r})"

    def _error(self, exc: Exception, action: str) -> StoreError:
        """A driver error as ours, the URL without credentials: a server that is down or
        refuses the login is `StoreUnavailableError` (an add keeps its messages)."""
        text = str(exc).replace(self.url, self.where) or type(exc).__name__
        found = self._exceptions
        if isinstance(exc, (found.ServiceUnavailable, found.SessionExpired, OSError)):
            return StoreUnavailableError(
                f"cannot reach the graph server at {self.where} ({action}: {text}): start it, "
                "or fix graph_store.url; adds keep their messages for reprocess() meanwhile")
        if isinstance(exc, found.AuthError):
            return StoreUnavailableError(
                f"the graph server at {self.where} refused the login ({text}): check "
                "graph_store.username and graph_store.password")
        return StoreError(f"graph {action} failed on {self.where}: {text}")

    def _run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            records, _, _ = self._driver.execute_query(query, params or {},
                                                       database_=self.database)
        except Exception as exc:  # driver errors carry the server's message
            raise self._error(exc, "query") from exc
        return [dict(record) for record in records]

    def _run_many(self, statements: list[tuple[str, dict[str, Any]]], *,
                  durable: bool = True) -> None:
        # a committed transaction is durable: `durable` changes nothing here
        if not statements:
            return

        def work(tx: Any) -> None:
            for query, params in statements:
                tx.run(query, params).consume()

        try:
            with self._driver.session(database=self.database) as session:
                session.execute_write(work)
        except Exception as exc:
            raise self._error(exc, "write") from exc

    def open(self, dimension: int) -> None:
        self.dimension = int(dimension)
        try:
            self._driver.verify_connectivity()
        except Exception as exc:
            raise self._error(exc, "open") from exc
        self._try(f"CREATE INDEX memint_entity_id IF NOT EXISTS FOR (e:{ENTITY}) ON (e.id)")
        self._try(f"CREATE INDEX memint_entity_user IF NOT EXISTS FOR (e:{ENTITY}) ON (e.user_id)")
        if self._want_index:
            # The dimension is our own integer; index options cannot be parameters.
            self.vector_index = self._try(
                f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (e:{ENTITY}) "
                f"ON e.embedding OPTIONS {{indexConfig: {{`vector.dimensions`: {self.dimension}, "
                "`vector.similarity_function`: 'cosine'}}")
        log.info("graph store %r: entity lookup by %s", self.where,
                 "vector index" if self.vector_index else "cosine scan")

    def _try(self, query: str) -> bool:
        try:
            self._run(query)
        except StoreError as exc:
            log.info("graph server declined %r: %s", query.split(" IF ")[0], exc)
            return False
        return True

    def similar_entities(self, scope: dict[str, str], vector: list[float], *, limit: int,
                         threshold: float, exact: bool = False) -> list[EntityRecord]:
        if not self.vector_index:
            return super().similar_entities(scope, vector, limit=limit, threshold=threshold,
                                            exact=exact)
        # The index ranks all users' entities: oversample, then keep this scope's.
        rows = self._run(
            "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node AS e, score "
            f"WHERE {scope_clause('e', scope, exact=exact)} AND score >= $threshold "
            "RETURN e.id AS id, e.name AS name, e.type AS type, score "
            "ORDER BY score DESC LIMIT $limit",
            {**self._scope_params(scope), "index": VECTOR_INDEX, "k": max(limit * 20, 100),
             "vector": vector, "threshold": threshold, "limit": limit})
        return [EntityRecord(r["id"], r["name"], r["type"] or "entity", dict(scope),
                             score=float(r["score"])) for r in rows]

    def close(self) -> None:
        self._driver.close()
