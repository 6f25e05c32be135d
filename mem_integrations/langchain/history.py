"""A `BaseChatMessageHistory` that keeps the raw thread and feeds long-term memory.

The thread is kept verbatim, per session, in its own SQLite file in the memory's data
directory (`chat_history.db`), so it survives restarts next to the memories it fed. Each
new turn is then sent to `Memory.add` for extraction: only the messages not sent before,
so a turn costs one add however long the thread grows.

A cursor per session records what was sent. It is claimed before the add and given back
if the add crashes, so a message is never sent twice and never lost: an add that failed
(LLM down, process killed) is retried with the next turn. When the LLM's reply was
unusable the engine itself keeps the messages as a pending add (see `Memory.pending()`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from mem_integrations._common import Background, fixed_scope, require_scope
from mem_integrations.core.errors import InvalidInputError, ProviderError
from mem_integrations.core.sync_memory import AnyMemory, bridge

log = logging.getLogger(__name__)

HISTORY_FILE = "chat_history.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_messages (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_messages_session ON chat_messages (session_id, seq);
CREATE TABLE IF NOT EXISTS chat_cursors (
    session_id  TEXT PRIMARY KEY,
    remembered  INTEGER NOT NULL DEFAULT 0
);
"""


class _ThreadFile:
    """One SQLite file shared by every history object that uses it (histories are made
    per call by `RunnableWithMessageHistory`: opening a connection each time is waste)."""

    _open: dict[Path, _ThreadFile] = {}
    _registry_lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0,
                                    isolation_level=None)
        self.lock = threading.RLock()
        with self.lock:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.conn.executescript(_SCHEMA)

    @classmethod
    def at(cls, path: Path) -> _ThreadFile:
        key = path.resolve()
        with cls._registry_lock:
            if key not in cls._open:
                cls._open[key] = cls(key)
            return cls._open[key]

    def append(self, session_id: str, messages: Sequence[BaseMessage]) -> None:
        now = datetime.now(UTC).isoformat()
        rows = [(session_id, json.dumps(message_to_dict(m), ensure_ascii=False), now)
                for m in messages]
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany("INSERT INTO chat_messages (session_id, message,"
                                      " created_at) VALUES (?,?,?)", rows)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def read(self, session_id: str, after: int = 0) -> list[tuple[int, BaseMessage]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT seq, message FROM chat_messages WHERE session_id = ? AND seq > ?"
                " ORDER BY seq", (session_id, after)).fetchall()
        return list(zip([r[0] for r in rows],
                        messages_from_dict([json.loads(r[1]) for r in rows]), strict=True))

    def clear(self, session_id: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM chat_messages WHERE session_id = ?", (session_id,))

    def claim(self, session_id: str) -> tuple[int, list[tuple[int, BaseMessage]]]:
        """Move the session's cursor past its unsent messages and return them (with the
        old cursor, to give them back if the add crashes)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                row = self.conn.execute("SELECT remembered FROM chat_cursors WHERE"
                                        " session_id = ?", (session_id,)).fetchone()
                cursor = int(row[0]) if row else 0
                rows = self.conn.execute(
                    "SELECT seq, message FROM chat_messages WHERE session_id = ? AND seq > ?"
                    " ORDER BY seq", (session_id, cursor)).fetchall()
                if rows:
                    self.conn.execute(
                        "INSERT INTO chat_cursors (session_id, remembered) VALUES (?, ?)"
                        " ON CONFLICT(session_id) DO UPDATE SET remembered = excluded.remembered",
                        (session_id, rows[-1][0]))
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        messages = messages_from_dict([json.loads(r[1]) for r in rows])
        return cursor, list(zip([r[0] for r in rows], messages, strict=True))

    def give_back(self, session_id: str, claimed_to: int, cursor: int) -> None:
        with self.lock:
            self.conn.execute("UPDATE chat_cursors SET remembered = ? WHERE session_id = ?"
                              " AND remembered = ?", (cursor, session_id, claimed_to))

    def remembered(self, session_id: str) -> int:
        with self.lock:
            row = self.conn.execute("SELECT remembered FROM chat_cursors WHERE session_id = ?",
                                    (session_id,)).fetchone()
        return int(row[0]) if row else 0


# Turns of one session are sent in order: a later turn's add waits for the earlier one.
_session_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                          dict[tuple[Path, str], asyncio.Lock]] = \
    weakref.WeakKeyDictionary()


def _session_lock(path: Path, session_id: str) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    locks = _session_locks.setdefault(loop, {})
    return locks.setdefault((path, session_id), asyncio.Lock())


class MemoryChatMessageHistory(BaseChatMessageHistory):
    """Chat history for `RunnableWithMessageHistory` that also feeds long-term memory.

    >>> chain_with_history = RunnableWithMessageHistory(
    ...     chain, lambda session_id: MemoryChatMessageHistory(memory, session_id,
    ...                                                        user_id="alice"),
    ...     input_messages_key="question", history_messages_key="history")

    Args:
        memory: the `Memory` (or, for async-only use, `AsyncMemory`) to feed.
        session_id: the conversation thread.
        user_id, agent_id, run_id: the scope new memories are stored under (at least one,
            unless `remember=False`). Memories are not tied to the session by default, so
            they are found from every later session; the session id is kept in each
            memory's metadata.
        remember: feed new turns to `Memory.add` (default). False keeps the thread only.
        background: return as soon as the messages are stored and run the add in the
            background (`wait_for_memory()` / `await_memory()` settle it). Default False:
            `add_messages` returns when the add is done, so the chain is held exactly as
            long as the add takes.
        path: the SQLite file. Default: `chat_history.db` in the memory's data directory.
        metadata: extra metadata for the memories this history creates.
    """

    def __init__(
        self,
        memory: AnyMemory,
        session_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        remember: bool = True,
        background: bool = False,
        path: str | Path | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise InvalidInputError("session_id must be a non-empty string")
        self.bridge = bridge(memory)
        self.session_id = session_id
        self.scope = fixed_scope(user_id, agent_id, run_id)
        if remember:
            require_scope(self.scope, "MemoryChatMessageHistory")
        self.remember = remember
        self.background = background
        self.metadata = {**(metadata or {}), "session_id": session_id}
        self.path = Path(path) if path else self.bridge.async_memory.config.data_dir / HISTORY_FILE
        self._file = _ThreadFile.at(self.path)
        self._background = Background()

    def __repr__(self) -> str:
        return (f"MemoryChatMessageHistory(session_id={self.session_id!r}, scope={self.scope}, "
                f"path={str(self.path)!r})")

    # --- the raw thread ----------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The whole thread, oldest first."""
        return [m for _, m in self._file.read(self.session_id)]

    async def aget_messages(self) -> list[BaseMessage]:
        rows = await asyncio.to_thread(self._file.read, self.session_id)
        return [m for _, m in rows]

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store the messages, then send what has not been remembered yet to `add`."""
        if not messages:
            return
        self._file.append(self.session_id, messages)
        if not self.remember:
            return
        if self.background:
            self._background.track(self.bridge.submit(self._feed()), "memory add")
        else:
            self.bridge.run(self._feed())

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        if not messages:
            return
        await asyncio.to_thread(self._file.append, self.session_id, messages)
        if not self.remember:
            return
        if self.background:
            self._background.track(self.bridge.submit(self._feed()), "memory add")
        else:
            await self.bridge.arun(self._feed())

    def clear(self) -> None:
        """Forget the thread (long-term memories it produced are kept)."""
        self._file.clear(self.session_id)

    async def aclear(self) -> None:
        await asyncio.to_thread(self._file.clear, self.session_id)

    # --- long-term memory --------------------------------------------------------------

    def wait_for_memory(self, timeout: float | None = None) -> None:
        """Block until the background adds of this history object are done."""
        self._background.wait(timeout)

    async def await_memory(self) -> None:
        """Await the background adds of this history object."""
        await self._background.await_all()

    async def _feed(self) -> None:
        """Send the session's unsent messages to `add` (runs on the engine's loop)."""
        async with _session_lock(self.path, self.session_id):
            cursor, claimed = await asyncio.to_thread(self._file.claim, self.session_id)
            if not claimed:
                return
            try:
                await self.bridge.async_memory.add([m for _, m in claimed], **self.scope,
                                           metadata=self.metadata)
            except InvalidInputError:
                return  # nothing worth remembering (tool calls only, empty text)
            except ProviderError as exc:
                # The engine keeps these messages as a pending add; resending them would
                # duplicate that, so the cursor stays moved.
                log.warning("memory add for session %s failed; kept as pending add %s: %s",
                            self.session_id, exc.pending_id, exc.reason)
                raise
            except BaseException:
                await asyncio.to_thread(self._file.give_back, self.session_id,
                                        claimed[-1][0], cursor)
                raise
