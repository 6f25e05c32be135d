"""`make demo`: a short narrated tour of the memory engine on embedded defaults.

No server and no API key needed: embedded Qdrant, SQLite history, the bundled
all-MiniLM-L6-v2 embedder and — without OPENAI_API_KEY — the offline rule-based
extractor. With OPENAI_API_KEY set, the same tour runs on the real model.

    python -m mem_integrations.demo [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from mem_integrations import Memory

USER = "alice"


def say(text: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {text}{plain}")


def show(result) -> None:
    for event in result.results:
        before = f"  (was: {event.previous_memory!r})" if event.previous_memory else ""
        print(f"  {event.event.value:<6} {event.memory!r}{before}")
    if not result.results:
        print("  (nothing new)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=".mem_integrations/demo",
                        help="where the demo keeps its data (reset at start)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.simplefilter("ignore")  # the offline notice is printed below, once

    data_dir = Path(args.data_dir).resolve()
    memory = Memory(data_dir=data_dir)
    uses_llm = memory.async_memory.extractor.uses_llm
    print("mem-integrations demo")
    print(f"  LLM:      {'the configured model' if uses_llm else 'none: offline rule-based extractor (set OPENAI_API_KEY for a real model)'}")
    print(f"  embedder: {memory.async_memory.embedder!r}")
    print(f"  vectors:  {memory.async_memory.store!r}")
    memory.reset()

    say(f"1. Add a conversation for user {USER!r}")
    conversation = [
        {"role": "user", "content": "Hi! I live in Paris. I work as a nurse at a children's "
                                    "hospital. I play tennis every Sunday."},
        {"role": "assistant", "content": "Nice to meet you! Paris is lovely."},
    ]
    show(memory.add(conversation, user_id=USER))
    memory.add("I am allergic to peanuts.", user_id=USER, metadata={"topic": "health"})

    say("2. Everything remembered about alice")
    for item in memory.get_all(user_id=USER):
        topic = f"  [topic={item.metadata['topic']}]" if item.metadata else ""
        print(f"  - {item.memory}{topic}")

    say("3. New facts that change what is known")
    moved = memory.add("I moved to Berlin last month.", user_id=USER)
    show(moved)
    show(memory.add("I no longer play tennis, my knee hurts.", user_id=USER))

    say("4. Search: 'where does she live?'")
    for hit in memory.search("where does she live?", user_id=USER, limit=3):
        print(f"  {hit.score:.2f}  {hit.memory}")
    say("   ...and with a metadata filter {'topic': 'health'}")
    for hit in memory.search("what should she avoid eating?", user_id=USER,
                             filters={"topic": "health"}):
        print(f"  {hit.score:.2f}  {hit.memory}")

    updated = next((e for e in moved.results if e.event.value == "UPDATE"), None)
    if updated is not None:
        say(f"5. History of memory {updated.id}")
        for entry in memory.history(updated.id):
            print(f"  {entry.created_at:%H:%M:%S}  {entry.event.value:<6} "
                  f"{entry.old_memory!r} -> {entry.new_memory!r}")

    memory.close()
    graph_tour(data_dir / "with_graph")

    say("8. Where the data lives")
    print(f"  {data_dir}/qdrant/   embedded Qdrant (qdrant-edge) vectors and payloads")
    print(f"  {data_dir}/history.db   SQLite history of every change")
    print(f"  {data_dir}/with_graph/graph   embedded graph (LadybugDB) of the graph tour")


def graph_tour(data_dir: Path) -> None:
    """Graph memory: entities and relations from the same extraction call."""
    try:
        memory = Memory({"data_dir": str(data_dir), "graph_store": {"provider": "ladybug"}})
    except Exception as exc:  # the [graph] extra is optional
        say(f"7. Graph memory skipped: {exc}")
        return
    memory.reset()
    say("7. Graph memory: entities and relations")
    added = memory.add("I live in Paris. My sister is Anna. I work at the Louvre.", user_id=USER)
    for relation in added.relations or []:
        print(f"  {relation.event.value:<6} ({relation.source}) -[{relation.relationship}]-> "
              f"({relation.destination})")
    say("   a later message supersedes a relation")
    for relation in memory.add("I moved to Berlin last month.", user_id=USER).relations or []:
        print(f"  {relation.event.value:<6} ({relation.source}) -[{relation.relationship}]-> "
              f"({relation.destination})")
    say("   search 'where does the user live?' returns the relations it mentions")
    for relation in memory.search("where does the user live?", user_id=USER).relations or []:
        print(f"  {relation.score:.2f}  ({relation.source}) -[{relation.relationship}]-> "
              f"({relation.destination})")
    memory.close()


if __name__ == "__main__":
    main()
