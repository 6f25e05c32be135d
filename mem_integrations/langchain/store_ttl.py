"""TTL for the LangGraph store, as LangGraph defines it (`langgraph.store.base.TTLConfig`).

An item put with a `ttl` (minutes; the config's `default_ttl` when the put gives none)
expires `ttl` minutes after it was written, or after it was last read with
`refresh_ttl` (LangGraph's `refresh_on_read`, default on). An expired item is never
returned, whether or not it was swept yet. The sweeper deletes expired items every
`sweep_interval_minutes` (LangGraph's default: 5) in a background thread, or in a task
on the store's event loop for a store over `AsyncMemory`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.store.base import TTLConfig

from mem_integrations.core.errors import MemoryClosedError

log = logging.getLogger(__name__)

DEFAULT_SWEEP_MINUTES = 5.0


def expires_at(ttl_minutes: float | None, now: float) -> float | None:
    """When an item written (or refreshed) at `now` (epoch seconds) expires."""
    return None if ttl_minutes is None else now + float(ttl_minutes) * 60.0


def is_expired(expiry: Any, now: float) -> bool:
    return expiry is not None and float(expiry) <= now


def sweep_interval(config: TTLConfig | None, minutes: float | None) -> float:
    """Seconds between sweeps: the call's minutes, else the config's, else 5 minutes."""
    chosen = minutes or (config or {}).get("sweep_interval_minutes") or DEFAULT_SWEEP_MINUTES
    return float(chosen) * 60.0


class ThreadSweeper:
    """Calls `sweep` every `interval` seconds in a daemon thread until stopped."""

    def __init__(self, sweep: Callable[[], int], interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(sweep, interval),
                                        daemon=True, name="memory-store-ttl-sweeper")
        self._thread.start()

    def _loop(self, sweep: Callable[[], int], interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                if swept := sweep():
                    log.info("store TTL sweep deleted %d expired items", swept)
            except MemoryClosedError:
                return  # the store's memory is gone: so is the work
            except Exception:  # a failed sweep is retried at the next interval
                log.exception("store TTL sweep failed")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> bool:
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()


def start_task_sweeper(sweep: Callable[[], Awaitable[int]], interval: float
                       ) -> asyncio.Task[None]:
    """The async twin of `ThreadSweeper`: a task on the running loop; cancel it to stop."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                if swept := await sweep():
                    log.info("store TTL sweep deleted %d expired items", swept)
            except MemoryClosedError:
                return  # the store's memory is gone: so is the work
            except Exception:  # a failed sweep is retried at the next interval
                log.exception("store TTL sweep failed")

    return asyncio.get_running_loop().create_task(loop(), name="memory-store-ttl-sweeper")
