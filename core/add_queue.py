"""The queue of pending adds and the worker that runs it, in the engine's event loop.

One mechanism for every add that is not being run by its caller right now:

* a non-blocking add (`add(..., async_mode=True)`) is kept in the history store's pending
  table (durably, before `add` returns) and put here;
* when a memory opens, what an outage, an exit or a SIGKILL left pending is put here too,
  oldest first (`pending.retry_on_open`).

Adds of one scope run one at a time, in the order they were queued (a later add may
update what an earlier one wrote); different scopes run concurrently, at most
`pending.workers` at once. A failed try is retried with exponential backoff; an outage
that outlasts `pending.max_attempts` tries pauses the queue: what is left stays queued
(and in `pending()`) until the next add is queued, the next open, or `reprocess(id)`,
rather than each add burning its tries against the same dead server. Adds that can never
succeed (their input is refused) are left for `discard`, with a log line saying so.

Nothing is lost if the process dies: the pending row is removed in the transaction that
journals the add's writes (see `core.writer`), so after a crash each queued add is either
journaled (and the replay applies it) or still pending (and the next open runs it):
exactly once either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING

from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryClosedError,
    MemoryLayerError,
    PendingNotFoundError,
)

if TYPE_CHECKING:
    from mem_integrations.core.async_memory import AsyncMemory
    from mem_integrations.core.config import PendingConfig

__all__ = ["AddQueue", "QUEUED", "PROCESSING"]

log = logging.getLogger(__name__)

_MAX_BACKOFF = 300.0
QUEUED = "queued"
PROCESSING = "processing"

ScopeKey = tuple[tuple[str, str], ...]


def scope_key(scope: dict[str, str]) -> ScopeKey:
    return tuple(sorted(scope.items()))


class AddQueue:
    """Pending adds waiting to run, one chain per scope. Lives on one event loop: call
    its methods from that loop only (`AsyncMemory` does)."""

    def __init__(self, memory: AsyncMemory, config: PendingConfig) -> None:
        self._memory = memory
        self._config = config
        self._chains: dict[ScopeKey, deque[str]] = {}
        self._workers: dict[ScopeKey, asyncio.Task[None]] = {}
        self._running: set[str] = set()
        self._queued: set[str] = set()
        self._slots: asyncio.Semaphore | None = None
        self._paused = False
        self._closed = False

    def put(self, pending_id: str, scope: dict[str, str]) -> None:
        """Queue a kept add of `scope` behind that scope's earlier ones. A paused queue
        (an outage outlasted the tries) resumes: a new add is worth another try."""
        if self._closed or pending_id in self._queued:
            return
        key = scope_key(scope)
        self._queued.add(pending_id)
        self._chains.setdefault(key, deque()).append(pending_id)
        if self._paused:
            self._paused = False
            for waiting in [k for k, chain in self._chains.items() if chain]:
                self._start(waiting)
        else:
            self._start(key)

    def status(self, pending_id: str) -> str | None:
        """`"processing"` while the worker runs it, `"queued"` before, None when it is
        not in the queue (done, failed for good, or never queued)."""
        if pending_id in self._running:
            return PROCESSING
        return QUEUED if pending_id in self._queued else None

    def __len__(self) -> int:
        return len(self._queued)

    async def drain(self) -> None:
        """Wait until every chain has stopped: each queued add is done, failed for good,
        or left queued by a pause."""
        while True:
            busy = [t for t in self._workers.values() if not t.done()]
            if not busy:
                return
            await asyncio.gather(*(asyncio.shield(t) for t in busy), return_exceptions=True)

    async def settled(self, scope: dict[str, str]) -> None:
        """Wait for the queued adds of `scope` to run (unless the queue is paused), so that
        a blocking add of the same scope comes after them, as it was made after them."""
        task = self._workers.get(scope_key(scope))
        if task is not None and not task.done():
            await asyncio.shield(task)

    async def close(self) -> None:
        """Stop the worker. What it did not finish stays pending for the next open."""
        self._closed = True
        # a task of a loop that has stopped (an AsyncMemory used across asyncio.run calls)
        # can neither be cancelled nor awaited; it never runs again anyway
        tasks = [t for t in self._workers.values()
                 if not t.done() and t.get_loop().is_running()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            if task.get_loop() is asyncio.get_running_loop():
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _start(self, key: ScopeKey) -> None:
        task = self._workers.get(key)
        if task is None or task.done():
            self._workers[key] = asyncio.get_running_loop().create_task(self._run(key))

    async def _run(self, key: ScopeKey) -> None:
        """One scope's chain, oldest first, until it is empty or the queue pauses. Runs as
        a background task: anything unexpected is logged, not left to the garbage
        collector."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._config.workers)
        chain = self._chains[key]
        try:
            while chain and not self._paused:
                pending_id = chain[0]
                async with self._slots:
                    if self._paused:
                        break
                    self._running.add(pending_id)
                    try:
                        outcome = await self._run_one(pending_id)
                    finally:
                        self._running.discard(pending_id)
                if outcome is None:  # the outage outlasted the tries: pause, keep it queued
                    self._pause()
                    break
                chain.popleft()
                self._queued.discard(pending_id)
        except MemoryClosedError:
            return
        except Exception:
            log.exception("running pending adds failed; they stay in pending()")

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            log.warning("pending adds stay queued until the next add, the next open (or "
                        "reprocess(id)); see pending()")

    async def _run_one(self, pending_id: str) -> bool | None:
        """True when it went through, False when it can never (or need no longer) be
        run, None when the outage outlasted the tries."""
        config = self._config
        delay = config.backoff_seconds
        for attempt in range(1, config.max_attempts + 1):
            try:
                await self._memory.reprocess(pending_id)
                return True
            except PendingNotFoundError:
                return False  # done (a reprocess) or discarded meanwhile
            except InvalidInputError as exc:
                log.warning("pending add %s cannot succeed (%s): discard(%r) to give up on it",
                            pending_id, exc, pending_id)
                return False
            except MemoryClosedError:
                raise
            except MemoryLayerError as exc:
                if attempt == config.max_attempts:
                    log.warning("pending add %s failed %d time(s), last: %s", pending_id,
                                attempt, exc)
                    return None
                log.info("pending add %s failed (try %d of %d), retrying in %.1f s: %s",
                         pending_id, attempt, config.max_attempts, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
        return None
