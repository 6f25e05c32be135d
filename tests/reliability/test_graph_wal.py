"""The embedded graph (LadybugDB) after a crash that tore its write-ahead log: LadybugDB
refuses to open a log whose last record is incomplete, which a SIGKILL in the middle of
an append leaves behind (seen once in 200 kills of `python -m stress.run`; made certain
here by cutting the log's tail after a real SIGKILL). The data directory must open again
with every acknowledged relation: a torn log is set aside on open, and what it held is
written again from the journal — the graph writes of the applied history since the seq
the last checkpoint recorded (checkpoints run in the background, `core.writer`), and the
unconfirmed writes."""

from __future__ import annotations

from pathlib import Path

from mem_integrations import Memory
from stress.common import HashEmbedder
from tests.reliability.support import consistency, crash_in


def test_a_write_ahead_log_torn_by_a_crash_does_not_brick_the_graph(tmp_path) -> None:
    config = crash_in(tmp_path, "kill_after_writes", reopen=False)
    wal = Path(config["data_dir"]) / "graph.wal"
    if wal.exists() and wal.stat().st_size > 200:
        with wal.open("r+b") as f:  # the last record, cut short
            f.truncate(wal.stat().st_size - 100)
    else:  # everything was checkpointed: a crash while appending to a fresh log
        wal.write_bytes(b"\x01torn record" * 8)
    reopened = Memory(config, embedder=HashEmbedder())
    try:
        relations = reopened.get_all(user_id="alice").relations
        assert {(r.source, r.relationship, r.destination) for r in relations} == {
            ("user", "lives_in", "Paris"), ("user", "works_at", "Acme")}
        assert len(reopened.get_all(user_id="alice").results) == 14
        assert not +consistency(reopened).counts
    finally:
        reopened.close()


def test_a_torn_log_of_a_write_not_yet_checkpointed_is_set_aside_and_written_again(
        tmp_path) -> None:
    config = crash_in(tmp_path, "kill_before_checkpoint", reopen=False)
    wal = Path(config["data_dir"]) / "graph.wal"
    assert wal.stat().st_size > 200  # the add's graph write is in the log, not checkpointed
    with wal.open("r+b") as f:
        f.truncate(wal.stat().st_size - 100)
    reopened = Memory(config, embedder=HashEmbedder())
    try:
        relations = reopened.get_all(user_id="alice").relations
        assert {(r.source, r.relationship, r.destination) for r in relations} == {
            ("user", "lives_in", "Paris"), ("user", "works_at", "Acme"),
            ("user", "sister", "Anna")}
        assert not +consistency(reopened).counts
        assert list(wal.parent.glob("graph.wal.torn-*"))  # kept for inspection
    finally:
        reopened.close()
