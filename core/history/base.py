"""What a history store is: the journal of adds, the history of every memory, and the
pending adds kept for `reprocess`.

Two implementations: `SQLiteHistory` (one file, the default) and `PostgresHistory`
(`history.url`, shared by several processes or hosts). `AsyncMemory` calls these methods
from worker threads (`asyncio.to_thread`), so an implementation must be thread-safe.

The contract every implementation keeps (tests/history run the same tests on both):

* `journal` writes all the operations of one add in ONE transaction, unapplied, and
  removes `done_pending` in that same transaction; it sets each op's `id` and `seq`
  and returns the batch id;
* `unapplied` lists journaled operations not yet confirmed, oldest first — on the next
  open, `AsyncMemory` replays them and calls `mark_applied`;
* `history` lists only applied operations of a memory, oldest first;
* an applied row keeps its payload: the history is the source of truth from which
  `repair` rebuilds the vector store and the graph (`applied_rows` reads it back; rows
  applied by versions before 0.x kept none, and are rebuilt from their text and scope);
* pending adds survive a restart until `drop_pending` (or a `journal(done_pending=)`);
* `begin_reset` leaves a durable mark that `reset` clears in the transaction that
  empties the store, so `reset_started` tells the next open that a reset was
  interrupted and must be finished.

What the journal's payloads mean is the write path's business (`core.journal`): a store
keeps them as opaque JSON.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from mem_integrations.core.models import Event, HistoryEntry, PendingAdd

__all__ = ["AppliedRow", "HistoryStore", "JournalOp"]


@dataclass
class JournalOp:
    """One journaled row: the history entry of one operation, with the payload a replay
    applies it from (see `core.journal`). `journal` sets `id` and `seq`."""

    memory_id: str
    event: Event
    old_memory: str | None
    new_memory: str | None
    payload: dict[str, Any] | None
    id: str = ""
    seq: int = 0


@dataclass
class AppliedRow:
    """One applied row as a rebuild reads it: the operation (`op.payload` is None for a
    memory's DELETE and for rows applied before payloads were kept), when it was
    recorded, and the scope ids of its row."""

    op: JournalOp
    created_at: datetime
    scope: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class HistoryStore(Protocol):
    """The history and write-ahead journal of one memory namespace."""

    # --- the journal -----------------------------------------------------------------

    def journal(self, ops: list[JournalOp], scope: dict[str, str], *,
                actor_id: str | None = None, role: str | None = None,
                done_pending: str | None = None) -> str:
        """Write an add's operations, unapplied, in one transaction; return the batch id.
        `done_pending` is removed from the pending adds in the same transaction."""
        ...

    def mark_applied(self, batch_id: str) -> None:
        """The batch's operations are in the vector store: they become history."""
        ...

    def unapplied(self) -> list[tuple[str, JournalOp]]:
        """Journaled operations to replay, oldest first, each with its batch id."""
        ...

    def applied_rows(self, *, after: int = 0, limit: int = 1000) -> list[AppliedRow]:
        """Applied rows with `seq` greater than `after`, in `seq` order, at most `limit`:
        page through the whole history by passing the last row's `op.seq` as `after`."""
        ...

    # --- history -----------------------------------------------------------------------

    def history(self, memory_id: str) -> list[HistoryEntry]:
        """Every applied change to one memory, oldest first."""
        ...

    def scope_history(self, scope: dict[str, str] | None) -> list[HistoryEntry]:
        """Every applied change to the memories of a scope (every id given must match;
        None: all scopes), oldest first — deleted memories' included, for exports."""
        ...

    def import_entries(self, entries: list[HistoryEntry]) -> int:
        """Write history entries made elsewhere (a migration), applied, under their own
        ids and times, after what is there, in the order given; an id already present is
        skipped, so importing again adds nothing. Returns how many were new."""
        ...

    # --- pending adds --------------------------------------------------------------------

    def save_pending(self, messages: list[dict[str, str]], scope: dict[str, str],
                     metadata: dict[str, Any] | None, options: dict[str, Any]) -> str:
        """Keep an add's messages durably before the LLM is called; return its id."""
        ...

    def fail_pending(self, pending_id: str, error: str) -> None:
        ...

    def drop_pending(self, pending_id: str) -> None:
        ...

    def get_pending(self, pending_id: str) -> tuple[PendingAdd, dict[str, Any]] | None:
        """A kept add and its options (infer, memory_type, prompt), or None."""
        ...

    def list_pending(self) -> list[PendingAdd]:
        ...

    def discard_pending(self, pending_id: str) -> bool:
        """Give up on a pending add: it leaves `list_pending` / `get_pending` but its row
        (messages included) stays, marked discarded with the time, for `list_discarded`.
        False when there is no such pending add (or it was discarded already)."""
        ...

    def list_discarded(self) -> list[PendingAdd]:
        """The adds `discard_pending` gave up on, oldest first, messages included."""
        ...

    # --- lifecycle -----------------------------------------------------------------------

    def scope_lock(self, scope: dict[str, str]) -> AbstractContextManager[None]:
        """Held (in a worker thread) while an add or a change for `scope` plans and
        commits, so that processes sharing this store do not race on one scope. Within
        one process `AsyncMemory` already serialises a scope."""
        ...

    def begin_reset(self) -> None:
        """Mark, durably, that a reset has started (the stores are about to be dropped)."""
        ...

    def reset_started(self) -> bool:
        """Whether a reset began and did not finish (`reset` clears the mark)."""
        ...

    def reset(self) -> None:
        """Delete all history and pending adds, and the reset mark, in one transaction."""
        ...

    def close(self) -> None:
        ...
