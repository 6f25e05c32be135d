"""Reopen a data directory in a fresh process, as a user would after a crash, and print
what it holds as JSON: the journal rows left unapplied before the open, a snapshot after
the open (the journal replayed), and a snapshot after re-processing every kept add.

    python -m stress.check --config '<json>'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

warnings.simplefilter("ignore")


async def inspect(config: dict[str, Any], *, reprocess: bool = True) -> dict[str, Any]:
    from mem_integrations.core.async_memory import AsyncMemory
    from stress.common import HashEmbedder, raw_history, snapshot

    db = Path(config["data_dir"]) / "history.db"
    before = raw_history(db)
    out: dict[str, Any] = {"unapplied_before_open": sum(1 for r in before if not r["applied"])}
    memory = AsyncMemory(config, embedder=HashEmbedder())
    try:
        started = time.monotonic()
        try:
            await memory.open()
        except Exception as exc:  # noqa: BLE001 - a data dir that cannot be opened is a finding
            out["open_error"] = f"{type(exc).__name__}: {exc}"
            return out
        out["open_seconds"] = round(time.monotonic() - started, 3)
        out["recovered"] = await snapshot(memory)
        pending = await memory.pending()
        out["pending_kept"] = [{"id": p.id, "status": p.status, "scope": p.scope,
                                "messages": [m["content"] for m in p.messages]} for p in pending]
        out["reprocess_errors"] = []
        if reprocess:
            for p in pending:
                try:
                    await memory.reprocess(p.id)
                except Exception as exc:  # noqa: BLE001
                    out["reprocess_errors"].append(f"{type(exc).__name__}: {exc}")
            out["after_reprocess"] = await snapshot(memory)
    finally:
        try:
            await memory.close()
        except Exception as exc:  # noqa: BLE001
            out["close_error"] = f"{type(exc).__name__}: {exc}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--no-reprocess", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(inspect(json.loads(args.config), reprocess=not args.no_reprocess))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
