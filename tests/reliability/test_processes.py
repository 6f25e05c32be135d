"""Several processes on one data directory: the embedded stores refuse a second process
with a clear, typed error while the first one writes, and nothing is corrupted (the
writer is then SIGKILLed and nothing it acknowledged is lost); the
SQLite history shared by several processes never says "database is locked"."""

from __future__ import annotations

import contextlib
import sqlite3
import time

import pytest

from mem_integrations import Memory, StoreLockedError
from stress.child import hammer_history
from stress.common import HashEmbedder, memory_config, snapshot
from stress.crash import ChainSpec, Figures, Model, Trial, context, evaluate, process_lines


def writer_and_intruder(tmp_path, engine: str, graph: bool, tasks: int = 2
                        ) -> tuple[list[Exception], Memory]:
    """A process writes without pause; this process tries three times to use the same
    data directory meanwhile; then the writer is SIGKILLed and the directory reopened."""
    config = memory_config(tmp_path / "shared", engine=engine, graph=graph)
    spec = ChainSpec(engine=engine, graph=graph, tasks=tasks)
    writer = Trial(config, spec, seed=5, tag="w", max_ops=100_000)
    assert writer.ready.wait(120), "the writer did not start"
    refusals: list[Exception] = []
    for attempt in range(3):
        intruder = None
        try:
            intruder = Memory(config, embedder=HashEmbedder())
            intruder.add(f"intruder note {attempt}", user_id="u0", infer=False)
        except Exception as exc:  # noqa: BLE001 - judged by the callers
            refusals.append(exc)
        finally:
            if intruder is not None:
                with contextlib.suppress(Exception):  # a memory that never opened
                    intruder.close()
        time.sleep(0.05)
    # the refusals come fast (our lock is checked before the engine loads a file): let
    # the writer acknowledge enough writes for the recovery check below to mean something
    deadline = time.monotonic() + 60
    while (sum(line.get("t") == "ack" for line in list(writer.lines)) <= 10
           and time.monotonic() < deadline):
        time.sleep(0.05)
    assert writer.process.is_alive(), "the writer stopped by itself"
    writer.kill()
    writer.finish()
    figures, model = Figures(), Model()
    process_lines(writer.lines, model, figures, "writer", last=False)
    model.known = True  # started empty: every acknowledged write is in the model
    memory = Memory(config, embedder=HashEmbedder())
    memory.open()
    state = memory.run(snapshot(memory.async_memory))
    pending = [{"messages": [m["content"] for m in p.messages]} for p in memory.pending()]
    evaluate(model, state, pending, figures, "after the writer's SIGKILL")
    assert not +figures.violations, figures.as_dict()
    assert figures.counts["writes_acknowledged"] > 10
    return refusals, memory


@pytest.mark.parametrize("graph", [False, True], ids=["vectors", "vectors+graph"])
def test_a_second_process_is_refused_while_the_first_writes(tmp_path, graph) -> None:
    context()  # start the fork server before timing anything
    refusals, memory = writer_and_intruder(tmp_path, "qdrant_edge", graph)
    try:
        assert len(refusals) == 3
        for exc in refusals:
            assert isinstance(exc, StoreLockedError), repr(exc)
            assert "another process" in str(exc)
        assert "intruder" not in str(memory.get_all(user_id="u0"))
    finally:
        memory.close()


def test_qdrant_client_local_mode_refuses_a_second_process_with_a_typed_error(tmp_path) -> None:
    """Was: a bare RuntimeError from Memory(), not StoreLockedError."""
    refusals, memory = writer_and_intruder(tmp_path, "qdrant_client", False)
    memory.close()
    assert refusals and all(isinstance(exc, StoreLockedError) for exc in refusals), refusals


def test_processes_sharing_the_sqlite_history_never_see_database_is_locked(tmp_path) -> None:
    path = str(tmp_path / "history.db")
    ctx = context()
    workers = [ctx.Process(target=hammer_history, args=(path, w, 500)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(180)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0], "a writer failed (database is locked?)"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM history WHERE applied = 1").fetchone() == (2000,)
        assert conn.execute("SELECT count(*) FROM history WHERE applied = 0").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pending_adds").fetchone() == (0,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
