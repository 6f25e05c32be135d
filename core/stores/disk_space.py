"""Free disk space, checked before writing, so a full disk is a typed error and not a
dead process.

qdrant-edge writes through mmap: a write into a page the disk has no room for is not an
error but a SIGBUS, which kills the process with no exception. SQLite and the graph fail
more politely but half way through. So every write first asks `SpaceGuard.check`, which
refuses (`DiskFullError`, nothing written) while the free space is below a reserve
(`storage.min_free_mb`).

On tmpfs (and ramfs) even *reading* a hole of a sparse file allocates it, and
qdrant-edge's files are mostly holes (32 MB segments, filled as data comes). Opening the
store reads its payload indexes and dense vectors whole (they are kept in RAM): measured
on a tmpfs, a new 5-memory store allocated 65 MB of its 196 MB of holes the first time it
was reopened, and nothing more after. `check_can_open` refuses, typed, when that would
not fit; elsewhere reading a hole allocates nothing and opening needs no free space.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mem_integrations.core.errors import DiskFullError

if TYPE_CHECKING:
    from mem_integrations.core.config import MemoryConfig

__all__ = ["READ_ON_OPEN", "SpaceGuard", "check_can_open", "fills_holes_on_read", "free_bytes", "holes_bytes"]

MB = 1024 * 1024
_HOLE_FILLING = {"tmpfs", "ramfs"}
# the directories of what qdrant-edge reads whole on open (see above); its WAL, payload
# and sparse-vector pages are only written into as data comes
READ_ON_OPEN = frozenset({"payload_index", "vectors"})


def _existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (a data directory not made yet)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Bytes free to an unprivileged writer on the filesystem holding `path`."""
    return shutil.disk_usage(_existing(path)).free


def fills_holes_on_read(path: Path) -> bool:
    """Whether `path` is on a filesystem where reading a sparse file's hole allocates it
    (tmpfs, ramfs). Linux only; elsewhere False."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    target = str(_existing(path).resolve())
    best, kind = "", ""
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind in _HOLE_FILLING


def holes_bytes(directory: Path, *, within: frozenset[str] | None = None) -> int:
    """Bytes the sparse files under `directory` may still allocate (size minus blocks);
    with `within`, only files below a directory of one of those names."""
    total = 0
    for root, _, files in os.walk(directory):
        if within is not None and within.isdisjoint(Path(root).relative_to(directory).parts):
            continue
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:  # removed meanwhile (a segment merged away)
                continue
            total += max(0, st.st_size - st.st_blocks * 512)
    return total


class SpaceGuard:
    """Refuses writes while the free space under any of `paths` is below the reserve."""

    def __init__(self, paths: Iterable[Path], min_free_mb: int) -> None:
        self.paths = list(dict.fromkeys(_existing(Path(p)) for p in paths))
        self.reserve = min_free_mb * MB
        self.min_free_mb = min_free_mb

    @classmethod
    def for_config(cls, config: MemoryConfig) -> SpaceGuard:
        """Guarding the data directory and any store path configured outside it."""
        paths = [config.data_dir]
        for path in (config.vector_store.path, config.history.path,
                     config.graph_store.path if config.graph_store else None):
            if path and path != ":memory:":
                paths.append(config.data_dir / path)  # an absolute path stays as it is
        return cls(paths, config.storage.min_free_mb)

    def check(self, operation: str) -> None:
        """Raise `DiskFullError` (nothing written yet) if `operation` should not write."""
        if self.reserve <= 0:
            return
        for path in self.paths:
            free = free_bytes(path)
            if free < self.reserve:
                raise DiskFullError(
                    f"{operation} refused: {free // MB} MB free under {path}, below the "
                    f"reserve of {self.min_free_mb} MB (storage.min_free_mb); nothing was "
                    "written. Free some disk space (or move data_dir) and call again.")



def check_can_open(directory: Path, what: str) -> None:
    """Before an mmap engine opens `directory`: on tmpfs, what opening may allocate
        (its holes) must fit, or it would die of SIGBUS. Elsewhere opening writes
    almost nothing, so nothing is required (reads keep working on a full disk)."""
    if not directory.exists() or not fills_holes_on_read(directory):
        return
    need = holes_bytes(directory, within=READ_ON_OPEN)
    free = free_bytes(directory)
    if free < need:
        raise DiskFullError(
            f"cannot open {what} at {directory}: on this tmpfs opening it takes "
            f"{need // MB + 1} MB and only {free // MB} MB are free. Free some space "
            "(or give the tmpfs more) and open again; nothing was changed.")
