"""What the consistency rules know about "supersede, don't destroy" (issue 16).

A reconcile UPDATE keeps the memory's id and its history chain, and stores what it said
before as a *past version*: a point of its own, under a new id, with `valid_to` and
`superseded_by` (its history: one ADD, the copy). A reconcile DELETE *closes* the memory:
the point stays, with `valid_to`, and its history ends in a DELETE row that is a close
(`raw_history`'s `closes`). An explicit `delete()` / `delete_all` still removes — a
`delete(id)` with the past versions of `id` — so a closed memory's chain may end close,
then DELETE.

Current memories (no `valid_to`) keep every rule they always had (`check_snapshot`);
the closed ones are checked here for what they must satisfy, and the snapshot records
what the default reads return, so that a past version leaking into them is caught.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stress.common import Findings

SEARCHED_PAST_VERSIONS = 5  # closed points searched for by their own text per snapshot


def is_closed(point: dict[str, Any]) -> bool:
    return bool(point.get("valid_to"))


def text_after(row: dict[str, Any]) -> str | None:
    """The memory's text once `row` is applied (a close keeps it; a removal ends it)."""
    if row.get("closes"):
        return row["old_memory"]
    return row["new_memory"] if row["event"] in ("ADD", "UPDATE") else None


def stores(row: dict[str, Any]) -> bool:
    """Whether the memory is stored once `row` is applied."""
    return row["event"] in ("ADD", "UPDATE") or bool(row.get("closes"))


async def default_reads(memory: Any, points: list[dict[str, Any]]) -> dict[str, Any]:
    """What the default reads of an opened `AsyncMemory` return: `get_all` of every user
    holding memories (`visible`), and a `search` for a few closed points by their own
    text (`searched`): neither may return anything but current memories."""
    users = sorted({p["user_id"] for p in points if p.get("user_id")})
    visible = {user: [m.id for m in (await memory.get_all(user_id=user)).results]
               for user in users}
    searched = []
    for point in [p for p in points if is_closed(p) and p.get("user_id")][
            :SEARCHED_PAST_VERSIONS]:
        found = await memory.search(point["data"], user_id=point["user_id"], limit=5)
        searched.append({"id": point["id"], "hits": [m.id for m in found.results]})
    return {"visible": visible, "searched": searched}


def check_versions(f: Findings, snap: dict[str, Any],
                   chains: dict[str, list[dict[str, Any]]]) -> None:
    """The rules for closed memories, and for what default reads return:

    * a past version's `superseded_by` is a stored memory, or one whose history ends in
      DELETE (it was deleted since), of the same scope;
    * its text is a text the chain had before it was closed: the superseding memory's
      history has an UPDATE from it — one per past version (more copies: `duplicates`);
    * default `get_all` returns every current memory of the user and no closed one;
      default `search` returns no closed one.
    """
    from stress.common import scope_of

    points = {p["id"]: p for p in snap["memories"]}
    copies: Counter[tuple[str, str]] = Counter()
    for mid, point in points.items():
        later = point.get("superseded_by")
        if not is_closed(point) or not later:
            continue
        chain = chains.get(later, [])
        head = points.get(later)
        if head is None and not (chain and chain[-1]["event"] == "DELETE"
                                 and not chain[-1].get("closes")):
            f.add("past_version_dangling", {"id": mid, "superseded_by": later})
            continue
        # the superseding memory's own scope; once it is deleted, its history rows' (a
        # row names the scope of the call that wrote it: None where that call gave none)
        crossed = scope_of(head) != scope_of(point) if head is not None else any(
            mine is not None and mine != theirs
            for row in chain for mine, theirs in zip(scope_of(row), scope_of(point),
                                                     strict=True))
        if crossed:
            f.add("past_version_crosses_scope", {
                "id": mid, "superseded_by": later, "scope": scope_of(point),
                "theirs": [scope_of(head)] if head is not None else
                [scope_of(r) for r in chain]})
        copies[(later, point["data"])] += 1
        updates = sum(1 for r in chain if r["event"] == "UPDATE"
                      and r["old_memory"] == point["data"])
        if not updates:
            f.add("past_version_text_not_in_chain", {"id": mid, "text": point["data"],
                                                     "chain": [(r["event"], r["old_memory"])
                                                               for r in chain]})
        elif copies[(later, point["data"])] > updates:
            f.add("duplicates", {"past_version_of": later, "text": point["data"]})
    for user, ids in snap.get("visible", {}).items():
        shown = set(ids)
        for mid in shown:
            if mid in points and is_closed(points[mid]):
                f.add("past_version_visible", {"read": "get_all", "id": mid})
        for mid, point in points.items():
            if point.get("user_id") == user and not is_closed(point) and mid not in shown:
                f.add("current_missing_from_get_all", {"id": mid, "text": point["data"]})
    for probe in snap.get("searched", []):
        for mid in probe["hits"]:
            if mid in points and is_closed(points[mid]):
                f.add("past_version_visible", {"read": "search", "id": mid})
