"""A LangGraph `BaseStore` kept in the memory engine, so that LangGraph agents,
`create_agent(store=...)` and LangMem's memory tools keep their items next to (and
visible as) the engine's memories. It behaves as LangGraph's own stores do: LangGraph's
store test files run against it (tests/langgraph_upstream).

How items are stored (see `store_items` for the layout):

* One item is one memory in the engine's collection, with a deterministic id derived
  from (namespace, key): a `put` of the same key replaces the item, never duplicates it,
  even when two writers race. Writes go through the engine's journal, so they are
  crash-safe and appear in `Memory.history(id)`.
* The namespace maps to a scope with `scope=` (default: the last label is the user id,
  the LangMem convention `("memories", "{user_id}")`). `{"user_id": 0}` maps
  `(user_id, "memories")` instead; a callable can do anything else. So the items of
  `("memories", "alice")` are alice's memories: `Memory.search(..., user_id="alice")`,
  the retriever and the middleware find them, and `Memory.delete_all(user_id="alice")`
  removes them.
* The value is kept exactly (every key, character and type) as JSON text in the
  memory's metadata, up to `max_value_bytes` (16 MiB by default; past it, a put raises
  `InvalidInputError` and writes nothing). What is embedded is kept apart from it.
* Indexing follows LangGraph's `index["fields"]` (per put: `index=[...]`, or
  `index=False`): one vector per text a path yields (`get_text_at_path`, so `[*]`,
  nested paths and `"$"` for the whole value work), and an item is scored by its best
  text. The first text is the item memory's own; each further one is a small memory of
  type `"langgraph_field"` pointing at the item (these show in `Memory.search` too).
  With no fields configured the item is indexed by its `content` / `text` / `memory`
  string, else by the whole value as JSON: LangGraph embeds the whole value (`"$"`),
  but then every LangMem memory would read `{"content": "..."}` wherever the engine
  shows memories (search results, the middleware's prompt); `fields=["$"]` gives
  LangGraph's default exactly. Texts are trimmed and cut at the engine's text limit
  for embedding; blank ones are not embedded.
* When the engine changes an item memory's text (`Memory.update`, or a later `add`
  reconciling a contradiction), the value's text field follows; when it deletes the
  memory, the item is gone.
* Unindexed items are stored and listed but never ranked by a query (they fill a page
  after the ranked ones, unscored, as in LangGraph's `InMemoryStore`).
* Search without a query lists items newest first. Filters follow LangGraph (`$eq`,
  `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, nested dicts) and are applied exactly.
* TTL as in LangGraph (`ttl=TTLConfig(...)`, `put(..., ttl=minutes)`, `refresh_ttl`,
  `sweep_ttl`, `start_ttl_sweeper`; see `store_ttl`).
* Over an `AsyncMemory`, the store lives on the event loop it was created (or first
  awaited) on; sync calls from other threads are handed to that loop, and on the loop's
  own thread they raise `LoopThreadError` (an `asyncio.InvalidStateError`), as
  LangGraph's async stores do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    validate_op_namespace,
)

from mem_integrations.core.errors import (
    BlockingCallError,
    ConfigurationError,
    InvalidInputError,
    LoopThreadError,
)
from mem_integrations.core.filters import Condition, FilterNode, all_of
from mem_integrations.core.models import MemoryItem, PutItem
from mem_integrations.core.records import MAX_METADATA_BYTES, MEMORY_TYPE, METADATA
from mem_integrations.core.scope import SCOPE_KEYS, Scope
from mem_integrations.core.sync_memory import AnyMemory, Memory, bridge
from mem_integrations.langchain.providers import LangChainEmbedder
from mem_integrations.langchain.store_embeddings import EngineEmbeddings
from mem_integrations.langchain.store_items import (
    FIELD_TYPE,
    ITEM_TYPE,
    Paths,
    decode_value,
    default_text,
    encode_value,
    field_id,
    indexed_texts,
    item_id,
    search_text,
    tokenized,
)
from mem_integrations.langchain.store_ttl import (
    ThreadSweeper,
    expires_at,
    is_expired,
    start_task_sweeper,
    sweep_interval,
)

__all__ = ["DEFAULT_MAX_VALUE_BYTES", "ITEM_TYPE", "MemoryStore", "item_id",
           "last_label_as_user"]

DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024
_LG = f"{METADATA}.langgraph"
_IS_ITEM = Condition(MEMORY_TYPE, "eq", ITEM_TYPE)
_RANKED = Condition(MEMORY_TYPE, "in", [ITEM_TYPE, FIELD_TYPE])
# 1/0, not booleans: qdrant-edge does not match boolean payload values (see the report).
_INDEXED = Condition(f"{_LG}.indexed", "eq", 1)
_NOT_INDEXED = Condition(f"{_LG}.indexed", "eq", 0)
_NEVER = datetime.min.replace(tzinfo=UTC)

NamespaceScope = Callable[[tuple[str, ...]], Mapping[str, str]] | Mapping[str, int]
R = TypeVar("R")
Key = tuple[tuple[str, ...], str]


def last_label_as_user(namespace: tuple[str, ...]) -> dict[str, str]:
    """The default mapping: `("memories", "alice")` belongs to user "alice"."""
    return {"user_id": namespace[-1]}


def _scope_function(scope: NamespaceScope | None) -> Callable[[tuple[str, ...]], Mapping[str, str]]:
    if scope is None:
        return last_label_as_user
    if callable(scope):
        return scope
    positions = dict(scope)
    for key, index in positions.items():
        if key not in SCOPE_KEYS or not isinstance(index, int):
            raise InvalidInputError(
                f"scope mapping must be scope key -> namespace position, e.g. {{'user_id': 1}}; "
                f"got {key!r}: {index!r}")

    def by_position(namespace: tuple[str, ...]) -> dict[str, str]:
        return {k: namespace[i] for k, i in positions.items()
                if -len(namespace) <= i < len(namespace)}

    return by_position


class MemoryStore(BaseStore):
    """LangGraph `BaseStore` over a `Memory`'s collection and embedder.

    >>> store = MemoryStore(memory)                     # ("memories", user) -> user_id
    >>> agent = create_agent(model, tools, store=store)
    >>> store.put(("memories", "alice"), "diet", {"content": "Alice is vegetarian"})
    >>> store.search(("memories", "alice"), query="what does alice eat?")

    Args:
        memory: a `Memory`, or an `AsyncMemory` (see the module docstring for sync calls).
        index: LangGraph's `IndexConfig`. Only `fields` chooses anything: the store
            embeds with the memory's embedder, so `embed`, when given, must be the
            LangChain `Embeddings` that embedder wraps (`LangChainEmbedder`), and `dims`
            its dimension.
        ttl: LangGraph's `TTLConfig` (`default_ttl` and per-put `ttl` in minutes,
            `refresh_on_read`, `sweep_interval_minutes`).
        scope: namespace -> scope ids (see the module docstring). Default: the last
            namespace label is the user id.
        fields: shorthand for `index={"fields": fields}`.
        max_value_bytes: the largest value a put accepts, as UTF-8 JSON.
        clock: the time source for TTLs, in epoch seconds (for simulations and tests).
    """

    supports_ttl: bool = True

    def __init__(self, memory: AnyMemory, *, index: IndexConfig | None = None,
                 ttl: TTLConfig | None = None, scope: NamespaceScope | None = None,
                 fields: Sequence[str] | None = None,
                 max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = bridge(memory)
        self._scope_of = _scope_function(scope)
        if fields is not None and index and index.get("fields") is not None:
            raise ConfigurationError("give the indexed fields once: fields= or index['fields']")
        chosen = fields if fields is not None else (index or {}).get("fields")
        self.fields: list[str] | None = list(chosen) if chosen else None
        self._paths: Paths = tokenized(self.fields or [])
        self.embeddings: Embeddings = self._embeddings(index or {})
        dims = (index or {}).get("dims") or self.engine.async_memory.embedder.dimension
        # the config as given (as LangGraph's stores keep it), with what is in effect
        self.index_config: dict[str, Any] = {**(index or {}), "dims": dims,
                                             "embed": self.embeddings, "fields": self.fields}
        self.ttl_config = ttl
        if not isinstance(max_value_bytes, int) or max_value_bytes < 1:
            raise ConfigurationError(
                f"max_value_bytes must be a positive integer, got {max_value_bytes!r}")
        self.max_value_bytes = max_value_bytes
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        if not isinstance(memory, Memory):
            self._loop = _running_loop()
        self._thread_sweeper: ThreadSweeper | None = None
        self._task_sweeper: asyncio.Task[None] | None = None

    def _embeddings(self, index: Mapping[str, Any]) -> Embeddings:
        embedder = self.engine.async_memory.embedder
        own = embedder.embeddings if isinstance(embedder, LangChainEmbedder) else None
        wanted = index.get("embed")
        if wanted is not None and wanted is not own:
            raise ConfigurationError(
                "MemoryStore embeds with its Memory's embedder: build the Memory with "
                "embedder=LangChainEmbedder(your_embeddings) and pass those same embeddings "
                "as index['embed'] (or leave 'embed' out)")
        dims, known = index.get("dims"), embedder.dimension
        if dims is not None and known is not None and dims != known:
            raise ConfigurationError(
                f"index['dims'] is {dims} but the Memory's embedder gives {known}-dimensional "
                "vectors; drop 'dims' or fix it")
        return own if own is not None else EngineEmbeddings(self.engine)

    def __repr__(self) -> str:
        return f"MemoryStore({self.engine!r})"

    # --- running on the engine's loop --------------------------------------------------------

    def _block(self, coro: Coroutine[Any, Any, R]) -> R:
        """Run a coroutine of this store from blocking code."""
        if isinstance(self.engine, Memory):
            return self.engine.run(coro)
        loop = self._loop
        if loop is None:
            coro.close()
            raise BlockingCallError(
                "this MemoryStore is over an AsyncMemory and has no event loop yet: create "
                "it inside the loop (or await one of its async methods first), or pass a "
                "Memory for blocking use")
        if _running_loop() is loop:
            coro.close()
            raise LoopThreadError(
                "Synchronous calls to a MemoryStore over an AsyncMemory cannot be made on "
                "its event loop's thread (they would wait for themselves): use the async "
                "methods (aget, aput, asearch, ...), or call from another thread")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    async def _await(self, coro: Coroutine[Any, Any, R]) -> R:
        if not isinstance(self.engine, Memory):
            self._loop = self._loop or asyncio.get_running_loop()
        return await self.engine.arun(coro)

    # --- BaseStore -------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._block(self._batch(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self._await(self._batch(list(ops)))

    async def _batch(self, ops: list[Op]) -> list[Result]:
        """As LangGraph's stores: results in the order of the ops; reads (and the TTL
        refreshes they ask for) see the store as it was before the batch's writes; of
        several writes to one key, the last wins. Namespace rules beyond the labels (the
        "langgraph" root, a non-empty namespace) are checked by `put`, not here."""
        for op in ops:
            if not isinstance(op, (GetOp, SearchOp, ListNamespacesOp, PutOp)):
                raise ValueError(f"Unknown operation type: {type(op)}")
            validate_op_namespace(op)
        now = self._clock()
        results: list[Result] = [None] * len(ops)
        refresh: dict[str, MemoryItem] = {}
        gets = {i: op for i, op in enumerate(ops) if isinstance(op, GetOp)}
        if gets:
            found = await self._get_many([(op.namespace, op.key) for op in gets.values()], now)
            for (i, op), memory in zip(gets.items(), found, strict=True):
                results[i] = None if memory is None else _to_item(memory)
                if memory is not None and op.refresh_ttl:
                    refresh[memory.id] = memory
        for i, op in enumerate(ops):
            if isinstance(op, SearchOp):
                hits = await self._search(op, now)
                results[i] = [_to_item(m, score) for m, score in hits]
                if op.refresh_ttl:
                    refresh.update((m.id, m) for m, _ in hits)
            elif isinstance(op, ListNamespacesOp):
                results[i] = await self._list_namespaces(op, now)
        puts: dict[Key, PutOp] = {}
        for op in ops:
            if isinstance(op, PutOp):
                puts[(tuple(op.namespace), str(op.key))] = op
        overwritten = {item_id(*k) for k in puts}
        await self._refresh([m for i, m in refresh.items() if i not in overwritten], now)
        if puts:
            await self._write(puts, now)
        return results

    # --- reading ---------------------------------------------------------------------------

    async def _get_many(self, keys: list[Key], now: float) -> list[MemoryItem | None]:
        ids = [item_id(ns, key) for ns, key in keys]
        found = {m.id: m for m in await self.engine.async_memory.fetch(ids)}
        out: list[MemoryItem | None] = []
        for (ns, key), mid in zip(keys, ids, strict=True):
            memory = found.get(mid)
            out.append(memory if memory is not None and _is_item_at(memory, ns, key)
                       and not is_expired(_lg(memory).get("expires_at"), now) else None)
        return out

    async def _search(self, op: SearchOp, now: float) -> list[tuple[MemoryItem, float | None]]:
        """The page of items for `op`, each with its score (None when not ranked)."""
        if op.limit <= 0:
            return []
        query = search_text(op.query) if op.query else ""
        if query and not op.filter:
            return await self._ranked_page(op, query, now)
        engine = self.engine.async_memory
        candidates = [m for m in await engine.scan(_prefix_filter(op.namespace_prefix))
                      if not is_expired(_lg(m).get("expires_at"), now)]
        if op.filter:
            candidates = [m for m in candidates
                          if _matches(_value(m), op.filter)]
        if not query:
            page = _newest_first(candidates)[op.offset:op.offset + op.limit]
            return [(m, None) for m in page]
        # A filtered semantic search: rank exactly the items that passed the filter, each
        # by the best of its texts.
        indexed = [m for m in candidates if _lg(m).get("indexed", 1)]
        ids = [i for m in indexed for i in _vector_ids(m)]
        best: dict[str, float] = {}
        for scored in await engine.fetch(ids, query=query):
            parent = _lg(scored).get("of") or scored.id
            if scored.score is not None and scored.score > best.get(parent, -2.0):
                best[parent] = scored.score
        ranked = sorted((m for m in indexed if m.id in best), key=lambda m: -best[m.id])
        page = [(m, best[m.id]) for m in ranked[op.offset:op.offset + op.limit]]
        return page + self._unranked_fill(candidates, best, op.limit - len(page))

    def _unranked_fill(self, candidates: list[MemoryItem], ranked: Mapping[str, Any],
                       room: int) -> list[tuple[MemoryItem, float | None]]:
        if room <= 0:
            return []
        rest = [m for m in candidates if m.id not in ranked]
        return [(m, None) for m in _newest_first(rest)[:room]]

    async def _ranked_page(self, op: SearchOp, query: str, now: float
                           ) -> list[tuple[MemoryItem, float | None]]:
        """The vector index ranks the prefix's item and field vectors; an item takes its
        best one. Pages of vectors are read until enough distinct live items are found."""
        engine = self.engine.async_memory
        where = _prefix_filter(op.namespace_prefix, kind=_RANKED)
        wanted = op.offset + op.limit
        best: dict[str, float] = {}
        items: dict[str, MemoryItem] = {}
        size = max(2 * wanted, 16)
        while True:
            hits = await engine.vector_search(query, all_of(where, _INDEXED), limit=size)
            best.clear()
            for hit in hits:  # best first: the first vector seen of an item is its best
                parent = _lg(hit).get("of") or hit.id
                best.setdefault(parent, hit.score if hit.score is not None else 0.0)
                if parent == hit.id:
                    items[hit.id] = hit
            missing = [i for i in best if i not in items]
            items.update((m.id, m) for m in await engine.fetch(missing))
            live = [i for i in best if i in items and _live(items[i], now)]
            if len(live) >= wanted or len(hits) < size:
                break
            size *= 4
        page = [(items[i], best[i]) for i in live[op.offset:wanted]]
        if len(page) < op.limit:
            unranked = [m for m in await engine.scan(all_of(
                _prefix_filter(op.namespace_prefix), _NOT_INDEXED))
                if not is_expired(_lg(m).get("expires_at"), now)]
            page += self._unranked_fill(unranked, {}, op.limit - len(page))
        return page

    async def _list_namespaces(self, op: ListNamespacesOp, now: float) -> list[tuple[str, ...]]:
        # Narrow the scan with the literal labels of prefix conditions; the rest is exact.
        prefixes = [c.path for c in op.match_conditions or () if c.match_type == "prefix"]
        conditions = [Condition(f"{_LG}.ns_{i}", "eq", label)
                      for path in prefixes for i, label in enumerate(path) if label != "*"]
        items = await self.engine.async_memory.scan(all_of(_IS_ITEM, *conditions))
        namespaces = {tuple(_lg(m)["namespace"]) for m in items
                      if _lg(m).get("namespace") and not is_expired(_lg(m).get("expires_at"), now)}
        if op.match_conditions:
            namespaces = {ns for ns in namespaces
                          if all(_does_match(c, ns) for c in op.match_conditions)}
        if op.max_depth is not None:
            namespaces = {ns[:op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset:op.offset + op.limit]

    # --- TTL ------------------------------------------------------------------------------

    async def _refresh(self, memories: list[MemoryItem], now: float) -> None:
        """Move the expiry of items read with `refresh_ttl` (those with a TTL) to `ttl`
        minutes from now. The item's `updated_at` stays what it was, as in LangGraph."""
        items: list[PutItem] = []
        for memory in memories:
            lg = dict(_lg(memory))
            if lg.get("ttl") is None:
                continue
            lg["expires_at"] = expires_at(lg["ttl"], now)
            lg.setdefault("updated_at", _item_times(memory)[1].isoformat())
            items.append(PutItem(id=memory.id, text=memory.memory, metadata={"langgraph": lg},
                                 memory_type=ITEM_TYPE,
                                 **{k: getattr(memory, k) for k in SCOPE_KEYS}))
        if items:
            await self.engine.async_memory.put_many(items, max_metadata_bytes=self._metadata_cap)

    async def _sweep(self) -> int:
        expired = await self.engine.async_memory.scan(
            all_of(_IS_ITEM, Condition(f"{_LG}.expires_at", "lte", self._clock())))
        if not expired:
            return 0
        await self.engine.async_memory.delete_many([i for m in expired for i in _vector_ids(m)])
        return len(expired)

    def sweep_ttl(self) -> int:
        """Delete the expired items now; returns how many were deleted."""
        return self._block(self._sweep())

    async def asweep_ttl(self) -> int:
        """Delete the expired items now; returns how many were deleted."""
        return await self._await(self._sweep())

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None
                          ) -> concurrent.futures.Future[None] | asyncio.Task[None]:
        """Sweep expired items every `sweep_interval_minutes` (else the TTL config's, else
        5) until `stop_ttl_sweeper`: in a daemon thread over a `Memory`, in a task on the
        running loop over an `AsyncMemory` (call it from that loop). Without a TTL config
        there is nothing to sweep and a finished future is returned."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if not self.ttl_config:
            done.set_result(None)
            return done
        interval = sweep_interval(self.ttl_config, sweep_interval_minutes)
        if not isinstance(self.engine, Memory):
            if self._task_sweeper is None or self._task_sweeper.done():
                self._loop = self._loop or asyncio.get_running_loop()
                self._task_sweeper = start_task_sweeper(self.asweep_ttl, interval)
            return self._task_sweeper
        if self._thread_sweeper is None or not self._thread_sweeper.running:
            self._thread_sweeper = ThreadSweeper(self.sweep_ttl, interval)
        done.add_done_callback(lambda f: self.stop_ttl_sweeper(0) if f.cancelled() else None)
        return done

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper; True once it has stopped (or was not running)."""
        if self._task_sweeper is not None:
            self._task_sweeper.cancel()
            self._task_sweeper = None
        if self._thread_sweeper is None:
            return True
        stopped = self._thread_sweeper.stop(timeout)
        if stopped:
            self._thread_sweeper = None
        return stopped

    # --- writing ---------------------------------------------------------------------------

    @property
    def _metadata_cap(self) -> int:
        # the value plus the item's own fields (namespace, key, TTL)
        return self.max_value_bytes + MAX_METADATA_BYTES

    def _scope_for(self, namespace: tuple[str, ...]) -> dict[str, str]:
        mapped = dict(self._scope_of(namespace)) if namespace else {}
        try:
            return Scope.of("store put", **{k: mapped.get(k) for k in SCOPE_KEYS}).ids()
        except InvalidInputError as exc:
            raise InvalidNamespaceError(
                f"namespace {namespace} maps to no valid scope ({exc}); adjust the "
                "MemoryStore's scope= mapping") from exc

    def _texts(self, op: PutOp, value: dict[str, Any]) -> tuple[list[str], str | None]:
        """The item's indexed texts (none: not ranked by queries) and the top-level key
        of the value the first one is, when it is that key's whole string."""
        if op.index is False:
            return [], None
        paths = tokenized(op.index) if isinstance(op.index, list) else self._paths
        if not paths:
            text, key = default_text(value)
            return [text], key
        texts = indexed_texts(value, paths)
        first = paths[0][0]
        plain = len(paths) == 1 and len(texts) == 1 and isinstance(value.get(first), str)
        return texts, first if plain else None

    async def _write(self, puts: dict[Key, PutOp], now: float) -> None:
        engine = self.engine.async_memory
        old_fields = {m.id: int(_lg(m).get("fields") or 0)
                      for m in await engine.fetch([item_id(*k) for k in puts])}
        deletes: list[str] = []
        items: list[PutItem] = []
        for (namespace, key), op in puts.items():
            iid = item_id(namespace, key)
            if op.value is None:
                deletes += [iid, *(field_id(iid, n) for n in range(1, old_fields.get(iid, 0) + 1))]
                continue
            scope = self._scope_for(namespace)
            encoded = encode_value(op.value, f"{namespace}/{key}", self.max_value_bytes)
            value = decode_value(encoded)
            texts, text_field = self._texts(op, value)
            labels = {f"ns_{i}": label for i, label in enumerate(namespace)}
            lg: dict[str, Any] = {"namespace": list(namespace), "key": key,
                                  "value_json": encoded, "indexed": int(bool(texts)),
                                  "depth": len(namespace), "fields": max(len(texts) - 1, 0),
                                  **labels}
            if text_field:
                lg["text_field"] = text_field
            if op.ttl is not None:
                lg["ttl"], lg["expires_at"] = op.ttl, expires_at(op.ttl, now)
            items.append(PutItem(id=iid, text=texts[0] if texts else default_text(value)[0],
                                 metadata={"langgraph": lg}, memory_type=ITEM_TYPE, **scope))
            items += [PutItem(id=field_id(iid, n), text=text, memory_type=FIELD_TYPE,
                              metadata={"langgraph": {"of": iid, "n": n, "indexed": 1, **labels}},
                              **scope)
                      for n, text in enumerate(texts[1:], 1)]
            deletes += [field_id(iid, n) for n in range(len(texts), old_fields.get(iid, 0) + 1)]
        if deletes:
            await engine.delete_many(deletes)
        if items:
            await engine.put_many(items, max_metadata_bytes=self._metadata_cap)


# --- helpers -----------------------------------------------------------------------------------


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _prefix_filter(prefix: Sequence[str], kind: Condition = _IS_ITEM) -> FilterNode | None:
    return all_of(kind, *(Condition(f"{_LG}.ns_{i}", "eq", label)
                          for i, label in enumerate(prefix)))


def _lg(memory: MemoryItem) -> dict[str, Any]:
    return (memory.metadata or {}).get("langgraph") or {}


def _is_item_at(memory: MemoryItem, namespace: tuple[str, ...], key: str) -> bool:
    lg = _lg(memory)
    return tuple(lg.get("namespace") or ()) == tuple(namespace) and lg.get("key") == key


def _live(memory: MemoryItem, now: float) -> bool:
    """An item memory (not a field memory, nor one without the store's layout) that has
    not expired."""
    lg = _lg(memory)
    return memory.memory_type == ITEM_TYPE and "namespace" in lg \
        and not is_expired(lg.get("expires_at"), now)


def _vector_ids(memory: MemoryItem) -> list[str]:
    """The ids of an item's memory and of its field memories."""
    return [memory.id, *(field_id(memory.id, n)
                         for n in range(1, int(_lg(memory).get("fields") or 0) + 1))]


def _stored_value(memory: MemoryItem) -> dict[str, Any]:
    lg = _lg(memory)
    if "value_json" in lg:
        return decode_value(lg["value_json"])
    return dict(lg.get("value") or {})  # items written before values were kept as JSON text


def _engine_changed_text(memory: MemoryItem, value: dict[str, Any]) -> bool:
    """Whether the engine rewrote the item memory's text (an update, a reconcile) since
    the store wrote it from `value[text_field]`."""
    field = _lg(memory).get("text_field")
    return bool(field) and isinstance(value.get(field), str) \
        and search_text(value[field]) != memory.memory


def _value(memory: MemoryItem) -> dict[str, Any]:
    """The item's value exactly as put, unless the engine has since changed its text."""
    value = _stored_value(memory)
    if _engine_changed_text(memory, value):
        value[_lg(memory)["text_field"]] = memory.memory
    return value


def _item_times(memory: MemoryItem) -> tuple[datetime, datetime]:
    created = memory.created_at or _NEVER
    updated = memory.updated_at or created
    kept = _lg(memory).get("updated_at")  # a TTL refresh rewrote the memory, not the item
    if kept and not _engine_changed_text(memory, _stored_value(memory)):
        updated = datetime.fromisoformat(kept)
    return created, updated


def _to_item(memory: MemoryItem, score: float | None = None) -> SearchItem:
    """The item a memory holds, scored when it was ranked."""
    lg = _lg(memory)
    created, updated = _item_times(memory)
    return SearchItem(namespace=tuple(lg.get("namespace") or ()), key=str(lg.get("key")),
                      value=_value(memory), created_at=created, updated_at=updated,
                      score=score)


def _newest_first(memories: list[MemoryItem]) -> list[MemoryItem]:
    return sorted(memories, key=lambda m: _item_times(m)[1], reverse=True)


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    # Only the first len(path) labels (from the matching end) take part.
    pairs = zip(namespace, path, strict=False) if condition.match_type == "prefix" else \
        zip(reversed(namespace), reversed(path), strict=False)
    return all(p == "*" or n == p for n, p in pairs)


def _field(value: dict[str, Any], key: str) -> Any:
    """`value[key]`, or for a dotted key the nested field it names (`"user.level"`), as
    LangGraph's SQLite and Postgres stores read filter keys."""
    if key in value or "." not in key:
        return value.get(key)
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _matches(value: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality, nested dicts, `$` operators."""
    if isinstance(wanted, dict):
        if any(str(k).startswith("$") for k in wanted):
            return all(_operator(value, op, operand) for op, operand in wanted.items())
        return isinstance(value, dict) and all(_matches(_field(value, k), v)
                                               for k, v in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return isinstance(value, (list, tuple)) and len(value) == len(wanted) and all(
            _matches(v, w) for v, w in zip(value, wanted, strict=True))
    return value == wanted


def _operator(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return value == operand
    if op == "$ne":
        return value != operand
    compare = {"$gt": float.__gt__, "$gte": float.__ge__, "$lt": float.__lt__,
               "$lte": float.__le__}.get(op)
    if compare is None:
        raise ValueError(f"Unsupported operator: {op}")
    try:
        return compare(float(value), float(operand))
    except (TypeError, ValueError):
        return False
