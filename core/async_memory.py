"""`AsyncMemory`: the one implementation of the memory engine. `Memory` wraps it.

One `add()` is the design's steps, in order: normalise the messages (`core.messages`),
extract facts in one LLM call (`core.pipeline.extractor`), then under the scope's lock
embed, find neighbours and reconcile (`core.pipeline.add`, `core.pipeline.graph`), and
journal, apply and confirm the writes (`core.writer`, in the vocabulary of
`core.journal`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mem_integrations.core.add_queue import QUEUED, AddQueue
from mem_integrations.core.config import MemoryConfig, load_config
from mem_integrations.core.consistency import (
    check_on_open,
    collection_info,
    open_vector_store,
)
from mem_integrations.core.errors import (
    InvalidInputError,
    MemoryClosedError,
    MemoryNotFoundError,
    PendingNotFoundError,
    ProviderError,
    StoreError,
    StoreLockedError,
)
from mem_integrations.core.export import JsonlImport, export_jsonl, fill_schema, import_jsonl
from mem_integrations.core.factory import (
    build_embedder,
    build_extractor,
    build_graph_store,
    build_history,
    build_vector_store,
)
from mem_integrations.core.filters import (
    Condition,
    FilterNode,
    Logical,
    all_of,
    parse_filters,
    scope_filter,
)
from mem_integrations.core.graph.base import GraphStore, RelationRecord, name_key
from mem_integrations.core.history.base import HistoryStore
from mem_integrations.core.images import ImagesSkippedWarning, check_images
from mem_integrations.core.imports import (
    ImportedMemory,
    ImportedRelation,
    ImportResult,
    import_records,
    import_relations,
)
from mem_integrations.core.journal import (
    MemoryDelete,
    MemoryUpsert,
    RelationInvalidate,
    ScopeWipe,
    WriteOp,
)
from mem_integrations.core.mem0_calls import accept_mem0_options
from mem_integrations.core.messages import Message, normalize_messages, without_images
from mem_integrations.core.models import (
    AddResult,
    Event,
    HistoryEntry,
    MemoryEvent,
    MemoryItem,
    MessageResult,
    PendingAdd,
    PutItem,
    Relation,
    ScopeSummary,
    SearchResult,
    UsersResult,
)
from mem_integrations.core.pipeline.add import AddContext, AddPlanner, Plan, Verbatim
from mem_integrations.core.pipeline.extractor import Extractor
from mem_integrations.core.pipeline.graph import GraphPlanner
from mem_integrations.core.pipeline.schema import Extraction
from mem_integrations.core.pipeline.single_call import SingleCallPlanner
from mem_integrations.core.providers.base import ChatModel, Embedder
from mem_integrations.core.providers.known_models import covers_cjk
from mem_integrations.core.records import (
    ACTOR_ID,
    CATEGORIES,
    CREATED_AT,
    DATA,
    MAX_MEMORY_CHARS,
    MAX_METADATA_BYTES,
    MEMORY_TYPE,
    METADATA,
    PROCEDURAL,
    ROLE,
    SUPERSEDED_BY,
    check_memory_id,
    check_messages,
    check_metadata,
    check_text,
    embedded_text,
    make_payload,
    payload_scope,
    to_item,
)
from mem_integrations.core.redaction import (
    install_log_redaction,
    redact_text,
    register_secrets_of,
)
from mem_integrations.core.repair import Progress, RepairReport, repair
from mem_integrations.core.scope import SCOPE_KEYS, Scope
from mem_integrations.core.search.fusion import Ranked, cosine, dense_weight_for
from mem_integrations.core.search.lexical import BM25Encoder
from mem_integrations.core.search.ranking import POOL, fused, needs_vectors, rescore
from mem_integrations.core.search.rerank import RerankStage
from mem_integrations.core.search.speaker import named_speakers, speaker_field, without_names
from mem_integrations.core.sources import dated
from mem_integrations.core.stores.base import CollectionInfo, Hit, SearchRequest, VectorStore
from mem_integrations.core.stores.boundary import check_dimension
from mem_integrations.core.stores.disk_space import SpaceGuard
from mem_integrations.core.timeline import (
    SourceDeletion,
    as_of_iso,
    carried,
    delete_source,
    history_chain,
    narrowed,
    narrowing,
    read_filter,
    sourced,
)
from mem_integrations.core.turn_context import predecessors, released, with_context
from mem_integrations.core.validation import check_clean_text
from mem_integrations.core.validity import event_time
from mem_integrations.core.writer import PAGE, Writer, Writes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Accepted:
    """An add that passed its checks: what is kept as its pending add."""

    scope: Scope
    messages: list[Message]
    metadata: dict[str, Any] | None
    options: dict[str, Any]
    skipped_images: int


def _limit(limit: int | None, top_k: int | None, default: int | None) -> int | None:
    """`top_k` (mem0 2.x) is `limit`; giving both with different values is an error."""
    if limit is not None and top_k is not None and limit != top_k:
        raise InvalidInputError(f"limit={limit!r} and top_k={top_k!r} disagree; give one")
    return next((n for n in (limit, top_k) if n is not None), default)


def _check_query(query: Any) -> None:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("query must be a non-empty string")
    if len(query) > MAX_MEMORY_CHARS:
        raise InvalidInputError(f"query is longer than {MAX_MEMORY_CHARS} characters")
    check_clean_text(query, "query")


def _check_filter(where: Any) -> None:
    if not isinstance(where, (Condition, Logical)):
        raise InvalidInputError("where must be a filter (core.filters.Condition or Logical), "
                                f"got {type(where).__name__}")


class AsyncMemory:
    """Long-term memory for agents, async.

    `AsyncMemory()` runs fully local: embedded Qdrant, SQLite history and a local
    embedder under `~/.mem_integrations` (or `data_dir=`), and an LLM when one is
    configured (`OPENAI_API_KEY`, or `llm=` settings), the offline extractor otherwise.

    Parts can be passed in ready-made — `chat_model=` (any `ChatModel`), `embedder=`,
    `vector_store=` — which is how the LangChain and LlamaIndex adapters plug in models.
    """

    def __init__(
        self,
        config: MemoryConfig | dict[str, Any] | str | Path | None = None,
        *,
        data_dir: str | Path | None = None,
        chat_model: ChatModel | None = None,
        embedder: Embedder | None = None,
        vector_store: VectorStore | None = None,
    ) -> None:
        overrides = {"data_dir": data_dir} if data_dir is not None else {}
        self.config: MemoryConfig = load_config(config, **overrides)
        # before any provider or driver can echo a key or a URL's password
        register_secrets_of(self.config)
        install_log_redaction()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.extractor: Extractor = build_extractor(self.config, chat_model)
        self.embedder: Embedder = embedder or build_embedder(self.config)
        self.store: VectorStore = vector_store or build_vector_store(self.config)
        self.history_store: HistoryStore = build_history(self.config)
        self.graph: GraphStore | None = build_graph_store(self.config)
        self.lexical = BM25Encoder()
        self.reranking = RerankStage(self.config.search.rerank,
                                     lambda: getattr(self.extractor, "chat", None))
        # known once: the embedder does not change, and search asks on every query
        self._embedder_covers_cjk = covers_cjk(self.embedder.model_name,
                                               self.config.embedder.multilingual)
        new_id = lambda: str(uuid.uuid4())  # noqa: E731
        graph_planner = GraphPlanner(self.graph, self.embedder, self.config.graph_store, new_id) \
            if self.graph is not None else None
        self.planner = AddPlanner(self.extractor, self.embedder, self.store,
                                  self.config.reconcile, new_id, graph=graph_planner,
                                  turn_context=self.config.search.ranking.previous_turn_context)
        self.single_call = SingleCallPlanner(self.planner, self.graph)
        self.space = SpaceGuard.for_config(self.config)
        self.writer = Writer(self.store, self.graph, self.history_store, self.embedder,
                             self.lexical, on_unapplied=self._replay_before_next_call,
                             before_write=self._before_write)
        self._closed = False
        self._info: CollectionInfo | None = None
        self._ready = False
        self._ready_lock: asyncio.Lock | None = None
        self._in_flight: set[str] = set()
        self.queue = AddQueue(self, self.config.pending)
        self._kept_queued = False
        self._warned_images = False

    @classmethod
    def from_config(cls, config: MemoryConfig | dict[str, Any] | str | Path, **parts: Any
                    ) -> AsyncMemory:
        """Build from a config dict, a `MemoryConfig`, or a JSON/TOML file path."""
        return cls(config, **parts)

    def __repr__(self) -> str:
        return (f"AsyncMemory(data_dir={str(self.config.data_dir)!r}, store={self.store!r}, "
                f"embedder={self.embedder!r}, extractor={type(self.extractor).__name__})")

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        """Open the stores and replay any journal a crash left behind. Every method does
        this on first use; call it to pay the start-up cost (model load) up front."""
        self._check_not_closed()
        if self._ready:
            return
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._ready:
                return
            info = await collection_info(self)
            await asyncio.to_thread(open_vector_store, self, info)
            self._info = info
            if self.graph is not None:
                await asyncio.to_thread(self.graph.open, info.dimension)
            await self.writer.recover()
            await check_on_open(self)  # a store that lost what the history holds: repair
            self._ready = True
            if not self._kept_queued and self.config.pending.retry_on_open:
                # once per instance, and before open() returns, so that what an earlier run
                # kept is queued ahead of any add made now; a reopen after a failed write
                # must not race a caller's own reprocess of what that failure kept
                self._kept_queued = True
                await self._queue_kept()

    async def _queue_kept(self) -> None:
        """Queue, oldest first, the pending adds an outage, an exit or a SIGKILL left (an
        add being run by its caller right now is not among them)."""
        kept = [p for p in await asyncio.to_thread(self.history_store.list_pending)
                if p.id not in self._in_flight]
        if kept:
            log.info("queueing %d pending add(s) kept by an earlier run "
                     "(pending.retry_on_open)", len(kept))
        for item in kept:
            self.queue.put(item.id, item.scope)

    def _before_write(self, writes: Writes) -> None:
        """What must hold before anything is journaled: room on the disk, and vectors of
        the collection's size (the embedder's output may not be what it said)."""
        self.space.check("this write")
        check_dimension(self.config.vector_store.collection, self._info, writes.vectors.values())

    async def warm_up(self, announce: Callable[[str], None] | None = None) -> None:
        """Open the stores and load the embedding model now, so the first call does not
        pay for them (servers call this before they say they are ready). `announce`
        (e.g. `print`) hears of any step that takes over a second: its name when it
        starts to take long, then how long it took."""
        load = getattr(self.embedder, "load", None)
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [("opening the stores",
                                                                   self.open)]
        if callable(load):
            steps.append((f"loading the embedding model {self.embedder.model_name}",
                          lambda: asyncio.to_thread(load)))
        for what, step in steps:
            started = time.monotonic()
            task = asyncio.ensure_future(step())
            done, _ = await asyncio.wait({task}, timeout=1.0)
            if not done and announce is not None:
                announce(f"{what}...")
            await task
            if not done and announce is not None:
                announce(f"{what}: done in {time.monotonic() - started:.1f} s")

    def _check_not_closed(self) -> None:
        if self._closed:
            raise MemoryClosedError(
                "this memory was closed (close(), or the end of its with/async with block): "
                "make a new Memory / AsyncMemory on the same data_dir to go on")

    def _replay_before_next_call(self) -> None:
        # A write failed between journal and confirm: reopening replays the journal.
        self._ready = False

    async def close(self) -> None:
        """Release the stores and the providers' HTTP connections. The queue of pending
        adds stops: what it did not finish stays pending and runs at the next open (call
        `flush()` first to wait for it)."""
        await self.queue.close()
        await self.writer.settle()  # the graph's background checkpoint, now
        await self.reranking.aclose()
        if self.graph is not None:
            await asyncio.to_thread(self.graph.close)
        for part in (getattr(self.extractor, "chat", None), self.embedder):
            aclose = getattr(part, "aclose", None)
            if aclose is not None:
                await aclose()
        await asyncio.to_thread(self.store.close)
        await asyncio.to_thread(self.history_store.close)
        self._ready = False
        self._closed = True

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- writing -------------------------------------------------------------------------

    async def add(
        self,
        messages: Any,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        infer: bool = True,
        memory_type: str | None = None,
        prompt: str | None = None,
        async_mode: bool = False,
        timestamp: Any = None,
        **mem0_options: Any,
    ) -> AddResult:
        """Remember what matters in `messages` for the given scope.

        With `infer=True` (default) ONE LLM call extracts facts; exact repeats are dropped
        by hash; facts close to existing memories go to ONE reconcile call that decides
        ADD / UPDATE / DELETE / NONE. With `infer=False` each message is stored verbatim.
        `memory_type="procedural_memory"` (needs `agent_id`) stores one summary of an
        agent's run. `prompt` replaces the extraction (or procedure) instructions.

        `timestamp` (a datetime, date, ISO 8601 string or Unix seconds) is when the
        messages were said: it dates those without a timestamp of their own, relative dates
        in them are resolved against it, and the memories are valid from it (see
        `core.validity`; sources in `core.sources`).

        `async_mode=True` (mem0's name) does not wait: the messages are kept durably and
        queued, and the result, at once, has `status="queued"`, the `pending_id` and no
        events. The queue runs in the background, in order within a scope and concurrently
        across scopes; `pending()` shows it, `flush()` waits for it, and what a crash or an
        exit leaves queued runs at the next open (see `core.add_queue`).

        Raises `InvalidInputError` / `MissingScopeError` before anything is written, and
        `LLMResponseError` (with a `pending_id` for `reprocess`) when the LLM's reply is
        unusable; nothing is lost.
        """
        accepted = self._accept(
            messages, user_id=user_id, agent_id=agent_id, run_id=run_id, metadata=metadata,
            infer=infer, memory_type=memory_type, prompt=prompt, async_mode=async_mode,
            timestamp=timestamp, **mem0_options)
        if isinstance(accepted, AddResult):
            return accepted
        # Keep the messages first: opening may replay a journal, which needs the embedder,
        # and a provider failing there must not lose what the user said.
        pending_id = await asyncio.to_thread(self._keep, accepted)
        # claimed while opening: the kept adds that open() queues are not this one
        self._in_flight.add(pending_id)
        try:
            await self._open_keeping(pending_id)
        finally:
            self._in_flight.discard(pending_id)
        if async_mode:
            self.queue.put(pending_id, accepted.scope.ids())
            return self._queued(accepted, pending_id)
        # after the scope's queued adds, made before it
        await self.queue.settled(accepted.scope.ids())
        result = await self._process(pending_id, accepted.messages, accepted.scope,
                                     accepted.metadata, accepted.options)
        result.skipped_images = accepted.skipped_images or None
        return result

    def queue_from_thread(self, loop: asyncio.AbstractEventLoop, messages: Any,
                          **arguments: Any) -> AddResult | None:
        """`add(messages, **arguments, async_mode=True)` for a caller on another thread
        than `loop`, the engine's (the blocking `Memory`): checked and kept durably on the
        calling thread, then queued on the loop without waiting for it, so the call
        returns once the pending row is written. None while the memory is not open:
        `add` then opens it (which may replay a journal) before queueing."""
        if not self._ready:
            return None
        accepted = self._accept(messages, **{**arguments, "async_mode": True})
        if isinstance(accepted, AddResult):
            return accepted
        pending_id = self._keep(accepted)
        loop.call_soon_threadsafe(self.queue.put, pending_id, accepted.scope.ids())
        return self._queued(accepted, pending_id)

    def _accept(self, messages: Any, *, user_id: str | None = None,
                agent_id: str | None = None, run_id: str | None = None,
                metadata: dict[str, Any] | None = None, infer: bool = True,
                memory_type: str | None = None, prompt: str | None = None,
                async_mode: bool = False, timestamp: Any = None,
                **mem0_options: Any) -> _Accepted | AddResult:
        """`add`'s checks (they raise before anything is written) and what it keeps; an
        `AddResult` when there is nothing to keep (only images, none readable here)."""
        accept_mem0_options("add", mem0_options)
        scope = Scope.of("add", user_id=user_id, agent_id=agent_id, run_id=run_id)
        normalized = dated(normalize_messages(messages), event_time(timestamp))
        check_messages(normalized, verbatim=infer is False and memory_type != PROCEDURAL)
        metadata = check_metadata(metadata)
        if memory_type not in (None, PROCEDURAL):
            raise InvalidInputError(f"memory_type must be None or {PROCEDURAL!r}")
        if memory_type == PROCEDURAL and not agent_id:
            raise InvalidInputError("procedural memory needs agent_id=")
        if not isinstance(infer, bool):
            raise InvalidInputError("infer must be True or False")
        if not isinstance(async_mode, bool):
            raise InvalidInputError("async_mode must be True (queue the add and return at "
                                    "once) or False (wait for it)")
        if prompt is not None:  # kept with the pending add: a bad one would fail every retry
            check_text(prompt, "prompt")
        normalized, skipped_images = self._images_seen(normalized, infer, memory_type)
        if not normalized:  # only images, none of them readable here: nothing to write
            return AddResult(results=[], relations=[] if self.graph is not None else None,
                             skipped_images=skipped_images)
        self._check_not_closed()
        self.space.check("add")  # before the messages are kept: a full disk writes nothing
        return _Accepted(scope, normalized, metadata,
                         {"infer": infer, "memory_type": memory_type, "prompt": prompt},
                         skipped_images)

    def _keep(self, accepted: _Accepted) -> str:
        """Save an accepted add's messages as a pending add (durably); its id."""
        return self.history_store.save_pending(accepted.messages, accepted.scope.ids(),
                                               accepted.metadata, accepted.options)

    def _queued(self, accepted: _Accepted, pending_id: str) -> AddResult:
        return AddResult(results=[], relations=[] if self.graph is not None else None,
                         skipped_images=accepted.skipped_images or None,
                         pending_id=pending_id, status=QUEUED)

    async def _open_keeping(self, pending_id: str) -> None:
        """`open()` for an add whose messages are kept as `pending_id`: a provider or a
        store failing there keeps them (the error says how to run them again); what makes
        the data unusable here drops them, since nothing started."""
        try:
            await self.open()
        except ProviderError as exc:
            await asyncio.to_thread(self.history_store.fail_pending, pending_id, exc.reason)
            raise exc.with_pending(pending_id) from exc
        except StoreError as exc:
            if isinstance(exc, StoreLockedError):  # another process owns the data: not ours
                self.history_store.drop_pending(pending_id)
                raise
            # The store failed while replaying the journal: a transient failure, like a
            # provider's. Keep the messages, and say so.
            raise await self._kept_after(exc, pending_id) from exc
        except BaseException:  # not openable (locked, mismatched embedder): nothing started
            self.history_store.drop_pending(pending_id)
            raise

    def _images_seen(self, messages: list[Message], infer: bool, memory_type: str | None
                     ) -> tuple[list[Message], int]:
        """Check the images of `messages` (a bad one raises before anything is written)
        and keep them when the one extraction call can show them to a vision model; else
        drop them and return how many were dropped, with a warning the first time."""
        llm = self.config.llm
        count = check_images(messages, max_bytes=llm.max_image_bytes, max_images=llm.max_images)
        if not count or (self.extractor.vision and infer and memory_type != PROCEDURAL):
            return messages, 0
        kept, skipped = without_images(messages)
        if not self._warned_images:
            self._warned_images = True
            reason = ("infer=False and procedural memories store text only"
                      if self.extractor.vision else
                      f"the LLM ({llm.model!r}) is not known to read images: set "
                      "llm.vision = true if it does")
            warnings.warn(f"{skipped} image(s) in the messages were skipped ({reason}); "
                          "AddResult.skipped_images counts them", ImagesSkippedWarning,
                          stacklevel=4)
        return kept, skipped

    async def _process(self, pending_id: str, messages: list[Message], scope: Scope,
                       metadata: dict[str, Any] | None, options: dict[str, Any]) -> AddResult:
        self._in_flight.add(pending_id)
        try:
            plan = await self._remember(messages, scope, metadata, options, pending_id)
        except ProviderError as exc:
            await asyncio.to_thread(self.history_store.fail_pending, pending_id, exc.reason)
            raise exc.with_pending(pending_id) from exc
        except StoreError as exc:  # a store down (a Qdrant server outage): like a provider's
            raise await self._kept_after(exc, pending_id) from exc
        except BaseException as exc:  # cancelled or crashed: keep the messages, synchronously
            self.history_store.fail_pending(pending_id, redact_text(repr(exc)))
            raise
        finally:
            self._in_flight.discard(pending_id)
        log.info("add %s: %s", scope, ", ".join(f"{e.event} {e.memory!r}" for e in plan.events)
                 or "nothing new")
        relations = (plan.relations or []) if self.graph is not None else None
        return AddResult(results=plan.events, relations=relations, add_id=pending_id)

    async def _kept_after(self, exc: StoreError, pending_id: str) -> StoreError:
        """`exc` (a store failed during an add) saying where the add's messages are: kept
        as a failed pending add for `reprocess` when nothing was journaled; when the
        journal has them (the store failed while applying), the next call applies them."""
        if isinstance(exc, StoreLockedError):  # another process owns the data: not ours
            await asyncio.to_thread(self.history_store.drop_pending, pending_id)
            return exc
        if await asyncio.to_thread(self.history_store.get_pending, pending_id) is None:
            return type(exc)(f"{exc}. This add was journaled: the next call applies it "
                             "once the store is back; nothing is lost")
        await asyncio.to_thread(self.history_store.fail_pending, pending_id, str(exc))
        error = type(exc)(f"{exc}. Nothing of this add was written; its messages are kept as "
                          f"pending add {pending_id!r}: call reprocess({pending_id!r}) once "
                          "the store is back (or discard() it)")
        error.pending_id = pending_id
        return error

    async def _remember(self, messages: list[Message], scope: Scope,
                        metadata: dict[str, Any] | None, options: dict[str, Any],
                        pending_id: str) -> Plan:
        """Extract, then under the scope's lock plan (embed, neighbours, reconcile) and
        commit (journal, apply, confirm). The LLM's extraction runs outside the lock; what
        the writes are decided on is read under it, so concurrent adds never duplicate.
        A single-call add (`reconcile.mode`) makes its one call under the lock: the LLM
        decides on the memories it is shown (`core.pipeline.single_call`)."""
        ids = scope.ids()
        ctx = AddContext(ids, scope_filter(ids), metadata, datetime.now(UTC),
                         memory_type=options.get("memory_type"), messages=messages,
                         add_id=pending_id)
        if self._single_call(options):
            async with self.writer.lock(ids):
                plan = await self.single_call.plan(messages, ctx, prompt=options.get("prompt"))
                await self.writer.commit(plan, ids, pending_id=pending_id)
            return plan
        extracted = await self._extract(messages, options)
        async with self.writer.lock(ids):
            plan = await self.planner.plan(extracted, ctx)
            await self.writer.commit(plan, ids, pending_id=pending_id)
        return plan

    def _single_call(self, options: dict[str, Any]) -> bool:
        """Whether this add extracts and decides in one call: facts inferred by an LLM
        (the offline rules cost nothing, so they keep the two steps)."""
        return (self.config.reconcile.mode == "single_call" and self.extractor.uses_llm
                and options.get("infer", True) and options.get("memory_type") != PROCEDURAL)

    async def _extract(self, messages: list[Message], options: dict[str, Any]
                       ) -> Extraction | list[Verbatim]:
        """What an add stores: facts (and relations) from one LLM call, a procedure's
        summary, or with `infer=False` the messages themselves."""
        prompt = options.get("prompt")
        if options.get("memory_type") == PROCEDURAL:
            return [Verbatim(await self.extractor.summarize_procedure(messages, prompt=prompt))]
        if not options.get("infer", True):
            return [Verbatim(m["content"], m["role"], m.get("name")) for m in messages]
        return await self.extractor.extract(messages, prompt=prompt, graph=self.graph is not None)

    async def flush(self) -> None:
        """Wait for the memory's background work: the queue of pending adds — the
        non-blocking adds (`async_mode=True`) and what opening found kept by an earlier run
        (`pending.retry_on_open`). What it could not finish stays in `pending()`."""
        self._check_not_closed()
        await self.open()
        await self.queue.drain()
        await self.writer.settle()

    aflush = flush  # the name LlamaIndex and LangChain give the awaitable flush

    async def pending(self) -> list[PendingAdd]:
        """Adds whose messages are kept: queued for the background worker ("queued",
        "processing"), or because the LLM failed or the process stopped. An add its caller
        is waiting for right now is not listed."""
        self._check_not_closed()
        rows = await asyncio.to_thread(self.history_store.list_pending)
        listed: list[PendingAdd] = []
        for row in rows:
            state = self.queue.status(row.id)
            if state is not None:
                # a new queued add has no error yet; a kept one keeps its last failure
                error = "waiting for the worker" if row.status == "interrupted" else row.error
                listed.append(row.model_copy(update={"status": state, "error": error}))
            elif row.id not in self._in_flight:
                listed.append(row)
        return listed

    async def reprocess(self, pending_id: str) -> AddResult:
        """Run a kept add again (after an `LLMResponseError`, `ProviderError` or a crash)."""
        self._check_not_closed()
        found = await asyncio.to_thread(self.history_store.get_pending, pending_id)
        if found is None or pending_id in self._in_flight:
            raise PendingNotFoundError(pending_id, "reprocess")
        await self.open()
        kept, options = found
        scope = Scope.of("reprocess", **kept.scope)
        return await self._process(pending_id, kept.messages, scope, kept.metadata, options)

    async def discard(self, pending_id: str) -> MessageResult:
        """Give up on a pending add that can never succeed (`reprocess` fails every time):
        it leaves `pending()` and is never retried. Nothing the user said is deleted: its
        messages stay in the history database, marked discarded with the time
        (`discarded()` lists them). `PendingNotFoundError` for an unknown id."""
        self._check_not_closed()
        if not isinstance(pending_id, str) or not pending_id.strip():
            raise InvalidInputError("pending_id must be the id of a pending add (pending() "
                                    f"lists them), got {pending_id!r}")
        check_clean_text(pending_id, "pending_id")
        if pending_id in self._in_flight:
            raise InvalidInputError(f"pending add {pending_id!r} is being processed right "
                                    "now: wait for it to finish, then discard it if it failed")
        if not await asyncio.to_thread(self.history_store.discard_pending, pending_id):
            raise PendingNotFoundError(pending_id, "discard")
        log.info("pending add %s discarded; its messages stay in the history database",
                 pending_id)
        return MessageResult(message="Pending add discarded (its messages are kept, marked "
                             "discarded)", id=pending_id)

    async def discarded(self) -> list[PendingAdd]:
        """The pending adds `discard` gave up on, with their messages, oldest first."""
        self._check_not_closed()
        return await asyncio.to_thread(self.history_store.list_discarded)

    # --- reading -----------------------------------------------------------------------

    async def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int | None = None,
        filters: dict[str, Any] | None = None,
        threshold: float | None = None,
        top_k: int | None = None,
        rerank: bool | None = None,
        as_of: Any = None,
        include_sources: bool = False,
        narrow_dates: bool = False,
        **mem0_options: Any,
    ) -> SearchResult:
        """The scope's memories most relevant to `query`, among those valid now, or with
        `as_of` (a datetime, date, ISO string or Unix seconds) those valid then.
        `include_sources=True` gives each result the messages it came from.
        `narrow_dates=True`: when the query names a date or period ("in May 2023", "last
        week"), the memories said then come first (`core.search.dates`; no LLM call).

        Hybrid: dense vectors and BM25 are searched together and fused with weighted
        reciprocal-rank fusion (`search` settings). Results are in that order; each
        `score` is the cosine similarity to the text searched (the query, without the
        turn speakers' names it gives: `search.ranking.strip_speaker_names`),
        and `threshold` drops results below it; `limit` defaults to 10. `filters` narrow
        by metadata (see `core.filters`); scope ids may also be given inside them, as
        mem0 2.x does. `top_k` is mem0 2.x's name for `limit`. The `search.ranking` steps
        re-score the fused candidates; `rerank=True` reranks the best of them with the
        configured reranker (`search.rerank`; by default every search does once one is
        configured, and `rerank=False` skips it). `reranking.stats` counts what reranking
        cost.
        """
        accept_mem0_options("search", mem0_options)
        limit = _limit(limit, top_k, default=10)
        scope, filters = Scope.of_call("search", user_id=user_id, agent_id=agent_id,
                                       run_id=run_id, filters=filters)
        _check_query(query)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidInputError(f"limit must be a positive integer, got {limit!r}")
        if threshold is not None and (not isinstance(threshold, (int, float))
                                      or not math.isfinite(threshold)):
            raise InvalidInputError("threshold must be a finite number")
        period = narrowing(query, as_of, narrow_dates)
        if period is not None:
            return await narrowed(lambda narrower: self.search(
                query, **scope.ids(), limit=limit, filters=narrower, threshold=threshold,
                rerank=rerank, as_of=as_of, include_sources=include_sources),
                period, filters, limit)
        where = all_of(scope_filter(scope.ids()), parse_filters(filters), read_filter(as_of))
        reranking = self.reranking.wanted(rerank)
        await self.open()
        settings = self.config.search
        searched = await self._searched_text(query, where)
        [vector] = await self.embedder.embed([searched], "query")
        # without expansion or MMR, candidates come as ids and scores, and only the best
        # fused ones' payloads are read (the per-point read is most of a search's cost)
        full = needs_vectors(settings.ranking)
        requests = [SearchRequest(limit=max(settings.candidates, limit), dense=vector,
                                  filter=where, with_vectors=full, with_payload=full)]
        if settings.hybrid:
            requests.append(SearchRequest(limit=max(settings.lexical_candidates, limit),
                                          sparse=self.lexical.query(searched), filter=where,
                                          with_vectors=full, with_payload=full))
        searching = asyncio.to_thread(self._candidates, searched, vector, requests, where,
                                      limit)
        if self.graph is not None:
            ranked, relations = await asyncio.gather(
                searching, self._graph_search(query, vector, scope.ids(), as_of_iso(as_of)))
        else:
            ranked, relations = await searching, None
        ranked = rescore(query, ranked, settings=settings.ranking, limit=limit,
                         relations=relations or ())
        if reranking:
            ranked = await self.reranking.apply(query, ranked)
        if threshold is not None:
            ranked = [r for r in ranked if r.similarity >= threshold]
        return SearchResult(results=[sourced(to_item(r.hit.id, r.hit.payload,
                                                     round(r.similarity, 6)),
                                             r.hit.payload, include_sources)
                                     for r in ranked[:limit]], relations=relations)

    async def _searched_text(self, query: str, where: FilterNode | None) -> str:
        """The text the dense and lexical sides search for: the query without the names
        it gives of the turns' speakers (metadata `speaker_key` of the memories `where`
        selects), when there are two or more of them, so that the speaker match tells
        them apart (`core.search.speaker`)."""
        ranking = self.config.search.ranking
        if ranking.speaker_weight <= 0 or not ranking.strip_speaker_names:
            return query
        speakers = await asyncio.to_thread(self.store.facet,
                                           speaker_field(ranking.speaker_key), where)
        if len(speakers) < 2:
            return query
        return without_names(query, named_speakers(query, speakers))

    def _candidates(self, query: str, vector: list[float], requests: list[SearchRequest],
                    where: FilterNode | None, limit: int) -> list[Ranked]:
        """The dense and lexical candidates, fused, best first, with their payloads. A
        lexical candidate the dense side did not return is scored by the store in a
        second query over those ids alone (cheaper than returning ~200 vectors to compare
        here). Candidates that came without payloads are cut to the best `POOL` (or
        `limit`), whose payloads are then read."""
        settings = self.config.search
        answers = self.store.search_batch(requests)
        dense, lexical = answers[0], answers[1] if len(answers) > 1 else []
        seen = {h.id for h in dense}
        missing = [h.id for h in lexical if h.id not in seen and h.vector is None]
        similarities: dict[str, float] = {}
        if missing:
            [scored] = self.store.search_batch([SearchRequest(
                limit=len(missing), dense=vector, filter=where, ids=missing,
                with_payload=False)])
            similarities = {h.id: h.score for h in scored}
        ranked = fused(vector, dense, lexical, settings=settings.ranking,
                       dense_weight=self._dense_weight(query),
                       lexical_weight=settings.lexical_weight, rrf_k=settings.rrf_k,
                       method=settings.fusion, similarities=similarities)
        if requests[0].with_payload:
            return ranked
        pool = ranked[:max(POOL, limit)]
        payloads = {h.id: h.payload for h in self.store.retrieve([r.hit.id for r in pool])}
        return [Ranked(Hit(r.hit.id, r.hit.score, payloads[r.hit.id], r.hit.vector),
                       r.similarity, r.fused) for r in pool if r.hit.id in payloads]

    def _dense_weight(self, query: str) -> float:
        """Less trust in dense scores for a CJK query when the embedder is English-only."""
        settings = self.config.search
        return dense_weight_for(query, dense_weight=settings.dense_weight,
                                uncovered_dense_weight=settings.uncovered_dense_weight,
                                embedder_covers_cjk=self._embedder_covers_cjk)

    async def _graph_search(self, query: str, vector: list[float], scope: dict[str, str],
                            as_of: str | None = None) -> list[Relation]:
        """Relations around the entities the query mentions, found without an LLM: by
        name (any run of up to four query words) and by embedding similarity; those
        valid now, or `as_of` an ISO time."""
        assert self.graph is not None and self.config.graph_store is not None
        settings = self.config.graph_store
        words = name_key("".join(c if c.isalnum() or c in "'-" else " " for c in query)).split()
        grams = list({" ".join(words[i:i + n]) for n in range(1, 5)
                      for i in range(len(words) - n + 1)})
        named, similar = await asyncio.gather(
            asyncio.to_thread(self.graph.entities_named, scope, grams),
            asyncio.to_thread(self.graph.similar_entities, scope, vector, limit=5,
                              threshold=settings.search_threshold))
        scores: dict[str, float] = {}
        for entity in [*named, *similar]:
            scores[entity.id] = max(scores.get(entity.id, 0.0), entity.score)
        found = await asyncio.to_thread(self.graph.relations_of, scope, list(scores),
                                        limit=settings.max_relations * 3, as_of=as_of)

        stems = {w[:4] for w in words}

        def relevance(r: RelationRecord) -> float:
            # Entity match first; among the entity's relations, those whose name shares
            # a word with the query ("live" ~ "lives_in") come first.
            named = any(part[:4] in stems for part in r.relation.split("_") if len(part) > 2)
            entity = max(scores.get(r.source_id, 0.0), scores.get(r.target_id, 0.0))
            return 0.9 * min(entity, 1.0) + 0.1 * named

        ranked = sorted(found, key=relevance, reverse=True)[: settings.max_relations]
        return [Relation(source=r.source, relationship=r.relation, destination=r.target,
                         score=round(relevance(r), 6)) for r in ranked]

    async def get(self, memory_id: str, *, user_id: str | None = None,
                  agent_id: str | None = None, run_id: str | None = None) -> MemoryItem:
        """One memory by id; `MemoryNotFoundError` if there is none. Scope ids limit it to
        that scope: another scope's memory raises `MemoryOutOfScopeError` (a
        `MemoryNotFoundError`), so a server can refuse it as an unknown id."""
        memory_id = check_memory_id(memory_id)
        within = Scope.within("get", user_id=user_id, agent_id=agent_id, run_id=run_id)
        await self.open()
        found = await asyncio.to_thread(self.store.retrieve, [memory_id])
        if not found:
            raise MemoryNotFoundError(memory_id)
        item = sourced(to_item(memory_id, found[0].payload), found[0].payload, True)
        if within is not None:
            within.check_owner(memory_id, item)
        return item

    async def _scan(self, where: FilterNode | None, *, sources: bool = False
                    ) -> list[MemoryItem]:
        items: list[MemoryItem] = []
        offset: str | None = None
        while True:
            page, offset = await asyncio.to_thread(self.store.scroll, where, limit=PAGE,
                                                   offset=offset)
            items.extend(sourced(to_item(h.id, h.payload), h.payload, sources) for h in page)
            if offset is None:
                return items

    async def get_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        filters: dict[str, Any] | None = None,
        limit: int | None = None,
        top_k: int | None = None,
        as_of: Any = None,
        **mem0_options: Any,
    ) -> SearchResult:
        """Every memory of the scope valid now (with `as_of`: valid then), newest first
        (all of them unless `limit` is set: pages are fetched internally, nothing is
        silently capped). Scope ids may be given inside `filters` and `top_k` for
        `limit`, as in mem0 2.x."""
        accept_mem0_options("get_all", mem0_options)
        limit = _limit(limit, top_k, default=None)
        scope, filters = Scope.of_call("get_all", user_id=user_id, agent_id=agent_id,
                                       run_id=run_id, filters=filters)
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidInputError(f"limit must be a positive integer, got {limit!r}")
        where = all_of(scope_filter(scope.ids()), parse_filters(filters), read_filter(as_of))
        await self.open()
        items = await self._scan(where)
        items.sort(key=lambda i: i.created_at or datetime.min.replace(tzinfo=UTC),
                   reverse=True)
        relations = None
        if self.graph is not None:
            relations = [Relation(source=r.source, relationship=r.relation, destination=r.target)
                         for r in await asyncio.to_thread(self.graph.all_relations, scope.ids(),
                                                          as_of=as_of_iso(as_of))]
        return SearchResult(results=items[:limit] if limit else items, relations=relations)

    # --- reading by filter, across scopes (for integrations) ------------------------------
    #
    # Integrations that keep records of their own among the memories (the LangGraph store)
    # select them by their own payload fields and read them with these methods instead of
    # the stores. The filter alone decides which scopes are read: add
    # `core.filters.scope_filter(...)` to it to keep to one scope.

    async def scan(self, where: FilterNode) -> list[MemoryItem]:
        """Every memory matching `where` (field names from `core.records`, metadata under
        `metadata.`), in no particular order; the store is paged through internally and
        nothing is capped."""
        _check_filter(where)
        await self.open()
        return await self._scan(where)

    async def vector_search(self, query: str, where: FilterNode, *, limit: int,
                            offset: int = 0) -> list[MemoryItem]:
        """The memories matching `where` nearest to `query` by dense embedding alone, best
        first: the `limit` results after the first `offset`. Each `score` is the cosine
        similarity to the query. (`search` is the hybrid, scoped search for agents.)"""
        _check_query(query)
        _check_filter(where)
        for name, value, least in (("limit", limit, 1), ("offset", offset, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise InvalidInputError(f"{name} must be an integer >= {least}, got {value!r}")
        await self.open()
        [vector] = await self.embedder.embed([query], "query")
        [hits] = await asyncio.to_thread(self.store.search_batch, [
            SearchRequest(limit=offset + limit, dense=vector, filter=where)])
        return [to_item(h.id, h.payload, h.score) for h in hits[offset:]]

    async def fetch(self, memory_ids: Sequence[str], *, query: str | None = None
                    ) -> list[MemoryItem]:
        """The memories with these ids, in that order (unknown ids are skipped). With
        `query`, each `score` is the memory's cosine similarity to the query: a way to
        rank exactly the memories a caller selected itself."""
        ids = list(dict.fromkeys(check_memory_id(i) for i in memory_ids))
        if query is not None:
            _check_query(query)
        if not ids:
            return []
        await self.open()
        hits = {h.id: h for h in await asyncio.to_thread(
            self.store.retrieve, ids, with_vectors=query is not None)}
        if query is None:
            return [to_item(i, hits[i].payload) for i in ids if i in hits]
        [vector] = await self.embedder.embed([query], "query")
        return [to_item(i, hits[i].payload, None if hits[i].vector is None
                        else cosine(vector, hits[i].vector)) for i in ids if i in hits]

    async def history(self, memory_id: str, *, user_id: str | None = None,
                      agent_id: str | None = None, run_id: str | None = None
                      ) -> list[HistoryEntry]:
        """Every change to a memory, oldest first (kept after the memory is deleted), with
        its chain: a past version kept by a supersession shows the changes of the memory
        that superseded it too (`core.timeline`). With scope ids, an id without history in
        that scope raises `MemoryNotFoundError` (`MemoryOutOfScopeError` for another
        scope's), as `get` does."""
        memory_id = check_memory_id(memory_id)
        within = Scope.within("history", user_id=user_id, agent_id=agent_id, run_id=run_id)
        await self.open()
        entries = await history_chain(self, memory_id)
        if within is not None:
            if not entries:
                raise MemoryNotFoundError(memory_id)
            for entry in entries:  # a memory never changes scope; check every row anyway
                within.check_owner(memory_id, entry)
        return entries

    async def users(self) -> UsersResult:
        """The users, agents and runs that hold memories, with their counts (of the
        memories valid now)."""
        await self.open()
        results: list[ScopeSummary] = []
        for key in SCOPE_KEYS:
            # what is valid now: past versions are not memories a user has
            counts = await asyncio.to_thread(self.store.facet, key, read_filter(None))
            results.extend(ScopeSummary(type=key.removesuffix("_id"), id=value, total_memories=n)
                           for value, n in sorted(counts.items()))
        return UsersResult(results=results)

    # --- export and backup ---------------------------------------------------------------

    async def export(self, schema: type[BaseModel] | dict[str, Any], *,
                     user_id: str | None = None, agent_id: str | None = None,
                     run_id: str | None = None, instructions: str | None = None
                     ) -> BaseModel | dict[str, Any]:
        """The scope's memories filled into `schema` by ONE LLM call (mem0's memory
        export): an instance of a pydantic model class, or a dict for a JSON schema.
        `instructions` are added to the prompt. `ConfigurationError` without an LLM."""
        scope = Scope.of("export", user_id=user_id, agent_id=agent_id, run_id=run_id)
        items = (await self.get_all(**scope.ids())).results
        return await fill_schema(self.extractor, items, schema, instructions)

    async def export_jsonl(self, path: str | Path, *, user_id: str | None = None,
                           agent_id: str | None = None, run_id: str | None = None) -> int:
        """Write the scope's memories (all of them, with no scope id), their history and
        the graph's relations to a JSONL file, exactly, for `import_jsonl`; returns how
        many memories were written. See `core.export` for the format."""
        ids = {k: v for k, v in (("user_id", user_id), ("agent_id", agent_id),
                                 ("run_id", run_id)) if v is not None}
        where = scope_filter(Scope.of("export_jsonl", **ids).ids()) if ids else None
        await self.open()
        # every memory, past versions too, with their sources: a backup keeps the timeline
        return await export_jsonl(self, Path(path), await self._scan(where, sources=True),
                                  ids or None)

    async def import_jsonl(self, path: str | Path) -> JsonlImport:
        """Write back a file `export_jsonl` wrote: memories under their own ids, times and
        history, and the relations. Importing the same file twice leaves one copy."""
        return await import_jsonl(self, Path(path))

    # --- changing ----------------------------------------------------------------------

    async def update(self, memory_id: str, text: str | None = None,
                     metadata: dict[str, Any] | None = None, *,
                     data: str | None = None, user_id: str | None = None,
                     agent_id: str | None = None, run_id: str | None = None) -> MessageResult:
        """Replace a memory's text (re-embedded) and/or its metadata; recorded in history.
        `data=` is mem0's name for `text=`. Scope ids limit it to that scope, as for `get`."""
        memory_id = check_memory_id(memory_id)
        within = Scope.within("update", user_id=user_id, agent_id=agent_id, run_id=run_id)
        if data is not None:
            if text is not None:
                raise InvalidInputError("give the new text as text= or data=, not both")
            text = data
        if text is None and metadata is None:
            raise InvalidInputError("update needs text= or metadata=")
        if text is not None:
            text = check_text(text)
        metadata = check_metadata(metadata)
        await self.open()
        scope = payload_scope((await self._current(memory_id)).payload)
        if within is not None:
            within.check_owner(memory_id, scope)
        async with self.writer.lock(scope):
            # Read again under the scope's lock (a memory never changes scope): a delete or
            # an update that committed since the first read must not be undone or lost.
            old = (await self._current(memory_id)).payload
            new_text = text if text is not None else old.get(DATA, "")
            payload = carried(old, make_payload(
                new_text, scope, now=datetime.now(UTC),
                metadata=metadata if metadata is not None else old.get(METADATA),
                categories=old.get(CATEGORIES), role=old.get(ROLE),
                actor_id=old.get(ACTOR_ID), memory_type=old.get(MEMORY_TYPE),
                created_at=old.get(CREATED_AT)))
            if text is not None and text != old.get(DATA):
                [vector] = await self.embedder.embed([embedded_text(payload)], "document")
            else:
                vector = (await asyncio.to_thread(self.store.retrieve, [memory_id],
                                                  with_vectors=True))[0].vector
            await self.writer.commit(Writes(
                [MemoryUpsert(memory_id, Event.UPDATE, old.get(DATA), payload)],
                {memory_id: vector}), scope)
        return MessageResult(message="Memory updated successfully!", id=memory_id)

    async def _current(self, memory_id: str) -> Hit:
        hits = await asyncio.to_thread(self.store.retrieve, [memory_id])
        if not hits:
            raise MemoryNotFoundError(memory_id)
        return hits[0]

    async def delete(self, memory_id: str, *, user_id: str | None = None,
                     agent_id: str | None = None, run_id: str | None = None) -> MessageResult:
        """Delete one memory and every past version of it (the texts it was updated
        away from, kept for `as_of` reads): what a user asks to be forgotten does not
        stay findable. Its history is kept, ending with DELETE. Scope ids limit it to
        that scope, as for `get`."""
        memory_id = check_memory_id(memory_id)
        if Scope.within("delete", user_id=user_id, agent_id=agent_id, run_id=run_id):
            # a memory never changes scope, so the check before the delete stays true
            await self.get(memory_id, user_id=user_id, agent_id=agent_id, run_id=run_id)
        # the past versions first: a crash in between leaves the memory, so deleting it
        # again finishes the job (the other way round would strand its past versions)
        await self.delete_many(await self._past_versions(memory_id))
        if not await self.delete_many([memory_id]):
            raise MemoryNotFoundError(memory_id)
        return MessageResult(message="Memory deleted successfully!", id=memory_id)

    async def _past_versions(self, memory_id: str) -> list[str]:
        """The ids of the closed versions that `memory_id` superseded, directly or not."""
        found: list[str] = []
        frontier = [memory_id]
        while frontier:
            older = await self.scan(Logical("or", tuple(
                Condition(SUPERSEDED_BY, "eq", i) for i in frontier)))
            frontier = [m.id for m in older if m.id not in found and m.id != memory_id]
            found.extend(frontier)
        return found

    async def delete_source(self, add_id: str, *, user_id: str | None = None,
                            agent_id: str | None = None, run_id: str | None = None
                            ) -> SourceDeletion:
        """Forget what one add said: delete the memories (current or past) that came only
        from add `add_id` (`AddResult.add_id`), and remove that add from the sources of
        the ones other adds said too, which stay. Nothing is derived again; the result
        lists both. Scope ids limit it to that scope. See `core.timeline`."""
        return await delete_source(self, add_id, Scope.within(
            "delete_source", user_id=user_id, agent_id=agent_id, run_id=run_id))

    async def delete_many(self, memory_ids: Sequence[str]) -> int:
        """Delete the memories with these ids (unknown ids are skipped); returns how many
        were deleted. Each keeps its history, ending with DELETE."""
        ids = list(dict.fromkeys(check_memory_id(i) for i in memory_ids))
        if not ids:
            return 0
        await self.open()
        found = await asyncio.to_thread(self.store.retrieve, ids)
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for hit in found:
            groups.setdefault(tuple(sorted(payload_scope(hit.payload).items())), []).append(hit.id)
        deleted = 0
        for key, memory_ids in groups.items():
            async with self.writer.lock(dict(key)):
                # again under the lock: a concurrent delete may have committed meanwhile
                still = await asyncio.to_thread(self.store.retrieve, memory_ids)
                ops: list[WriteOp] = [MemoryDelete(h.id, h.payload.get(DATA)) for h in still]
                rewritten = await released(self, [h.id for h in still])
                await self.writer.commit(Writes([*ops, *rewritten.ops], rewritten.vectors),
                                         dict(key))
                deleted += len(ops)
        return deleted

    async def put_many(self, items: Sequence[PutItem], *,
                       max_metadata_bytes: int = MAX_METADATA_BYTES) -> list[MemoryEvent]:
        """Write memories verbatim under ids the caller chooses, without an LLM call: a
        new id is an ADD, an existing one an UPDATE (its history continues). For
        integrations that keep their own keys, such as the LangGraph store. Every item
        is validated before anything is written. `max_metadata_bytes` raises the 64 KB
        metadata cap for integrations that keep whole documents there (the LangGraph
        store's values); the text that is embedded keeps its own limit."""
        checked: dict[str, tuple[dict[str, str], str, dict[str, Any] | None, str | None]] = {}
        for item in items:
            if not isinstance(item, PutItem):
                raise InvalidInputError(f"put_many takes PutItem objects, got "
                                        f"{type(item).__name__}: PutItem(id=..., text=..., "
                                        "user_id=...)")
            scope = Scope.of("put_many", user_id=item.user_id, agent_id=item.agent_id,
                             run_id=item.run_id).ids()
            checked[check_memory_id(item.id)] = (scope, check_text(item.text),
                                                  check_metadata(item.metadata, max_metadata_bytes),
                                                  item.memory_type)
        if not checked:
            return []
        await self.open()
        keys = {i: tuple(sorted(scope.items())) for i, (scope, _, _, _) in checked.items()}
        ranking = self.config.search.ranking
        before = predecessors(
            [(i, keys[i], metadata) for i, (_, _, metadata, _) in checked.items()],
            thread_key=ranking.thread_key, position_key=ranking.position_key,
        ) if ranking.previous_turn_context else {}
        contexts = {i: (b, checked[b][1]) for i, b in before.items()}

        def in_context(memory_id: str, payload: dict[str, Any]) -> dict[str, Any]:
            turn = contexts.get(memory_id)
            return with_context(payload, *turn) if turn else payload

        vectors = dict(zip(checked, await self.embedder.embed(
            [embedded_text(in_context(i, {DATA: text})) for i, (_, text, _, _) in checked.items()],
            "document"), strict=True))
        now = datetime.now(UTC)
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for memory_id, key in keys.items():
            groups.setdefault(key, []).append(memory_id)
        events: dict[str, MemoryEvent] = {}
        for key, memory_ids in groups.items():
            async with self.writer.lock(dict(key)):
                # what exists is read under the lock, so an ADD/UPDATE is decided on
                # the current state
                existing = {h.id: h.payload for h in
                            await asyncio.to_thread(self.store.retrieve, memory_ids)}
                ops: list[WriteOp] = []
                for memory_id in memory_ids:
                    scope, text, metadata, memory_type = checked[memory_id]
                    old = existing.get(memory_id)
                    previous = old.get(DATA) if old else None
                    payload = in_context(memory_id, make_payload(
                        text, scope, now=now, metadata=metadata, memory_type=memory_type,
                        created_at=old.get(CREATED_AT) if old else None))
                    event = Event.UPDATE if old else Event.ADD
                    ops.append(MemoryUpsert(memory_id, event, previous, payload))
                    events[memory_id] = MemoryEvent(id=memory_id, memory=text, event=event,
                                                    previous_memory=previous)
                await self.writer.commit(Writes(ops, {i: vectors[i] for i in memory_ids}),
                                         dict(key))
        return [events[i] for i in checked]

    async def import_records(self, memories: Sequence[ImportedMemory],
                             history: Sequence[HistoryEntry] = ()) -> ImportResult:
        """Write memories made elsewhere (a migration from mem0) exactly as they were —
        their ids, text, hash, scope, metadata and times — embedded with this memory's
        embedder, and their history entries under their own ids and times. Idempotent: an
        interrupted import run again ends with one copy of everything. See `core.imports`."""
        return await import_records(self, memories, history)

    async def import_relations(self, relations: Sequence[ImportedRelation], *,
                               batch_size: int = 256) -> int:
        """Write graph relations made elsewhere (a migration from mem0's graph) under their
        own ids and their entities' ids, entity names embedded with this memory's embedder
        `batch_size` at a time; returns how many were written. Idempotent, like
        `import_records`; needs a graph store (`ConfigurationError` otherwise)."""
        return await import_relations(self, relations, batch_size=batch_size)

    async def delete_all(self, *, user_id: str | None = None, agent_id: str | None = None,
                         run_id: str | None = None) -> MessageResult:
        """Delete every memory of a scope (a scope id is required: this never wipes all)."""
        scope = Scope.of("delete_all", user_id=user_id, agent_id=agent_id, run_id=run_id)
        ids = scope.ids()
        await self.open()
        async with self.writer.lock(ids):
            items = await self._scan(scope_filter(ids))
            ops: list[WriteOp] = [MemoryDelete(i.id, i.memory) for i in items]
            if self.graph is not None:
                # Journaled with the memories' DELETEs, so a crash in between is finished by
                # the replay, and each relation's history ends with its DELETE.
                relations = await asyncio.to_thread(self.graph.all_relations, ids)
                ops += [RelationInvalidate(r.id, r.describe()) for r in relations]
                ops.append(ScopeWipe(ids))
            await self.writer.commit(Writes(ops), ids)
        # past versions go too, and are not counted: the count is of the memories that
        # get_all and users() showed
        return MessageResult(message="Memories deleted successfully!",
                             count=sum(item.valid_to is None for item in items))

    async def repair(self, *, batch_size: int = 64, progress: Progress | None = None
                     ) -> RepairReport:
        """Rebuild the vector store and the graph from the history (the source of truth),
        re-embedding `batch_size` texts at a time; `progress(stage, done, total)` is told
        how far it got. For a `CorruptionError` (lost or damaged files); run it while
        nothing else writes to this data. See `core.repair`."""
        await self.writer.settle()
        return await repair(self, batch_size=batch_size, progress=progress)

    async def reset(self) -> MessageResult:
        """Delete every memory of every scope, all history, and the graph this library
        created (nothing else in a shared Neo4j database is touched)."""
        await self.open()
        await self.writer.reset()  # a crash from here on is finished by the next open
        return MessageResult(message="Memory store reset successfully!")
