"""The embedded graph: LadybugDB (the maintained fork of Kuzu), in-process, under the
data directory. Same Cypher as the Neo4j store; node and edge tables are typed, so the
schema is declared once when the store is opened."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from mem_integrations.core.errors import ConfigurationError, StoreError, StoreLockedError
from mem_integrations.core.graph.base import ENTITY, RELATION, CypherGraphStore

log = logging.getLogger(__name__)


class LadybugGraphStore(CypherGraphStore):
    """Graph memory in a LadybugDB database directory."""

    name = "ladybug"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._db: Any = None
        self._conn: Any = None
        self._conn_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LadybugGraphStore(path={str(self.path)!r})"

    def open(self, dimension: int) -> None:
        if self._conn is not None:
            return
        try:
            import ladybug
        except ImportError as exc:
            raise ConfigurationError(
                "embedded graph memory needs LadybugDB: pip install 'mem-integrations[graph]'"
            ) from exc
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = ladybug.Database(str(self.path))
        except RuntimeError as exc:
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"{self.path} is open in another process; the embedded graph allows one "
                    "process per data directory (use Neo4j to share)") from exc
            raise StoreError(f"cannot open the embedded graph at {self.path}: {exc}") from exc
        self._conn = ladybug.Connection(self._db)
        self.dimension = int(dimension)
        self._run(
            f"CREATE NODE TABLE IF NOT EXISTS {ENTITY}(id STRING PRIMARY KEY, name STRING, "
            "name_key STRING, type STRING, user_id STRING, agent_id STRING, run_id STRING, "
            "mentions INT64, created_at STRING, updated_at STRING, "
            f"embedding FLOAT[{self.dimension}])")
        self._run(
            f"CREATE REL TABLE IF NOT EXISTS {RELATION}(FROM {ENTITY} TO {ENTITY}, id STRING, "
            "relation STRING, valid BOOLEAN, user_id STRING, agent_id STRING, run_id STRING, "
            "created_at STRING, updated_at STRING, invalidated_at STRING)")

    def _vector(self, param: str) -> str:
        return f"CAST(${param} AS FLOAT[{self.dimension}])"

    def _similarity(self, vector_param: str) -> str:
        return f"array_cosine_similarity(e.embedding, {self._vector(vector_param)})"

    def _run(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if self._conn is None:
            raise StoreError("the graph store is not open")
        with self._conn_lock:
            result = self._conn.execute(query, params or {})
            columns = result.get_column_names()
            rows = []
            while result.has_next():
                rows.append(dict(zip(columns, result.get_next(), strict=True)))
            return rows

    def _run_many(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        if not statements:
            return
        self._run("BEGIN TRANSACTION")
        try:
            for query, params in statements:
                self._run(query, params)
        except BaseException:
            self._run("ROLLBACK")
            raise
        self._run("COMMIT")

    def close(self) -> None:
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._db.close()
                self._conn = self._db = None
