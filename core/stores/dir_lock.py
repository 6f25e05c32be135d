"""One process, one `Memory`, per embedded data directory — and an error that says who
holds it.

The embedded engines lock their files themselves, but their errors only say "would
block", whoever holds the lock: a second `Memory` on the same directory in this process
was told "open in another process". Ours is taken first: an in-process registry answers
"this process" (with our pid), and the lock file holds the pid of the process that has
it, which the error names.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from mem_integrations.core.errors import StoreLockedError

__all__ = ["DirectoryLock"]

_held: set[str] = set()
_registry = threading.Lock()


class DirectoryLock:
    """An exclusive lock on `directory`, through the file `<directory>/<name>`; `what`
    names the store in errors ("embedded Qdrant")."""

    def __init__(self, directory: Path, what: str, *, share_hint: str,
                 name: str = "mem_integrations.lock") -> None:
        self.directory = Path(directory)
        self.path = self.directory / name
        self.what = what
        self.share_hint = share_hint
        self._fd: int | None = None
        self._key = ""

    def acquire(self) -> None:
        """Take the lock, or raise `StoreLockedError` naming the holder."""
        if self._fd is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        with _registry:
            if key in _held:
                raise StoreLockedError(
                    f"{self.directory} is already open in this process (pid {os.getpid()}), "
                    f"by another Memory: use that one, or close() it before opening "
                    f"another ({self.what} allows one at a time)")
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreLockedError(
                    f"{self.directory} is open in another process (pid {holder}); "
                    f"{self.what} allows one process per data directory: stop that "
                    f"process, or {self.share_hint}") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held.add(key)
            self._fd, self._key = fd, key

    def release(self) -> None:
        """Let go (closing the file releases the lock); the file stays, empty of meaning."""
        with _registry:
            if self._fd is None:
                return
            os.close(self._fd)
            _held.discard(self._key)
            self._fd = None
