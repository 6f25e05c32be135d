"""Pending adds retried when a memory opens: what a crash, an exit mid-add or a provider
or store outage left behind is finished without anyone calling `reprocess`.

Oldest first, one at a time (adds of one scope must apply in the order they were made),
with exponential backoff between tries of one add. An outage that outlasts the tries ends
the pass: the rest wait for the next open rather than each burning its tries against the
same dead server. Adds that can never succeed (their input is refused) are left for
`discard`, with a log line saying so.
"""

from __future__ import annotations

import asyncio
import logging
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

__all__ = ["retry_pending"]

log = logging.getLogger(__name__)

_MAX_BACKOFF = 300.0


async def retry_pending(memory: AsyncMemory, config: PendingConfig) -> int:
    """Reprocess every pending add of `memory`; the number that succeeded. Runs as a
    background task: anything unexpected is logged with its traceback, not left for the
    garbage collector to report."""
    try:
        return await _retry_all(memory, config)
    except MemoryClosedError:
        return 0
    except Exception:
        log.exception("retrying pending adds failed; they stay in pending()")
        return 0


async def _retry_all(memory: AsyncMemory, config: PendingConfig) -> int:
    kept = await memory.pending()
    if not kept:
        return 0
    log.info("retrying %d pending add(s) kept by an earlier run (pending.retry_on_open)",
             len(kept))
    done = 0
    for item in kept:
        outcome = await _retry_one(memory, item.id, config)
        if outcome is None:
            log.warning("pending adds stay kept until the next open (or reprocess(id)); "
                        "see pending()")
            break
        done += outcome
    if done:
        log.info("%d pending add(s) done", done)
    return done


async def _retry_one(memory: AsyncMemory, pending_id: str, config: PendingConfig
                     ) -> bool | None:
    """True when it went through, False when it can never (or need no longer) be retried,
    None when the outage outlasted the tries (the pass stops)."""
    delay = config.backoff_seconds
    for attempt in range(1, config.max_attempts + 1):
        try:
            await memory.reprocess(pending_id)
            return True
        except (PendingNotFoundError, MemoryClosedError):
            return False  # done or discarded meanwhile, or the memory is closing
        except InvalidInputError as exc:
            log.warning("pending add %s cannot succeed (%s): discard(%r) to give up on it",
                        pending_id, exc, pending_id)
            return False
        except MemoryLayerError as exc:
            if attempt == config.max_attempts:
                log.warning("pending add %s failed %d time(s), last: %s", pending_id, attempt,
                            exc)
                return None
            log.info("pending add %s failed (try %d of %d), retrying in %.1f s: %s",
                     pending_id, attempt, config.max_attempts, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
    return None
