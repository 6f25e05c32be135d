"""An add embeds only the names of entities the graph does not hold yet: an entity named
exactly again keeps the embedding it has (and still resolves, and is still found by
similarity)."""

from __future__ import annotations

from mem_integrations import Memory
from stress.common import HashEmbedder, hashed_embedding


class RecordingEmbedder(HashEmbedder):
    """The hash embedder, keeping every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def embed(self, texts: list[str], kind: str = "document") -> list[list[float]]:
        self.texts.extend(texts)
        return await super().embed(texts, kind)


def test_an_entity_named_again_is_not_embedded_again(tmp_path, graph_backend, request,
                                                     uid) -> None:
    from tests.graph.conftest import graph_config

    embedder = RecordingEmbedder()
    memory = Memory({"data_dir": str(tmp_path), "llm": {"provider": "offline"},
                     "graph_store": graph_config(graph_backend, request)}, embedder=embedder)
    alice = uid("alice")
    try:
        memory.add("I live in Paris", user_id=alice)
        assert {"user", "Paris"} <= set(embedder.texts)
        embedder.texts.clear()
        memory.add("My sister is Anna", user_id=alice)
        assert "Anna" in embedder.texts and "user" not in embedder.texts
        relations = {(r.source, r.relationship, r.destination)
                     for r in memory.get_all(user_id=alice).relations}
        assert relations == {("user", "lives_in", "Paris"), ("user", "sister", "Anna")}
        graph = memory.async_memory.graph
        [user] = graph.entities_named({"user_id": alice}, ["user"], exact=True)
        [found] = graph.similar_entities({"user_id": alice}, hashed_embedding("user", 64),
                                         limit=1, threshold=0.99, exact=True)
        assert found.id == user.id  # its embedding was kept, not cleared
    finally:
        memory.close()
