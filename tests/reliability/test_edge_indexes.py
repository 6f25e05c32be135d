"""A process killed between creating the embedded Qdrant shard and its payload indexes
(found by `make stress`): the next open must create the missing indexes, or facets — the
consistency check on open, `users()` — fail with "No appropriate index for faceting"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mem_integrations import Memory

DIES_AT_THE_FIRST_INDEX = """
import os, sys
import qdrant_edge as qe
from mem_integrations import Memory

def killed(*args, **kwargs):
    os._exit(9)  # as SIGKILL would: no cleanup, nothing flushed by us

qe.UpdateOperation.create_field_index = killed
Memory({"data_dir": sys.argv[1], "llm": {"provider": "offline"}}).add(
    "I live in Paris.", user_id="alice")
"""


def test_missing_payload_indexes_are_created_on_open(tmp_path: Path, embedder: Any) -> None:
    data = tmp_path / "data"
    run = subprocess.run([sys.executable, "-c", DIES_AT_THE_FIRST_INDEX, str(data)],
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert run.returncode == 9  # it died with the shard made and no index
    with Memory({"data_dir": str(data), "llm": {"provider": "offline"}},
                embedder=embedder) as memory:
        memory.add("I live in Paris.", user_id="alice")
        assert [(u.type, u.id, u.total_memories) for u in memory.users().results] == [
            ("user", "alice", 1)]
    with Memory({"data_dir": str(data), "llm": {"provider": "offline"}},
                embedder=embedder) as reopened:  # and every later open checks cleanly
        assert len(reopened.get_all(user_id="alice").results) == 1
