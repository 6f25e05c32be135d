"""`mem-integrations`: the command line.

    mem-integrations add "I live in Paris" --user-id alice
    mem-integrations search "where does she live?" --user-id alice
    mem-integrations list --user-id alice
    mem-integrations history <memory-id>
    mem-integrations delete <memory-id>            # or: delete --all --user-id alice
    mem-integrations import chats.jsonl --user-id alice
    mem-integrations serve --api-key s3cret        # REST server
    mem-integrations mcp --user-id alice           # MCP server over stdio (the mcp extra)
    mem-integrations doctor                        # what is configured and reachable
    mem-integrations demo

The commands need typer and rich (the `server` extra); without them the script says so
instead of failing with a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main", "read_conversations"]

EXTRA_HINT = ("the mem-integrations command line needs typer and rich: "
              "pip install 'mem-integrations[server]'")


def main() -> None:
    """The `mem-integrations` console script."""
    try:
        from mem_integrations.cli.commands import app
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("typer", "rich", "click"):
            raise
        sys.stderr.write(f"{EXTRA_HINT} ({exc})\n")
        raise SystemExit(1) from None
    app()


def __getattr__(name: str) -> Any:  # `from mem_integrations.cli import app` stays lazy
    if name == "app":
        from mem_integrations.cli.commands import app

        return app
    if name == "read_conversations":
        from mem_integrations.cli.importing import read_conversations

        return read_conversations
    raise AttributeError(name)
