"""SIGKILL crash trials.

A chain of trials shares one data directory. Each trial starts a fresh process (forked
from a clean fork server that has only imported the engine), which opens the directory —
replaying whatever journal the previous kill left — reports a snapshot of everything the
stores hold, re-processes the adds the previous kill left pending, reports again, then
writes in a loop (`stress.child`). The parent kills it with SIGKILL at a random moment:
most often while it writes, sometimes while it is still opening / recovering /
re-processing (so crashes during recovery are covered too). The next trial's snapshots
are the check of the previous kill; a last process with no writes checks the last one.

What is checked at every reopen (see `stress.common.check_snapshot` for the store rules):

* no journal row is left unapplied, and history, vector store and graph agree;
* no acknowledged write is lost or changed: the parent keeps a model of the stores, built
  from the previous snapshot plus every acknowledged result, and every difference must be
  explained by an operation that was in flight when the process died;
  closed memories (issue 16: past versions and closes) are modelled too — see
  `stress.versions` and `evaluate_past`;
* an interrupted add is all-or-nothing, and if it did not happen its messages are kept
  as a pending add, whose re-processing then neither fails nor duplicates anything.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stress.common import check_snapshot, memory_config
from stress.versions import is_closed

PRELOAD = ["mem_integrations.core.async_memory", "mem_integrations.core.sync_memory", "mem_integrations.core.stores.qdrant_edge",
           "mem_integrations.core.stores.qdrant_client", "mem_integrations.core.graph.ladybug", "stress.common", "stress.child"]

_context: Any = None


def context() -> Any:
    """A fork server that has imported the engine once: trial processes start in
    milliseconds instead of seconds, and each is still a fresh process."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


@dataclass
class ChainSpec:
    engine: str = "qdrant_edge"
    graph: bool = False
    mode: str = "async"  # or "sync": the blocking facade from threads
    tasks: int = 1
    kills: int = 5
    max_run: float = 1.5  # seconds of writing before the kill, at most
    early_kill: float = 0.2  # probability of killing while opening / recovering
    llm: dict[str, Any] | None = None  # a ScriptedLLMServer's config instead of offline
    reconcile: str = ""  # reconcile.mode (single_call, two_calls); the default unless set
    sabotage: str = ""  # break the engine on purpose (checks the checks): see stress.child
    crash_at: str = ""  # SIGKILL at an exact point of the write path instead of a random time

    def label(self) -> str:
        return (f"{self.engine}{'+graph' if self.graph else ''}/{self.mode}x{self.tasks}"
                f"{'/llm' if self.llm else ''}"
                f"{'/' + self.reconcile if self.reconcile else ''}"
                f"{'/crash_at=' + self.crash_at if self.crash_at else ''}"
                f"{'/sabotage=' + self.sabotage if self.sabotage else ''}")


@dataclass
class Figures:
    """Counts over trials."""

    counts: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def note(self, kind: str, example: Any, n: int = 1) -> None:
        self.violations[kind] += n
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < 3:
            bucket.append(example)

    def merge(self, other: Figures) -> None:
        self.counts.update(other.counts)
        self.violations.update(other.violations)
        for k, v in other.examples.items():
            bucket = self.examples.setdefault(k, [])
            bucket.extend(v[: max(0, 3 - len(bucket))])
        self.errors.extend(other.errors[: max(0, 20 - len(self.errors))])

    def as_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "violations": dict(self.violations),
                "examples": self.examples, "errors": self.errors}


class Trial:
    """One process on the data directory, killed (or let finish) by the parent."""

    def __init__(self, config: dict[str, Any], spec: ChainSpec, seed: int, tag: str,
                 max_ops: int, crash: tuple[str, int] = ("", 0)) -> None:
        ctx = context()
        self.reader, writer = ctx.Pipe(duplex=False)
        from stress.child import child_entry

        self.process = ctx.Process(target=child_entry, daemon=True, args=(
            writer, config, seed, spec.tasks, spec.mode, tag, max_ops, spec.sabotage, crash))
        self.lines: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.started = time.monotonic()
        self.process.start()
        writer.close()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                line = self.reader.recv()
            except (EOFError, OSError):
                break
            except Exception:  # noqa: BLE001 - a message cut by the kill
                break
            self.lines.append(line)
            if line.get("t") == "ready":
                self.ready.set()
        self.ready.set()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()  # SIGKILL

    def finish(self, timeout: float = 120) -> int | None:
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            self.process.join(10)
        self._thread.join(10)
        self.reader.close()
        return self.process.exitcode


class Model:
    """What the stores must hold: the last snapshot plus acknowledged results. Current
    memories are `items`; closed ones (`stress.versions`) are `past`, and the past
    versions acknowledged reconcile UPDATEs must have stored are `expected_past`."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str | None]] = {}  # id -> (text, user_id)
        self.past: dict[str, tuple[str, str | None]] = {}  # closed: id -> (text, user_id)
        # closed id -> the memory it is a past version of (an explicit delete of that one
        # removes its past versions: the right to be forgotten)
        self.successor: dict[str, str | None] = {}
        # (superseding id, text, user_id) of past versions not seen in a snapshot yet
        self.expected_past: list[tuple[str, str, str | None]] = []
        self.uncertain: list[dict[str, Any]] = []  # ops begun and not acknowledged
        self.known = False  # False until a first snapshot
        self.kills_since_check = 0  # kills the next reopen has to recover from

    def reset_to(self, snap: dict[str, Any]) -> None:
        self.items = {p["id"]: (p["data"], p["user_id"]) for p in snap["memories"]
                      if not is_closed(p)}
        self.past = {p["id"]: (p["data"], p["user_id"]) for p in snap["memories"]
                     if is_closed(p)}
        self.successor = {p["id"]: p.get("superseded_by") for p in snap["memories"]
                          if is_closed(p)}
        self.expected_past = []
        self.uncertain = []
        self.known = True

    def apply(self, ack: dict[str, Any]) -> None:
        user = ack["scope"].get("user_id")
        if ack["kind"] == "delete_all":  # removes the scope's closed memories too
            self.items = {k: v for k, v in self.items.items() if v[1] != user}
            self.past = {k: v for k, v in self.past.items() if v[1] != user}
            self.expected_past = [e for e in self.expected_past if e[2] != user]
            return
        reconciled = ack["kind"] != "delete" and ack["kind"] != "update"
        for e in ack["events"]:
            if e["event"] == "ADD":
                self.items[e["id"]] = (e["memory"], user)
            elif e["event"] == "UPDATE":
                old = self.items.get(e["id"])
                owner = old[1] if old else user
                if reconciled and e.get("previous_memory") is not None:
                    # supersede, don't destroy: the old text is kept as a past version
                    self.expected_past.append((e["id"], e["previous_memory"], owner))
                self.items[e["id"]] = (e["memory"], owner)
            elif e["event"] == "DELETE":
                gone = self.items.pop(e["id"], None)
                if reconciled:  # a reconcile DELETE closes the memory, which stays
                    self.past[e["id"]] = gone or (e["memory"], user)
                else:  # an explicit delete: the memory and its past versions go
                    self.past.pop(e["id"], None)
                    self.past = {k: v for k, v in self.past.items()
                                 if self.successor.get(k) != e["id"]}
                    self.expected_past = [x for x in self.expected_past if x[0] != e["id"]]

    def explains_change(self, mid: str, user: str | None, observed: str | None) -> bool:
        """Whether an in-flight op may have changed (or removed) memory `mid`."""
        for op in self.uncertain:
            same_user = op["scope"].get("user_id") == user
            kind = op["kind"]
            if kind in ("update", "delete") and op.get("id") == mid and (
                    kind == "delete" or observed in (None, op["texts"][0])):
                return True
            if kind in ("add_infer", "reprocess", "delete_all") and same_user:
                return True
        return False

    def explains_past_change(self, mid: str | None, user: str | None, *,
                             of: str | None = None) -> bool:
        """Whether an in-flight op may have removed the closed memory `mid` (None: any of
        `user`'s, by a delete_all), or a past version of memory `of`: `delete(id)` removes
        the past versions first, so a kill between its two commits leaves the memory
        without them. Adds never change a closed memory: reconcile sees only current
        ones."""
        return any((op["kind"] == "delete" and op.get("id") is not None
                    and op.get("id") in (mid, of, self.successor.get(mid or "")))
                   or (op["kind"] == "delete_all" and op["scope"].get("user_id") == user)
                   for op in self.uncertain)

    def explains_new(self, user: str | None, *, closed: bool = False) -> bool:
        """Whether an in-flight op may have stored a new memory of `user` (a closed one:
        only a reconciling add makes those)."""
        kinds = ("add_infer", "reprocess") if closed else (
            "add_verbatim", "add_infer", "add_repeat", "reprocess")
        return any(op["kind"] in kinds and op["scope"].get("user_id") == user
                   for op in self.uncertain)


def evaluate_past(model: Model, snap: dict[str, Any], figures: Figures, where: str) -> None:
    """Compare the closed memories of a snapshot with the model: none acknowledged is
    lost or changed, every past version an acknowledged UPDATE kept is there, and no
    other closed memory appeared but from an add in flight."""
    closed = {p["id"]: p for p in snap["memories"] if is_closed(p)}
    figures.counts["closed_memories_checked"] += len(closed)
    figures.counts["past_versions_expected"] += len(model.expected_past)
    for mid, (text, user) in model.past.items():
        got = closed.get(mid)
        if got is not None and got["data"] == text:
            continue
        if model.explains_past_change(mid, user):
            continue
        figures.note("lost_past_version" if got is None else "changed_past_version",
                     {"where": where, "id": mid, "text": text,
                      "now": got["data"] if got else None})
    expected = Counter(model.expected_past)
    for mid, point in closed.items():
        if mid in model.past:
            continue
        key = (point.get("superseded_by"), point["data"], point["user_id"])
        if expected[key] > 0:
            expected[key] -= 1
        elif not model.explains_new(point["user_id"], closed=True):
            figures.note("phantom_past_version", {"where": where, "id": mid,
                                                  "text": point["data"]})
    for (later, text, user), n in expected.items():
        if n > 0 and not model.explains_past_change(None, user, of=later):
            figures.note("lost_past_version", {"where": where, "superseded_by": later,
                                               "text": text}, n)


def evaluate(model: Model, snap: dict[str, Any], pending: list[dict[str, Any]],
             figures: Figures, where: str) -> None:
    """Compare a snapshot taken at reopen with the model; count what does not fit."""
    findings = check_snapshot(snap)
    for kind, n in findings.counts.items():
        figures.note(kind, {"where": where, "examples": findings.examples[kind]}, n)
    if not model.known:
        return
    evaluate_past(model, snap, figures, where)
    observed = {p["id"]: (p["data"], p["user_id"]) for p in snap["memories"]
                if not is_closed(p)}
    for mid, (text, user) in model.items.items():
        got = observed.get(mid)
        if got is not None and got[0] == text:
            continue
        if model.explains_change(mid, user, got[0] if got else None):
            continue
        figures.note("lost" if got is None else "changed",
                     {"where": where, "id": mid, "text": text, "now": got})
    for mid, (text, user) in observed.items():
        if mid not in model.items and not model.explains_new(user):
            figures.note("phantom", {"where": where, "id": mid, "text": text})
    kept = {m for p in pending for m in p["messages"]}
    stored = {(text, user) for text, user in observed.values()}
    for op in model.uncertain:
        if not op["kind"].startswith("add"):
            continue
        user = op["scope"].get("user_id")
        if op["kind"] == "add_verbatim":
            present = sum((t, user) in stored for t in op["texts"])
            if present not in (0, len(op["texts"])):
                figures.note("partial_add", {"where": where, "op": op, "present": present})
                continue
        said = " ".join(op["texts"])
        if said in kept or all(t in kept for t in op["texts"]):
            figures.counts["in_flight_add_kept_for_reprocess"] += 1
        elif any(observed.get(mid) != item for mid, item in model.items.items()
                 if item[1] == user) or any(
                mid not in model.items and item[1] == user for mid, item in observed.items()):
            figures.counts["in_flight_add_applied"] += 1
        else:
            figures.counts["in_flight_add_not_started_or_no_change"] += 1


def run_chain(workdir: Path, spec: ChainSpec, seed: int, figures: Figures) -> None:
    """`spec.kills` killed processes on one data directory, then a checking one."""
    rng = random.Random(seed)
    data = workdir / f"chain-{seed}"
    config = memory_config(data, engine=spec.engine, graph=spec.graph, llm=spec.llm,
                           reconcile=spec.reconcile)
    model = Model()
    startup_estimate = 1.0
    for k in range(spec.kills + 1):
        last = k == spec.kills
        crash = (spec.crash_at, rng.randint(1, 8)) if spec.crash_at and not last else ("", 0)
        trial = Trial(config, spec, seed=seed * 100 + k, tag=f"s{seed}k{k}",
                      max_ops=0 if last else 100_000, crash=crash)
        early = not last and not crash[0] and rng.random() < spec.early_kill
        if last:
            pass
        elif crash[0]:  # the process kills itself at the crash point
            trial.process.join(120)
        elif early:
            time.sleep(rng.uniform(0.0, startup_estimate))
            trial.kill()
        else:
            if not trial.ready.wait(120):
                figures.errors.append(f"{spec.label()} seed {seed}: no ready line in 120 s")
            else:
                startup_estimate = 0.7 * startup_estimate + 0.3 * (time.monotonic() - trial.started)
                time.sleep(rng.uniform(0.0, spec.max_run))
            trial.kill()
        code = trial.finish()
        if not last and code != -9:
            figures.counts["process_ended_before_kill"] += 1
        if last and code != 0:
            figures.errors.append(f"{spec.label()} seed {seed}: checking process exit {code}")
        process_lines(trial.lines, model, figures, f"{spec.label()} seed {seed} trial {k}",
                      last=last)
        if not last:
            figures.counts["kills"] += 1
            model.kills_since_check += 1
            phase = phase_of(trial.lines)
            figures.counts[f"killed_during_{phase}"] += 1
            kinds = {op["kind"] for op in model.uncertain}
            for kind in kinds:
                figures.counts[f"killed_with_{kind}_in_flight"] += 1


def phase_of(lines: list[dict[str, Any]]) -> str:
    kinds = [line.get("t") for line in lines]
    if "recovered" not in kinds:
        return "open_and_recovery"
    if "ready" not in kinds:
        return "reprocess_of_pending"
    return "writes"


def process_lines(lines: list[dict[str, Any]], model: Model, figures: Figures, where: str,
                  *, last: bool) -> None:
    begun: dict[str, dict[str, Any]] = {}
    for line in lines:
        t = line.get("t")
        if t == "recovered":
            figures.counts["reopens"] += 1
            figures.counts["journal_ops_replayed"] += line["unapplied_before_open"]
            figures.counts["reopens_with_journal_to_replay"] += bool(line["unapplied_before_open"])
            figures.counts["pending_adds_found"] += len(line["pending"])
            before = Counter(figures.violations)
            evaluate(model, line["snap"], line["pending"], figures, where)
            if Counter(figures.violations) == before:
                figures.counts["reopens_consistent"] += 1
                figures.counts["crashes_survived"] += model.kills_since_check
            else:
                figures.counts["crashes_not_survived"] += model.kills_since_check
            model.kills_since_check = 0
            model.reset_to(line["snap"])
            for p in line["pending"]:
                model.uncertain.append({"kind": "reprocess", "scope": p["scope"],
                                        "texts": p["messages"]})
        elif t == "reprocessed":
            for error in line["errors"]:
                figures.note("reprocess_failed", {"where": where, "error": error})
            if line["snap"] is not None:
                findings = check_snapshot(line["snap"])
                for kind, n in findings.counts.items():
                    figures.note(f"after_reprocess_{kind}", {"where": where}, n)
                figures.counts["pending_adds_reprocessed"] += sum(
                    1 for op in model.uncertain if op["kind"] == "reprocess")
                model.reset_to(line["snap"])
        elif t == "fatal":
            figures.note("process_failed", {"where": where, "error": line["error"],
                                            "trace": line.get("trace")})
        elif t == "crash_point":
            figures.counts[f"killed_at_crash_point_{line['point']}"] += 1
        elif t == "begin":
            begun[line["op"]] = line
            model.uncertain.append(line)
        elif t in ("ack", "error"):
            op = begun.pop(line["op"], None)
            if op is not None:
                model.uncertain.remove(op)
            if t == "ack":
                figures.counts["writes_acknowledged"] += 1
                figures.counts[f"acknowledged_{line['kind']}"] += 1
                model.apply(line)
            else:
                figures.note("unexpected_error", {"where": where, "error": line["error"]})
                if op is not None:  # it failed part-way: it may or may not have happened
                    model.uncertain.append(op)


def run_crash_trials(workdir: Path, specs: list[ChainSpec], seed: int = 0,
                     progress: Any = None) -> Figures:
    figures = Figures()
    for i, spec in enumerate(specs):
        chain = Figures()
        try:
            run_chain(workdir, spec, seed + i, chain)
        except Exception as exc:  # noqa: BLE001 - a harness failure is reported, not hidden
            chain.errors.append(f"{spec.label()} seed {seed + i}: {type(exc).__name__}: {exc}")
        chain.counts[f"chains_{spec.label()}"] += 1
        figures.merge(chain)
        if progress:
            progress(i + 1, len(specs), spec, chain)
    return figures
