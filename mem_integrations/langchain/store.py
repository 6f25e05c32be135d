"""A LangGraph `BaseStore` kept in the memory engine, so that LangGraph agents,
`create_agent(store=...)` and LangMem's memory tools keep their items next to (and
visible as) the engine's memories.

How items are stored:

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
* The memory text is the text the item is indexed by: the `fields=` paths (LangGraph's
  `index["fields"]` syntax, per put with `index=[...]`), or by default the value's
  `content` / `text` / `memory` string, else the whole value as JSON. It is embedded
  with the engine's embedder. The whole value is kept in the memory's metadata under
  `"langgraph"` (with the namespace and key); `memory_type` is `"langgraph_item"`.
* When the engine changes such a memory's text (`Memory.update`, or a later `add`
  reconciling a contradiction), the item's text field follows; when it deletes the
  memory, the item is gone.
* `put(..., index=False)` items are stored and listed but never ranked by a query (they
  fill a page after the ranked ones, unscored, as in LangGraph's `InMemoryStore`).
* Search without a query lists items newest first. Filters follow LangGraph (`$eq`,
  `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, nested dicts) and are applied exactly.
* TTLs are not supported (`supports_ttl = False`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.filters import Condition, FilterNode, all_of
from mem_integrations.core.models import MemoryItem, PutItem
from mem_integrations.core.records import MAX_MEMORY_CHARS, MEMORY_TYPE, METADATA
from mem_integrations.core.scope import SCOPE_KEYS, Scope
from mem_integrations.core.sync_memory import AnyMemory, bridge

ITEM_TYPE = "langgraph_item"
_ID_NAMESPACE = uuid.UUID("5b0c3f3e-6f47-4b8e-9d0a-6c2f1f6a7e11")
_LG = f"{METADATA}.langgraph"
_IS_ITEM = Condition(MEMORY_TYPE, "eq", ITEM_TYPE)
# 1/0, not booleans: qdrant-edge does not match boolean payload values (see the report).
_INDEXED = Condition(f"{_LG}.indexed", "eq", 1)
_NOT_INDEXED = Condition(f"{_LG}.indexed", "eq", 0)
_TEXT_KEYS = ("content", "text", "memory")
_NEVER = datetime.min.replace(tzinfo=UTC)

NamespaceScope = Callable[[tuple[str, ...]], Mapping[str, str]] | Mapping[str, int]


def item_id(namespace: Sequence[str], key: str) -> str:
    """The memory id of the item (namespace, key)."""
    return str(uuid.uuid5(_ID_NAMESPACE, json.dumps([list(namespace), key], ensure_ascii=False)))


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
        memory: a `Memory` (or an `AsyncMemory`, for the async methods only).
        scope: namespace -> scope ids (see the module docstring). Default: the last
            namespace label is the user id.
        fields: JSON paths of the value to index by default (LangGraph syntax: "text",
            "a.b", "list[*].text", "$" for the whole value).
    """

    supports_ttl: bool = False

    def __init__(self, memory: AnyMemory, *, scope: NamespaceScope | None = None,
                 fields: Sequence[str] | None = None) -> None:
        self.engine = bridge(memory)
        self._scope_of = _scope_function(scope)
        self.fields = list(fields) if fields else None
        self._tokenized = [(p, p if p == "$" else tokenize_path(p)) for p in self.fields or []]

    def __repr__(self) -> str:
        return f"MemoryStore({self.engine!r})"

    # --- BaseStore -------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self.engine.run(self._batch(list(ops)))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self.engine.arun(self._batch(list(ops)))

    async def _batch(self, ops: list[Op]) -> list[Result]:
        """Reads see the store as it was before the batch's writes, as in LangGraph's
        stores; of several writes to one key, the last wins."""
        for op in ops:
            _validate_labels(op)
            if isinstance(op, PutOp):
                _check_namespace(op.namespace)
            elif not isinstance(op, (GetOp, SearchOp, ListNamespacesOp)):
                raise ValueError(f"Unknown operation type: {type(op)}")
        results: list[Result] = [None] * len(ops)
        gets = {i: op for i, op in enumerate(ops) if isinstance(op, GetOp)}
        if gets:
            found = await self._get_many([(op.namespace, op.key) for op in gets.values()])
            for i, item in zip(gets, found, strict=True):
                results[i] = item
        for i, op in enumerate(ops):
            if isinstance(op, SearchOp):
                results[i] = await self._search(op)
            elif isinstance(op, ListNamespacesOp):
                results[i] = await self._list_namespaces(op)
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, PutOp):
                puts[(tuple(op.namespace), str(op.key))] = op
        if puts:
            await self._write(puts)
        return results

    # --- reading ---------------------------------------------------------------------------

    async def _get_many(self, keys: list[tuple[tuple[str, ...], str]]) -> list[Item | None]:
        ids = [item_id(ns, key) for ns, key in keys]
        found = {m.id: m for m in await self.engine.async_memory.fetch(ids)}
        out: list[Item | None] = []
        for (ns, key), mid in zip(keys, ids, strict=True):
            memory = found.get(mid)
            out.append(_to_item(memory) if memory is not None and _is_item_at(memory, ns, key)
                       else None)
        return out

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        where = _prefix_filter(op.namespace_prefix)
        if op.limit <= 0:
            return []
        engine = self.engine.async_memory
        if op.query and not op.filter:
            # Fast path: the vector index ranks the indexed items of the prefix.
            ranked = [_to_item(m) for m in await engine.vector_search(
                op.query, all_of(where, _INDEXED), limit=op.limit, offset=op.offset)]
            if len(ranked) < op.limit:
                unranked = _newest_first(await engine.scan(all_of(where, _NOT_INDEXED)))
                ranked.extend(_to_item(m) for m in unranked[:op.limit - len(ranked)])
            return ranked
        candidates = await engine.scan(where)
        if op.filter:
            candidates = [m for m in candidates
                          if _matches(_to_item(m).value, op.filter)]
        if not op.query:
            page = _newest_first(candidates)[op.offset:op.offset + op.limit]
            return [_to_item(m) for m in page]
        # A filtered semantic search: rank exactly the items that passed the filter.
        indexed = [m for m in candidates if _lg(m).get("indexed", 1)]
        unranked = [m for m in candidates if not _lg(m).get("indexed", 1)]
        scored = sorted((m for m in await engine.fetch([m.id for m in indexed], query=op.query)
                         if m.score is not None), key=lambda m: -(m.score or 0.0))
        ranked = [_to_item(m) for m in scored[op.offset:op.offset + op.limit]]
        if len(ranked) < op.limit:
            ranked.extend(_to_item(m) for m in _newest_first(unranked)[:op.limit - len(ranked)])
        return ranked

    async def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        # Narrow the scan with the literal labels of prefix conditions; the rest is exact.
        prefixes = [c.path for c in op.match_conditions or () if c.match_type == "prefix"]
        conditions = [Condition(f"{_LG}.ns_{i}", "eq", label)
                      for path in prefixes for i, label in enumerate(path) if label != "*"]
        items = await self.engine.async_memory.scan(all_of(_IS_ITEM, *conditions))
        namespaces = {tuple(_lg(m)["namespace"]) for m in items if _lg(m).get("namespace")}
        if op.match_conditions:
            namespaces = {ns for ns in namespaces
                          if all(_does_match(c, ns) for c in op.match_conditions)}
        if op.max_depth is not None:
            namespaces = {ns[:op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset:op.offset + op.limit]

    # --- writing ---------------------------------------------------------------------------

    def _scope_for(self, namespace: tuple[str, ...]) -> dict[str, str]:
        mapped = dict(self._scope_of(namespace))
        try:
            return Scope.of("store put", **{k: mapped.get(k) for k in SCOPE_KEYS}).ids()
        except InvalidInputError as exc:
            raise InvalidNamespaceError(
                f"namespace {namespace} maps to no valid scope ({exc}); adjust the "
                "MemoryStore's scope= mapping") from exc

    def _text(self, op: PutOp) -> tuple[str, str | None, bool]:
        """The text an item is indexed by, the value field it came from (if one string
        field), and whether it is indexed at all."""
        value = dict(op.value or {})
        paths = ([(p, p if p == "$" else tokenize_path(p)) for p in op.index]
                 if isinstance(op.index, list) else self._tokenized)
        if paths:
            texts = [t for _, tokens in paths for t in get_text_at_path(value, tokens)]
            if texts:
                single = len(paths) == 1 and paths[0][0] in value and len(texts) == 1 \
                    and isinstance(value.get(paths[0][0]), str)
                return "\n".join(texts), paths[0][0] if single else None, op.index is not False
        for key in _TEXT_KEYS:
            if isinstance(value.get(key), str) and value[key].strip():
                return value[key], key, op.index is not False and not paths
        return json.dumps(value, ensure_ascii=False, sort_keys=True), None, \
            op.index is not False and not paths

    async def _write(self, puts: dict[tuple[tuple[str, ...], str], PutOp]) -> None:
        deletes = [item_id(*k) for k, op in puts.items() if op.value is None]
        items: list[PutItem] = []
        for (namespace, key), op in puts.items():
            if op.value is None:
                continue
            value = _json_value(op.value, namespace, key)
            text, text_field, indexed = self._text(op._replace(value=value))
            if len(text) > MAX_MEMORY_CHARS:
                text, text_field = text[:MAX_MEMORY_CHARS], None
            lg: dict[str, Any] = {"namespace": list(namespace), "key": key, "value": value,
                                  "indexed": int(indexed), "depth": len(namespace),
                                  **{f"ns_{i}": label for i, label in enumerate(namespace)}}
            if text_field:
                lg["text_field"] = text_field
            items.append(PutItem(id=item_id(namespace, key), text=text,
                                 metadata={"langgraph": lg}, memory_type=ITEM_TYPE,
                                 **self._scope_for(namespace)))
        if deletes:
            await self.engine.async_memory.delete_many(deletes)
        if items:
            await self.engine.async_memory.put_many(items)


# --- helpers -----------------------------------------------------------------------------------


def _validate_labels(op: Op) -> None:
    """LangGraph's label rules, for ops given straight to `batch` (the `BaseStore`
    methods check them, `batch` callers may not): a label with a "." would otherwise
    address another namespace through the per-level payload fields."""
    if isinstance(op, (GetOp, PutOp)):
        paths = [op.namespace]
    elif isinstance(op, SearchOp):
        paths = [op.namespace_prefix]
    elif isinstance(op, ListNamespacesOp):
        paths = [c.path for c in op.match_conditions or ()]
    else:
        return
    for path in paths:
        for label in path:
            if not isinstance(label, str) or not label or "." in label or "\x00" in label:
                raise InvalidNamespaceError(
                    f"Invalid namespace label {label!r} in {path}: labels must be non-empty "
                    "strings without periods or NUL bytes.")


def _check_namespace(namespace: tuple[str, ...]) -> None:
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError(f'Root label for namespace cannot be "langgraph". Got: {namespace}')


def _json_value(value: Mapping[str, Any], namespace: tuple[str, ...], key: str) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(dict(value), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"store value for {namespace}/{key} must be JSON-serialisable: {exc}") from exc


def _prefix_filter(prefix: Sequence[str]) -> FilterNode | None:
    return all_of(_IS_ITEM, *(Condition(f"{_LG}.ns_{i}", "eq", label)
                              for i, label in enumerate(prefix)))


def _lg(memory: MemoryItem) -> dict[str, Any]:
    return (memory.metadata or {}).get("langgraph") or {}


def _is_item_at(memory: MemoryItem, namespace: tuple[str, ...], key: str) -> bool:
    lg = _lg(memory)
    return tuple(lg.get("namespace") or ()) == tuple(namespace) and lg.get("key") == key


def _to_item(memory: MemoryItem) -> SearchItem:
    """The item a memory holds, scored when the memory was ranked."""
    lg = _lg(memory)
    value = dict(lg.get("value") or {})
    field = lg.get("text_field")
    text = memory.memory
    if field and isinstance(value.get(field), str) and text and value[field] != text:
        value[field] = text  # the engine changed the memory (update / reconcile)
    created: Any = memory.created_at
    updated: Any = memory.updated_at or created
    return SearchItem(namespace=tuple(lg.get("namespace") or ()), key=str(lg.get("key")),
                      value=value, created_at=created, updated_at=updated,
                      score=memory.score)


def _newest_first(memories: list[MemoryItem]) -> list[MemoryItem]:
    return sorted(memories, key=lambda m: m.updated_at or m.created_at or _NEVER, reverse=True)


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    # Only the first len(path) labels (from the matching end) take part.
    pairs = zip(namespace, path, strict=False) if condition.match_type == "prefix" else \
        zip(reversed(namespace), reversed(path), strict=False)
    return all(p == "*" or n == p for n, p in pairs)


def _matches(value: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality, nested dicts, `$` operators."""
    if isinstance(wanted, dict):
        if any(str(k).startswith("$") for k in wanted):
            return all(_operator(value, op, operand) for op, operand in wanted.items())
        return isinstance(value, dict) and all(_matches(value.get(k), v)
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
