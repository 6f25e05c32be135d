"""No untyped escapes at the store boundary (issue 14): what the vector engines raise comes
out as our typed errors with the fix in the message, and a Qdrant server outage keeps an
add pending, exactly like a provider outage.

There is no Qdrant server binary here: the outages are a real qdrant-client talking to
127.0.0.1 servers that hang up, answer 503 or refuse the key. The engines are real.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mem_integrations import Memory
from mem_integrations.core.errors import (
    ConfigurationError,
    EmbeddingMismatchError,
    MemoryLayerError,
    StoreError,
    StoreUnavailableError,
)
from mem_integrations.core.stores.base import CollectionInfo, Point, SparseVector
from mem_integrations.core.stores.qdrant_client import QdrantClientStore
from mem_integrations.core.stores.qdrant_edge import QdrantEdgeStore
from stress.common import HashEmbedder, memory_config

ENGINES = ["qdrant_edge", "qdrant_client"]
ID = "00000000-0000-0000-0000-000000000001"


class HangingUp:
    """A TCP server on 127.0.0.1 that accepts every connection and closes it at once."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()

    def close(self) -> None:
        self.sock.close()


class Answering(http.server.ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 answering every request with one status."""

    def __init__(self, status: int) -> None:
        self.status = status

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(handler) -> None:  # noqa: N805 - the server's status, not self's
                body = json.dumps({"status": {"error": "unavailable"}}).encode()
                handler.send_response(self.status)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(handler, *args: Any) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = int(self.server_address[1])
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def hanging_up() -> Iterator[HangingUp]:
    server = HangingUp()
    yield server
    server.close()


def server_memory(tmp_path: Path, url: str) -> Memory:
    return Memory({"data_dir": str(tmp_path / "data"), "llm": {"provider": "offline"},
                   "vector_store": {"url": url, "api_key": "qd-secret"}}, embedder=HashEmbedder())


def test_an_outage_keeps_the_add_pending_until_reprocessed_or_discarded(
        tmp_path: Path, hanging_up: HangingUp) -> None:
    url = f"http://ops:pa55word@127.0.0.1:{hanging_up.port}"
    memory = server_memory(tmp_path, url)
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            memory.add("I moved to Berlin", user_id="alice", metadata={"source": "chat"})
        error = caught.value
        assert error.pending_id
        text = str(error)
        assert f"127.0.0.1:{hanging_up.port}" in text and "pa55word" not in text
        assert "start it, or fix vector_store.url" in text
        assert f"reprocess({error.pending_id!r})" in text
        [kept] = memory.pending()
        assert kept.id == error.pending_id and kept.status == "failed"
        assert kept.messages == [{"role": "user", "content": "I moved to Berlin"}]
        assert kept.metadata == {"source": "chat"} and "pa55word" not in kept.error
        # still down: reprocess fails the same typed way and keeps it
        with pytest.raises(StoreUnavailableError):
            memory.reprocess(kept.id)
        assert [p.id for p in memory.pending()] == [kept.id]
        # it can never succeed here: discard it; the messages stay, marked
        discarded = memory.discard(kept.id)
        assert discarded.id == kept.id and memory.pending() == []
    finally:
        memory.close()
    reopened = server_memory(tmp_path, url)  # the record survives a restart
    try:
        assert reopened.pending() == []
        [record] = reopened.discarded()
        assert record.id == kept.id and record.status == "discarded"
        assert record.messages == kept.messages and "discarded at" in record.error
    finally:
        reopened.close()


@pytest.mark.parametrize(("status", "fix"), [
    (503, "unavailable (503)"), (502, "unavailable (502)"),
    (401, "check vector_store.api_key"), (403, "check vector_store.api_key")])
def test_a_server_that_answers_with_an_error(tmp_path: Path, status: int, fix: str) -> None:
    server = Answering(status)
    memory = server_memory(tmp_path, f"http://127.0.0.1:{server.port}")
    try:
        with pytest.raises(StoreUnavailableError, match=fix.replace("(", r"\(")
                           .replace(")", r"\)")) as caught:
            memory.add("I like tea", user_id="u", infer=False)
        assert caught.value.pending_id in {p.id for p in memory.pending()}
        assert "qd-secret" not in str(caught.value)
    finally:
        memory.close()
        server.close()


def open_store(engine: str, tmp_path: Path, dimension: int = 3) -> Any:
    store: Any = (QdrantEdgeStore(tmp_path / "edge", "c") if engine == "qdrant_edge"
                  else QdrantClientStore("c", path=str(tmp_path / "local")))
    store.open(CollectionInfo("model-a", dimension))
    return store


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_errors_are_typed(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    try:
        # the bindings' own errors (qdrant-edge: a bare ValueError; qdrant-client too)
        with pytest.raises(StoreError, match="failed to upsert") as caught:
            store.upsert([Point("not-a-uuid", [1.0, 0.0, 0.0], {})])
        assert "`mem-integrations doctor`" in str(caught.value)
        # a sparse vector whose lengths disagree is refused before the engine sees it:
        # qdrant-edge panics on it half way and every later write panics too
        with pytest.raises(StoreError, match="must pair up"):
            store.upsert([Point(ID, [1.0, 0.0, 0.0], {}, SparseVector([1, 2], [0.5]))])
        store.upsert([Point(ID, [1.0, 0.0, 0.0], {"data": "kept"})])
        assert [h.payload for h in store.retrieve([ID])] == [{"data": "kept"}]
    finally:
        store.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_wrong_sized_vector_is_refused_before_the_engine(engine: str, tmp_path: Path
                                                           ) -> None:
    store = open_store(engine, tmp_path)
    try:
        with pytest.raises(EmbeddingMismatchError) as caught:
            store.upsert([Point(ID, [1.0, 0.0], {})])
        assert "holds vectors of 3 dimensions, embedding model 'model-a'" in str(caught.value)
        assert "got a 2-dimensional vector" in str(caught.value)
        assert store.count(None) == 0
    finally:
        store.close()


class ShrinkingEmbedder(HashEmbedder):
    """Says it makes 64-dimensional vectors and makes 32 (a model swapped behind a name)."""

    async def embed(self, texts: list[str], kind: str = "document") -> list[list[float]]:
        return [v[:32] for v in await super().embed(texts, kind)]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_embedder_that_changed_size_is_a_typed_error_and_loses_nothing(
        engine: str, tmp_path: Path) -> None:
    config = memory_config(tmp_path / "data", engine=engine)
    memory = Memory(config, embedder=ShrinkingEmbedder())
    try:
        with pytest.raises(EmbeddingMismatchError, match="64 dimensions") as caught:
            memory.add("I like tea", user_id="u", infer=False)
        assert isinstance(caught.value, MemoryLayerError)
        assert "Use the embedder the collection was built with" in str(caught.value)
        assert [p.messages[0]["content"] for p in memory.pending()] == ["I like tea"]
        with pytest.raises(EmbeddingMismatchError):
            memory.search("tea", user_id="u")
        assert memory.get_all(user_id="u").results == []
    finally:
        memory.close()


def test_an_edge_shard_without_its_record_is_still_checked(tmp_path: Path) -> None:
    config = memory_config(tmp_path / "data")
    with Memory(config, embedder=HashEmbedder(64)) as memory:
        memory.add("I like tea", user_id="u", infer=False)
    record = tmp_path / "data" / "qdrant" / "memories" / "collection.json"
    record.unlink()  # lost: the engine's own config still knows the dimension
    with Memory(config, embedder=HashEmbedder(32)) as other, \
            pytest.raises(EmbeddingMismatchError, match=r"\(64 dimensions\)"):
        other.search("tea", user_id="u")
    record.write_text("{not json")
    with Memory(config, embedder=HashEmbedder(64)) as damaged, \
            pytest.raises(StoreError, match="is not valid JSON.*restore it from a backup"):
        damaged.search("tea", user_id="u")
    record.unlink()
    with Memory(config, embedder=HashEmbedder(64)) as restored:  # written again from the shard
        assert [m.memory for m in restored.get_all(user_id="u").results] == ["I like tea"]
    assert json.loads(record.read_text())["dimension"] == 64


def test_a_graph_server_outage_keeps_the_add_pending(tmp_path: Path) -> None:
    pytest.importorskip("neo4j", reason="the graph extra (neo4j driver) is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # closed again: nothing listens there

    def graph_memory(url: str) -> Memory:
        return Memory({**memory_config(tmp_path / "data"), "graph_store": {
            "provider": "neo4j", "url": url, "username": "neo", "password": "s3cret"}},
            embedder=HashEmbedder())

    # the driver refuses credentials in a bolt:// URL, repeating them in its message
    with pytest.raises(ConfigurationError, match="graph_store.username") as refused:
        graph_memory(f"bolt://neo:s3cret@127.0.0.1:{port}")
    assert "s3cret" not in str(refused.value) and refused.value.__cause__ is None
    memory = graph_memory(f"bolt://127.0.0.1:{port}")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            memory.add("My sister is Anna", user_id="alice")
        text = str(caught.value)
        assert f"cannot reach the graph server at bolt://127.0.0.1:{port}" in text
        assert "fix graph_store.url" in text and "s3cret" not in text
        assert [p.id for p in memory.pending()] == [caught.value.pending_id]
    finally:
        memory.close()


def test_embedded_graph_errors_are_typed(tmp_path: Path) -> None:
    pytest.importorskip("ladybug", reason="the graph extra (LadybugDB) is not installed")
    from mem_integrations.core.graph.ladybug import LadybugGraphStore

    graph = LadybugGraphStore(tmp_path / "graph")
    graph.open(3)
    try:
        with pytest.raises(StoreError, match="the embedded graph at .* failed: .*doctor"):
            graph._run("MATCH (n:NoSuchTable) RETURN n")  # the boundary itself: Cypher errors
        assert graph.all_relations({"user_id": "alice"}) == []  # still usable
    finally:
        graph.close()


def test_a_store_lost_mid_session_keeps_the_add_for_reprocess(tmp_path: Path) -> None:
    memory = Memory(memory_config(tmp_path / "data"), embedder=HashEmbedder())
    try:
        memory.add("I like tea", user_id="u", infer=False)
        engine_store = memory.async_memory.store
        engine_store.close()  # the engine goes away under an open memory
        with pytest.raises(StoreError) as caught:
            memory.add("I like coffee", user_id="u", infer=False)
        assert caught.value.pending_id and "reprocess(" in str(caught.value)
        [kept] = memory.pending()
        assert kept.id == caught.value.pending_id
        engine_store.open(memory.async_memory._info)  # back
        memory.reprocess(kept.id)
        assert memory.pending() == []
        assert sorted(m.memory for m in memory.get_all(user_id="u").results) == [
            "I like coffee", "I like tea"]
    finally:
        memory.close()
