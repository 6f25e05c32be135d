"""A full disk is a typed error, never a dead process (issue 14).

qdrant-edge writes through mmap, and on a full disk the writer died of SIGBUS with no
exception; on tmpfs, reopening died too (reading a sparse file's holes allocates them
there). The scenario runs in a child process in a mount namespace of its own, on a small
tmpfs, and fills it with a ballast file: writes are refused below `storage.min_free_mb`
with `DiskFullError` (nothing written, nothing lost), opening without room for what it
would allocate is refused the same way, and everything works again once space is back.

Needs `unshare` and the right to mount a tmpfs (root, or user namespaces); skipped,
saying so, where either is missing.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stress.common import REPO, child_env

SIZE_MB = 256
RESERVE_MB = 64
MB = 1024 * 1024


def _mount_command(mnt: Path, then: str) -> list[str]:
    return ["unshare", "--mount", "sh", "-c",
            f"mount -t tmpfs -o size={SIZE_MB}m tmpfs {mnt} && {then}"]


@pytest.fixture
def mount_point(tmp_path: Path) -> Path:
    if shutil.which("unshare") is None:
        pytest.skip("the disk-full test needs util-linux's `unshare` to mount a private tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = subprocess.run(_mount_command(mnt, "true"), capture_output=True, text=True,
                           timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({probe.stderr.strip()}): the "
                    "disk-full test needs root or unprivileged user namespaces")
    return mnt


def test_full_disk_is_a_typed_error_and_recovers(mount_point: Path) -> None:
    code = "import sys; from tests.reliability.test_disk_full import scenario; " \
        "scenario(sys.argv[1])"
    run = subprocess.run(
        _mount_command(mount_point, shlex.join([sys.executable, "-c", code, str(mount_point)])),
        capture_output=True, text=True, timeout=300, cwd=REPO, env=child_env())
    assert run.returncode == 0, (f"the child ended with {run.returncode} (-7/135 is SIGBUS)"
                                 f"\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}")
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    # opening a store whose sparse files would not fit: refused, typed, data intact
    assert seen["open_without_room"]["error"] == "DiskFullError"
    assert "opening it takes" in seen["open_without_room"]["message"]
    assert seen["after_open_room_back"] == 5
    # below the reserve: every write refused before anything is written
    for call in ("add", "delete", "update"):
        assert seen[call]["error"] == "DiskFullError", seen[call]
        assert "storage.min_free_mb" in seen[call]["message"]
        assert "nothing was written" in seen[call]["message"]
    assert seen["pending_after_refused_add"] == 0
    assert seen["kept_below_reserve"] == seen["originals"]  # nothing changed, nothing lost
    assert seen["search_below_reserve"] >= 1  # reads work on a full disk
    assert seen["reopened_below_reserve"] == 5
    # space back: writes go through, nothing acknowledged was lost
    assert seen["after_space_back"] == 6
    assert set(seen["originals"]) <= set(seen["texts_at_end"])
    print(f"opening the 5-memory store on tmpfs needed {seen['holes_mb']} MB")


def _ballast(mnt: Path, leave_mb: int) -> None:
    """Fill the tmpfs up to `leave_mb` MB free."""
    path = mnt / "ballast"
    free = shutil.disk_usage(mnt).free + (path.stat().st_size if path.exists() else 0)
    with open(path, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, max(free - leave_mb * MB, 1))


def _outcome(call: Any) -> dict[str, str]:
    from mem_integrations.core.errors import MemoryLayerError

    try:
        call()
    except MemoryLayerError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"error": "", "message": "no error"}


def scenario(mnt_text: str) -> None:
    """Runs in the child, on the tmpfs at `mnt_text`; prints what it saw as JSON."""
    from mem_integrations import Memory
    from mem_integrations.core.stores.disk_space import READ_ON_OPEN, holes_bytes
    from stress.common import HashEmbedder, memory_config

    mnt = Path(mnt_text)
    config = {**memory_config(mnt / "data"), "storage": {"min_free_mb": RESERVE_MB}}

    def memory() -> Memory:
        return Memory(config, embedder=HashEmbedder())

    seen: dict[str, Any] = {}
    with memory() as first:  # a new store: qdrant-edge's files are mostly holes
        for i in range(5):
            first.add(f"fact {i} about tea", user_id="u", infer=False)
    seen["holes_mb"] = holes_bytes(mnt / "data" / "qdrant", within=READ_ON_OPEN) // MB
    _ballast(mnt, leave_mb=max(seen["holes_mb"] // 2, 1))
    with memory() as m:
        seen["open_without_room"] = _outcome(lambda: m.get_all(user_id="u"))
    (mnt / "ballast").unlink()
    with memory() as m:
        seen["after_open_room_back"] = len(m.get_all(user_id="u").results)
        _ballast(mnt, leave_mb=RESERVE_MB // 2)
        items = m.get_all(user_id="u").results
        seen["originals"] = sorted(i.memory for i in items)
        seen["add"] = _outcome(lambda: m.add("fact 5 about tea", user_id="u", infer=False))
        seen["pending_after_refused_add"] = len(m.pending())
        seen["delete"] = _outcome(lambda: m.delete(items[0].id))
        seen["update"] = _outcome(lambda: m.update(items[0].id, text="changed"))
        seen["kept_below_reserve"] = sorted(i.memory for i in m.get_all(user_id="u").results)
        seen["search_below_reserve"] = len(m.search("tea", user_id="u").results)
    with memory() as m:
        seen["reopened_below_reserve"] = len(m.get_all(user_id="u").results)
    (mnt / "ballast").unlink()
    with memory() as m:
        m.add("fact 5 about tea", user_id="u", infer=False)
        texts = [i.memory for i in m.get_all(user_id="u").results]
        seen["after_space_back"] = len(texts)
        seen["texts_at_end"] = sorted(texts)
    print(json.dumps(seen))
