"""The process a crash trial kills: opens a memory on a data directory and writes in a
loop — adds (verbatim and inferred by the offline extractor), updates, deletes, repeats,
and now and then a delete_all — printing one JSON line before each call (`begin`) and one
after it returns (`ack`, flushed), so the parent knows which writes were acknowledged.

    python -m stress.child --config '<json>' --seed 7 --tasks 3 --mode async
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
import warnings
from typing import Any

warnings.simplefilter("ignore")

_print_lock = threading.Lock()
_sink: Any = None  # a multiprocessing Connection, or None for stdout


def emit(**line: Any) -> None:
    """Report one line to the parent; returns once it is written (a SIGKILL after this
    cannot take it back)."""
    with _print_lock:
        if _sink is not None:
            _sink.send(line)
        else:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()


CITIES = ["Paris", "Berlin", "Rome", "Lisbon", "Oslo", "Vienna", "Prague", "Madrid"]
THINGS = ["tea", "coffee", "jazz", "hiking", "chess", "sushi", "opera", "cycling"]
NAMES = ["Anna", "Marco", "Lena", "Omar", "Yuki", "Pablo"]
RELATIVES = ["sister", "brother", "friend", "cousin"]
ORGS = ["Acme", "Globex", "Initech", "Umbrella"]
WORDS = ["amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
         "juniper", "kelp", "lagoon", "meadow", "nectar", "onyx", "pepper", "quartz", "raven"]


def inferred_sentence(rng: random.Random) -> str:
    shape = rng.randrange(7)
    if shape == 0:
        return f"I live in {rng.choice(CITIES)}."
    if shape == 1:
        return f"I moved to {rng.choice(CITIES)} now."
    if shape == 2:
        return f"I like {rng.choice(THINGS)}."
    if shape == 3:
        return f"I no longer like {rng.choice(THINGS)}."
    if shape == 4:
        return f"My {rng.choice(RELATIVES)} is {rng.choice(NAMES)}."
    if shape == 5:
        return f"I work at {rng.choice(ORGS)}."
    return f"I switched to drinking {rng.choice(THINGS)} these days."


class Worker:
    """One task's loop over its own user scope."""

    def __init__(self, memory: Any, task: int, seed: int, tag: str) -> None:
        self.memory = memory
        self.task = task
        self.user = f"u{task}"
        self.rng = random.Random(seed * 1000 + task)
        self.tag = tag
        self.n = 0
        self.known: dict[str, str] = {}  # id -> text, from acknowledged results
        self.texts: list[str] = []  # verbatim texts added, for repeats

    def learn(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            if e["event"] in ("ADD", "UPDATE"):
                self.known[e["id"]] = e["memory"]
            elif e["event"] == "DELETE":
                self.known.pop(e["id"], None)

    def after(self, op: dict[str, Any], ack: dict[str, Any]) -> None:
        self.learn(ack["events"])
        if op["kind"] == "delete_all":
            self.known.clear()
        if op["kind"] == "add_verbatim":
            self.texts.extend(op["texts"])

    def next_op(self) -> dict[str, Any]:
        self.n += 1
        op_id = f"{self.tag}-{self.task}-{self.n}"
        roll = self.rng.random()
        scope = {"user_id": self.user}
        if self.rng.random() < 0.25:
            scope["run_id"] = f"r{self.rng.randrange(2)}"
        if roll < 0.30:
            texts = [f"Stress note {op_id}-{i} {' '.join(self.rng.sample(WORDS, 3))}"
                     for i in range(self.rng.randint(1, 3))]
            return {"op": op_id, "kind": "add_verbatim", "scope": scope, "texts": texts}
        if roll < 0.62:
            texts = [inferred_sentence(self.rng) for _ in range(self.rng.randint(1, 2))]
            return {"op": op_id, "kind": "add_infer", "scope": scope, "texts": texts}
        if roll < 0.70 and self.texts:
            return {"op": op_id, "kind": "add_repeat", "scope": {"user_id": self.user},
                    "texts": [self.rng.choice(self.texts)]}
        if roll < 0.84 and self.known:
            target = self.rng.choice(sorted(self.known))
            return {"op": op_id, "kind": "update", "id": target, "scope": {"user_id": self.user},
                    "texts": [f"Updated note {op_id} {' '.join(self.rng.sample(WORDS, 2))}"]}
        if roll < 0.97 and self.known:
            target = self.rng.choice(sorted(self.known))
            return {"op": op_id, "kind": "delete", "id": target, "scope": {"user_id": self.user}}
        if roll >= 0.97:
            return {"op": op_id, "kind": "delete_all", "scope": {"user_id": self.user}}
        return self.next_op()


def call_of(op: dict[str, Any]) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The memory method, arguments and keyword arguments that perform `op`."""
    kind = op["kind"]
    if kind in ("add_verbatim", "add_repeat"):
        return "add", ([{"role": "user", "content": t} for t in op["texts"]],), \
            {"infer": False, **op["scope"]}
    if kind == "add_infer":
        return "add", (" ".join(op["texts"]),), dict(op["scope"])
    if kind == "update":
        return "update", (op["id"],), {"text": op["texts"][0]}
    if kind == "delete":
        return "delete", (op["id"],), {}
    if kind == "delete_all":
        return "delete_all", (), dict(op["scope"])
    raise ValueError(kind)


def ack_of(op: dict[str, Any], result: Any) -> dict[str, Any]:
    """The ack line's fields for `op`, from what the call returned."""
    kind = op["kind"]
    if kind.startswith("add"):
        return {"events": [e.model_dump(mode="json") for e in result.results]}
    if kind == "update":
        return {"events": [{"id": op["id"], "event": "UPDATE", "memory": op["texts"][0]}]}
    if kind == "delete":
        return {"events": [{"id": op["id"], "event": "DELETE", "memory": ""}]}
    return {"events": [], "count": result.count}


async def perform(memory: Any, op: dict[str, Any]) -> dict[str, Any]:
    """Run one op on an `AsyncMemory`."""
    name, args, kwargs = call_of(op)
    return ack_of(op, await getattr(memory, name)(*args, **kwargs))


def perform_sync(memory: Any, op: dict[str, Any]) -> dict[str, Any]:
    """Run one op on the blocking `Memory`."""
    name, args, kwargs = call_of(op)
    return ack_of(op, getattr(memory, name)(*args, **kwargs))


async def startup(memory: Any, *, reprocess: bool = True) -> None:
    """Open (replaying the journal), report what the data directory holds, re-process the
    adds a crash left pending, report again. `memory` is an `AsyncMemory`."""
    from pathlib import Path

    from stress.common import raw_history, snapshot

    db = Path(memory.config.data_dir) / "history.db"
    unapplied = sum(1 for r in raw_history(db) if not r["applied"])
    started = time.monotonic()
    await memory.open()
    opened = round(time.monotonic() - started, 3)
    recovered = await snapshot(memory)
    pending = await memory.pending()
    emit(t="recovered", unapplied_before_open=unapplied, open_seconds=opened, snap=recovered,
         pending=[{"id": p.id, "scope": p.scope, "status": p.status,
                   "messages": [m["content"] for m in p.messages]} for p in pending])
    if not reprocess:
        return
    errors = []
    for p in pending:
        emit(t="reprocess", id=p.id, scope=p.scope)
        try:
            await memory.reprocess(p.id)
        except Exception as exc:  # noqa: BLE001 - reported, counted by the parent
            errors.append(f"{type(exc).__name__}: {exc}")
    emit(t="reprocessed", snap=await snapshot(memory) if pending else None, errors=errors)


async def run_async(config: dict[str, Any], seed: int, tasks: int, tag: str,
                    max_ops: int, crash: tuple[str, int] = ("", 0)) -> None:
    from mem_integrations.core.async_memory import AsyncMemory
    from stress.common import HashEmbedder

    memory = AsyncMemory(config, embedder=HashEmbedder())
    await startup(memory)
    install_crash_point(memory, *crash)
    emit(t="ready")
    workers = [Worker(memory, k, seed, tag) for k in range(tasks)]
    for w in workers:
        for item in (await memory.get_all(user_id=w.user)).results:
            w.known[item.id] = item.memory

    async def loop(w: Worker) -> None:
        for _ in range(max_ops):
            op = w.next_op()
            emit(t="begin", task=w.task, **op)
            try:
                ack = await perform(memory, op)
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which counts it
                emit(t="error", task=w.task, op=op["op"], error=f"{type(exc).__name__}: {exc}")
                if op["kind"] in ("update", "delete"):
                    w.known.pop(op["id"], None)
                continue
            emit(t="ack", task=w.task, op=op["op"], kind=op["kind"], scope=op["scope"], **ack)
            w.after(op, ack)

    await asyncio.gather(*[loop(w) for w in workers])
    await memory.close()
    emit(t="done")


def run_sync(config: dict[str, Any], seed: int, tasks: int, tag: str, max_ops: int,
             crash: tuple[str, int] = ("", 0)) -> None:
    """The blocking facade from `tasks` threads (each call goes to the facade's loop)."""
    from mem_integrations.core.sync_memory import Memory
    from stress.common import HashEmbedder

    memory = Memory(config, embedder=HashEmbedder())
    memory.run(startup(memory.async_memory))
    install_crash_point(memory.async_memory, *crash)
    emit(t="ready")
    workers = [Worker(memory, k, seed, tag) for k in range(tasks)]
    for w in workers:
        for item in memory.get_all(user_id=w.user).results:
            w.known[item.id] = item.memory

    def loop(w: Worker) -> None:
        for _ in range(max_ops):
            op = w.next_op()
            emit(t="begin", task=w.task, **op)
            try:
                ack = perform_sync(memory, op)
            except Exception as exc:  # noqa: BLE001
                emit(t="error", task=w.task, op=op["op"], error=f"{type(exc).__name__}: {exc}")
                if op["kind"] in ("update", "delete"):
                    w.known.pop(op["id"], None)
                continue
            emit(t="ack", task=w.task, op=op["op"], kind=op["kind"], scope=op["scope"], **ack)
            w.after(op, ack)

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    memory.close()
    emit(t="done")


CRASH_POINTS = ("pending", "journal", "graph", "applied")


def install_crash_point(memory: Any, point: str, after: int) -> None:
    """SIGKILL this process at an exact point of the write path, the `after`-th time it is
    reached: `pending` (messages kept, LLM not called yet), `journal` (operations
    journaled, no store written), `graph` (vector store written, graph not yet),
    `applied` (both written, journal not yet marked applied). `memory`: an AsyncMemory."""
    import os
    import signal

    if not point:
        return
    if point not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    reached = [0]

    def die_on_nth() -> None:
        reached[0] += 1
        if reached[0] >= after:
            emit(t="crash_point", point=point, n=reached[0])
            os.kill(os.getpid(), signal.SIGKILL)

    def before(obj: Any, name: str) -> None:
        original = getattr(obj, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            die_on_nth()
            return original(*args, **kwargs)

        setattr(obj, name, wrapped)

    def after_call(obj: Any, name: str) -> None:
        original = getattr(obj, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            die_on_nth()
            return result

        setattr(obj, name, wrapped)

    if point == "pending":
        after_call(memory.history_store, "save_pending")
    elif point == "journal":
        after_call(memory.history_store, "journal")
    elif point == "graph":
        if memory.graph is None:
            raise ValueError("crash point 'graph' needs graph memory on")
        before(memory.graph, "write")
    elif point == "applied":
        before(memory.history_store, "mark_applied")


def sabotage(kind: str) -> None:
    """Break the engine on purpose, to prove the checks catch what they claim to catch."""
    from mem_integrations.core.writer import Writer

    if kind == "no_recover":  # never replay the journal
        async def _skip(self: Any) -> None:
            return None

        Writer.replay = _skip  # type: ignore[method-assign]
    elif kind == "no_journal":  # write the stores without journaling first
        async def _commit(self: Any, writes: Any, scope: Any, *, pending_id: Any = None,
                          **_: Any) -> None:
            await asyncio.to_thread(self.apply, writes)
            if pending_id:
                await asyncio.to_thread(self.history.drop_pending, pending_id)
            if writes.ops:
                batch = await asyncio.to_thread(self.history.journal,
                                                [op.row() for op in writes.ops], scope)
                await asyncio.to_thread(self.history.mark_applied, batch)

        Writer.commit = _commit  # type: ignore[method-assign]
    elif kind == "lose_writes":  # journal and confirm, but never write the stores
        Writer.apply = lambda self, writes, **_: None  # type: ignore[method-assign]
    elif kind == "overwrite_updates":  # a reconcile UPDATE that keeps no past version
        from mem_integrations.core.pipeline.add import AddPlanner

        keep = AddPlanner._update

        def _update(self: Any, plan: Any, *args: Any, **kwargs: Any) -> None:
            keep(self, plan, *args, **kwargs)
            past = plan.ops.pop(-2)  # _update appends the past version, then the memory
            plan.vectors.pop(past.memory_id)

        AddPlanner._update = _update  # type: ignore[method-assign]
    elif kind == "leak_past_versions":  # default reads see closed memories too
        import mem_integrations.core.async_memory as engine

        engine.read_filter = lambda as_of: None  # type: ignore[assignment]
    elif kind:
        raise ValueError(f"unknown sabotage {kind!r}")


def child_entry(sink: Any, config: dict[str, Any], seed: int, tasks: int, mode: str,
                tag: str, max_ops: int, sabotage_kind: str = "",
                crash: tuple[str, int] = ("", 0)) -> None:
    """Entry point of a forked trial process: lines go to `sink` (a Connection)."""
    import logging

    global _sink
    _sink = sink
    logging.getLogger("mem_integrations").setLevel(logging.ERROR)
    sabotage(sabotage_kind)
    try:
        if mode == "async":
            asyncio.run(run_async(config, seed, tasks, tag, max_ops, crash))
        else:
            run_sync(config, seed, tasks, tag, max_ops, crash)
    except BaseException as exc:  # e.g. the data directory cannot be opened after a crash
        import traceback

        emit(t="fatal", error=f"{type(exc).__name__}: {exc}",
             trace=traceback.format_exc()[-2000:])
        raise SystemExit(3) from None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=1)
    parser.add_argument("--mode", choices=["async", "sync"], default="async")
    parser.add_argument("--tag", default="c0")
    parser.add_argument("--max-ops", type=int, default=100_000)
    args = parser.parse_args()
    config = json.loads(args.config)
    if args.mode == "async":
        asyncio.run(run_async(config, args.seed, args.tasks, args.tag, args.max_ops))
    else:
        run_sync(config, args.seed, args.tasks, args.tag, args.max_ops)


if __name__ == "__main__":
    main()


# --- one-off crash scenarios outside the add/update/delete loop ------------------------------


def scenario_entry(sink: Any, config: dict[str, Any], scenario: str) -> None:
    """Prepare some data, then SIGKILL this process inside a scope-wide operation:

    * `delete_all_graph`: delete_all has journaled and applied the memories' DELETEs,
      the graph's delete_scope has not run;
    * `reset_history`: reset has dropped the vector store and the graph, not the history;
    * `reset_rmtree`: reset dies half-way through removing the embedded Qdrant directory;
    * `kill_after_writes`: nothing more, the process just dies after its acknowledged writes;
    * `kill_before_checkpoint`: an add's graph write has committed into the embedded
      graph's write-ahead log and the add has returned; the background checkpoint that
      would move it into the database file dies.
    """
    import logging
    import os
    import shutil
    import signal

    global _sink
    _sink = sink
    logging.getLogger("mem_integrations").setLevel(logging.ERROR)
    from mem_integrations.core.sync_memory import Memory
    from stress.common import HashEmbedder

    def die(*_: Any, **__: Any) -> None:
        emit(t="crash_point", point=scenario, n=1)
        os.kill(os.getpid(), signal.SIGKILL)

    memory = Memory(config, embedder=HashEmbedder())
    memory.add("I live in Paris. I work at Acme.", user_id="alice")
    for i in range(12):
        memory.add(f"Stress note {i} amber basil cedar", user_id="alice", infer=False)
    emit(t="ready")
    engine = memory.async_memory
    if scenario == "kill_after_writes":  # the writes above are acknowledged; then a crash
        die()
    elif scenario == "kill_before_checkpoint":
        memory.flush()  # the writes above confirmed (checkpointed in the background)
        engine.graph._checkpoint = die
        memory.add("My sister is Anna.", user_id="alice")
        memory.flush()  # the add's confirmation checkpoints: the crash
    elif scenario == "delete_all_graph":
        engine.graph.delete_scope = die
        memory.delete_all(user_id="alice")
    elif scenario == "reset_history":
        engine.history_store.reset = die
        memory.reset()
    elif scenario == "reset_rmtree":
        import mem_integrations.core.stores.qdrant_edge as edge

        def half_rmtree(path: Any, ignore_errors: bool = False) -> None:
            files = sorted(p for p in __import__("pathlib").Path(path).rglob("*") if p.is_file())
            for f in files[: len(files) // 2]:
                f.unlink()
            die()

        edge.shutil = type("S", (), {"rmtree": staticmethod(half_rmtree)})  # type: ignore[assignment]
        memory.reset()
    else:
        raise ValueError(scenario)
    emit(t="done")
    shutil.rmtree  # noqa: B018 - keep the import used


def hammer_history(path: str, worker: int, rounds: int) -> None:
    """Many processes sharing one SQLite history: journal, confirm and keep pending adds
    as fast as possible (the "database is locked" test). Exits 0 only if every call
    succeeded."""
    from mem_integrations.core.history.sqlite import JournalOp, SQLiteHistory
    from mem_integrations.core.models import Event

    history = SQLiteHistory(path)
    for i in range(rounds):
        pending = history.save_pending([{"role": "user", "content": f"w{worker} m{i}"}],
                                       {"user_id": f"w{worker}"}, None, {})
        batch = history.journal(
            [JournalOp(f"w{worker}-{i}", Event.ADD, None, f"w{worker} m{i}", {"data": "x"})],
            {"user_id": f"w{worker}"}, done_pending=pending)
        history.mark_applied(batch)
        history.unapplied()
        history.history(f"w{worker}-{i}")
    history.close()
