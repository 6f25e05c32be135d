"""Every fenced block of README.md runs as written, so the README cannot drift.

Python blocks are complete programs, each run in a fresh process in a temporary directory
(HOME there too, so nothing lands in the real ~/.mem_integrations), with OPENAI_API_KEY /
OPENAI_BASE_URL pointing at a scripted OpenAI-compatible server that answers like a careful
model. Provider URLs a block names (api.openai.com, Ollama's localhost:11434...) are
replaced by that server's. Shell blocks run their `mem-integrations ...` lines in order
(curl blocks, in SERVED_BLOCKS, run whole against a `mem-integrations serve` started for
them); JSON and TOML blocks are parsed, and loaded with `load_config` when they are configs.

A block that cannot run here is listed in SKIPPED_BLOCKS with the reason, and a shell line
that is not run matches a rule of `_skipped_line`: a new block that neither runs nor is
listed fails `test_every_block_is_covered`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mem_integrations.core.config import MemoryConfig, load_config
from mem_integrations.core.pipeline.offline import relation_of, split_sentences
from mem_integrations.core.pipeline.prompts import read_numbered
from mem_integrations.core.search.lexical import CJK_RUN
from mem_integrations.testing import ScriptedLLMServer
from stress.llm import schema_name, sensible_llm

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
TIMEOUT = 300  # seconds a block may take: a hang fails, it does not stall the suite

# --- the blocks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One fenced block: its section's heading, language, text and first line number."""

    id: str
    heading: str
    lang: str
    code: str
    line: int


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def readme_blocks(text: str) -> list[Block]:
    """The fenced blocks in order, each named by its section (and its number in it, when
    the section has several). Headings are read only outside fences: a `#` comment in a
    code block is not one."""
    found: list[tuple[str, str, list[str], int]] = []
    heading, lang, code, start = "top", None, [], 0
    for number, line in enumerate(text.splitlines(), 1):
        if lang is None:
            if line.startswith("```"):
                lang, code, start = line[3:].strip().lower(), [], number
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
        elif line.startswith("```"):
            found.append((heading, lang, code, start))
            lang = None
        else:
            code.append(line)
    assert lang is None, f"README.md: the block opened on line {start} is never closed"
    per_section: dict[str, int] = {}
    for name, *_ in found:
        per_section[name] = per_section.get(name, 0) + 1
    blocks, seen = [], dict.fromkeys(per_section, 0)
    for name, lang, code, start in found:
        seen[name] += 1
        suffix = f"-{seen[name]}" if per_section[name] > 1 else ""
        blocks.append(Block(_slug(name) + suffix, name, lang, "\n".join(code) + "\n", start))
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))

SKIPPED_BLOCKS: dict[str, str] = {
    "two-commands": "`make demo` / `make test` create a virtualenv and run the whole suite",
    "install": "pip installs: the test runs inside the installed virtualenv",
    "mcp-server-1": "a pip install, then MCP servers that run until stopped "
                    "(tests/server covers the MCP tools over stdio and HTTP)",
    "benchmarks": "timed harnesses (make bench), not tests",
    "layout": "a directory tree, not code",
}
"""Blocks that are not run, by id, and why. (Skipped Python blocks still must compile.)"""

LANGUAGES = {"python", "bash", "json", "toml"}

SERVED_BLOCKS = {"openai-compatible-chat-with-memory-3", "rest-server-2"}
"""Shell blocks written for a running `mem-integrations serve --api-key s3cret` on
localhost:8000: each runs whole, as one script, against a server started for it."""

# --- the scripted model --------------------------------------------------------------------

# relations a person has one of at a time: a new one supersedes the old
_SINGLE_VALUED = {"lives_in", "works_at", "works_as"}
_RELATION = re.compile(r"^(?P<source>.+?) --(?P<relation>.+?)--> (?P<target>.+)$")


def _json_schema(body: dict[str, Any]) -> dict[str, Any]:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}


def _with_relations(reply: dict[str, Any]) -> dict[str, Any]:
    """Graph extraction: the relations the offline rules see in each extracted fact."""
    entities, relations = [], []
    for fact in reply["facts"]:
        found = relation_of(fact["text"])
        if found:
            triple, entity = found
            relations.append({"source": triple.source, "relation": triple.relation,
                              "target": triple.target})
            entities.append({"name": entity.name, "type": entity.type})
    if relations:
        entities.append({"name": "user", "type": "person"})
    return {**reply, "entities": entities, "relations": relations}


def _listed(user: str, label: str) -> Any:
    """The JSON a reconcile prompt shows after `label:` (RELATIONS, NEW_RELATIONS)."""
    after = user.split(f"\n{label}:\n", 1)
    return json.loads(after[1].split("\n\n")[0]) if len(after) == 2 else []


def _superseded(listed: list[dict[str, Any]], new: list[dict[str, str]]) -> list[int]:
    """The ids of `listed` relations ("user --lives_in--> Paris") that a `new` relation
    of a single-valued kind replaces."""
    out = []
    for old in listed:
        match = _RELATION.match(old["relation"])
        if match and any(n["source"] == match["source"] and n["relation"] == match["relation"]
                         and n["target"].lower() != match["target"].lower()
                         and n["relation"] in _SINGLE_VALUED for n in new):
            out.append(old["id"])
    return out


def _user_text(body: dict[str, Any]) -> str:
    return "\n".join(m.get("content") or "" for m in body.get("messages", [])
                     if m.get("role") == "user" and isinstance(m.get("content"), str))


def _cjk_facts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Facts in Chinese, Japanese or Korean: `sensible_llm` splits sentences at '.' and
    keeps those of two words or more, and CJK sentences have neither."""
    transcript = _user_text(body).removeprefix("Conversation:\n")
    facts = []
    for line in transcript.splitlines():
        role, _, text = line.partition(": ")
        if role == "user" and CJK_RUN.search(text):
            facts += [{"text": sentence.rstrip("。！!"), "categories": []}
                      for sentence in split_sentences(text) if not sentence.endswith(("？", "?"))]
    return facts


def readme_llm(body: dict[str, Any]) -> str | dict[str, Any]:
    """A careful model: the engine's extraction and reconcile calls are answered by
    `sensible_llm` (with relations when the graph is on), an export fills the schema it is
    given with nulls, and an ordinary chat call (an agent's turn) gets a short text."""
    if not body.get("response_format"):
        return "Noted: I will keep that in mind."
    properties = _json_schema(body).get("properties", {})
    step = schema_name(body)
    user = _user_text(body)
    if step == "extraction":
        reply = sensible_llm(body)
        deciding = "invalidate" in properties  # the single-call add: KNOWN memories shown
        reply["facts"] += [{**fact, "event": "ADD", "id": None} if deciding else fact
                           for fact in _cjk_facts(body)]
        if "relations" in properties:
            reply = _with_relations(reply)
        if deciding:
            known = user.partition("\nKNOWN_RELATIONS:\n")[2].split("\n\n")[0]
            reply["invalidate"] = _superseded(
                [{"id": i, "relation": text} for i, text in read_numbered(known)],
                reply.get("relations", []))
        return reply
    if step == "reconcile":
        reply = sensible_llm(body)
        if "invalidate" in properties:
            new = [m.groupdict() for m in map(_RELATION.match, _listed(user, "NEW_RELATIONS"))
                   if m]
            reply["invalidate"] = _superseded(_listed(user, "RELATIONS"), new)
        return reply
    return dict.fromkeys(properties)


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLMServer]:
    # the size OpenAI's text-embedding-3-small has: the engine knows it and checks it
    with ScriptedLLMServer(responder=readme_llm, embedding_dimension=1536) as server:
        yield server


# --- running a block ---------------------------------------------------------------------

# Real providers' endpoints: a block naming one runs against the scripted server instead.
PROVIDER_URL = re.compile(
    r"https://api\.openai\.com(?:/v1)?|https://api\.deepseek\.com(?:/v1)?"
    r"|https://api\.siliconflow\.cn(?:/v1)?|http://localhost:11434(?:/v1)?")
# Servers that cannot run here: a block using one must be in SKIPPED_BLOCKS.
SERVER_URL = re.compile(r"(?:https?://[\w.-]+:6333|bolt://|neo4j://|postgres(?:ql)?://)")


def _code_lines(code: str) -> list[str]:
    """The lines of a Python or shell block without the ones that are only a comment."""
    return [line for line in code.splitlines() if not line.strip().startswith("#")]


EXPECTED: dict[str, list[str]] = {
    "quick-start": ["Berlin"],
    "async": ["hiking"],
    "configuration-1": ["I live in Paris", "onnx convex"],
    "configuration-3": ["I drink my coffee black"],
    "configuration-4": ["no API key or base URL"],
    "adds-that-could-not-finish": ["kept as", "[] ['I live in Paris']"],
    "search": ["I went to Lisbon in May.\n2\n['I went to Lisbon in May.']"],
    "time-and-provenance": ["['I live in Berlin now']",
                            "I live in Paris 2023-05-08 to 2024-01-20",
                            "said: I live in Paris",
                            "UPDATE I live in Paris -> I live in Berlin now",
                            "deleted 1 memory that came only from add"],
    "other-languages-1": ["北京"],
    "other-languages-2": ["我住在上海"],
    "retrieval-evals-on-your-own-data": ["place"],
    "graph-memory-1": ["ADD user lives_in Berlin", "DELETE user lives_in Paris",
                       "('user', 'sister', 'Anna')", "2 valid relations"],
    "langchain-and-langgraph": ["I'm allergic to peanuts"],
    "openai-compatible-chat-with-memory-2": ["Noted"],
    "command-line": ["I love green tea"],
    "export-and-backup": ["name=None city=None", "live in München"],
    "openai-compatible-chat-with-memory-3": ["Noted"],
    "rest-server-2": ['"memory":"I live in Paris","event":"ADD"', "Memory updated successfully!",
                      "Memory deleted successfully!", '{"results":[]}'],
}
"""What some blocks must print, beyond running: the behaviour the README describes."""


def _environment(home: Path, llm: ScriptedLLMServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEMINT_"))}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OPENAI_API_KEY="sk-readme-test", OPENAI_BASE_URL=llm.base_url,
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
               COLUMNS="100")
    return env


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh working directory and HOME, with the files the README's blocks read."""
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    for name, text in FILES.items():
        (cwd / name).write_text(text, encoding="utf-8")
    return cwd, home


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, (
        f"{what} exited with {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n"
        f"--- stderr\n{done.stderr[-6000:]}")
    return done.stdout


def run_python(block: Block, tmp_path: Path, llm: ScriptedLLMServer) -> str:
    cwd, home = _workspace(tmp_path)
    code = PROVIDER_URL.sub(llm.base_url, block.code)
    (cwd / "block.py").write_text(code, encoding="utf-8")
    return _run([sys.executable, "block.py"], cwd, _environment(home, llm),
         f"README.md line {block.line} ({block.heading})")


def shell_commands(code: str) -> list[str]:
    """The command lines of a shell block, continuation lines joined."""
    commands, current = [], ""
    for line in code.splitlines():
        current = f"{current} {line.strip()}" if current else line.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        if current and not current.startswith("#"):
            commands.append(current)
        current = ""
    return commands


_PLACEHOLDER = re.compile(r"<[^>]+>|\[[^\]]*--[^\]]*\]|\.\.\.")
_VARIABLE = re.compile(r"\$\{?(\w+)")
# `NAME=$(mem-integrations ...)`: a value a later line of the block uses as "$NAME"
_ASSIGNMENT = re.compile(r"^(?P<name>[A-Z_][A-Z0-9_]*)=\$\((?P<command>mem-integrations .*)\)$")


def _skipped_line(command: str, known: frozenset[str] = frozenset()) -> str | None:
    """Why a shell line is not run, or None when it is. `known`: the variables earlier
    lines of the block set."""
    if command.startswith("pip install"):
        return "installs packages: the test runs inside the installed virtualenv"
    if command.startswith("make "):
        return "runs a Makefile target (a virtualenv, the whole suite or the benchmarks)"
    assignment = _ASSIGNMENT.match(command)
    words = shlex.split(assignment["command"] if assignment else command, comments=True)
    if not words or words[0] != "mem-integrations":
        return "is not a mem-integrations command (curl and the like need a running server)"
    if _PLACEHOLDER.search(" ".join(words)) or set(_VARIABLE.findall(command)) - known:
        return "holds a placeholder to fill in (<id>, [optional], $VARIABLE, ...)"
    if words[1:2] in (["serve"], ["mcp"]):
        return "starts a server that runs until it is stopped"
    if words[1:3] == ["migrate", "mem0"]:
        return "reads an existing mem0 store, which does not exist here"
    return None


def run_shell(block: Block, tmp_path: Path, llm: ScriptedLLMServer) -> str:
    """The block's runnable lines in order, in one directory; an assignment's output
    is passed to the later lines as an environment variable."""
    cwd, home = _workspace(tmp_path)
    env = _environment(home, llm)
    known: set[str] = set()
    output, ran = [], 0
    for command in shell_commands(block.code):
        reason = _skipped_line(command, frozenset(known))
        if reason is not None:
            print(f"not run: {command}\n  because it {reason}")  # in the report with -rA
            continue
        assignment = _ASSIGNMENT.match(command)
        what = f"README.md line {block.line}: {command}"
        printed = _run(["bash", "-o", "pipefail", "-c",
                        assignment["command"] if assignment else command], cwd, env, what)
        if assignment:
            assert printed.strip(), f"{what} printed nothing"
            env[assignment["name"]] = printed.strip()
            known.add(assignment["name"])
        output.append(printed)
        ran += 1
    assert ran, (f"README.md line {block.line}: no line of this block runs; list it in "
                 "SKIPPED_BLOCKS with the reason")
    return "".join(output)


@contextmanager
def _serving(cwd: Path, env: dict[str, str]) -> Iterator[int]:
    """`mem-integrations serve --api-key s3cret` on a free port, until the block is done."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = cwd / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "mem-integrations"), "serve", "--port", str(port), "--api-key", "s3cret"],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT  # a guard against a hang, not a timing check
        while True:
            assert server.poll() is None, f"serve exited:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"serve never answered:\n{log.read_text()}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=60)


def run_served(block: Block, tmp_path: Path, llm: ScriptedLLMServer) -> str:
    """A shell block for a running server: one script (its variables carry from line to
    line), every line must succeed, and no reply may be an error body."""
    cwd, home = _workspace(tmp_path)
    env = _environment(home, llm)
    with _serving(cwd, env) as port:
        script = block.code.replace("localhost:8000", f"127.0.0.1:{port}")
        output = _run(["bash", "-euo", "pipefail", "-c", script], cwd, env,
                      f"README.md line {block.line} ({block.heading})")
    assert '"error"' not in output, f"README.md line {block.line}: an error reply\n{output}"
    return output


def check_data(block: Block) -> None:
    """A JSON or TOML block parses; one that is a memory config also loads."""
    data = json.loads(block.code) if block.lang == "json" else tomllib.loads(block.code)
    if set(data) <= set(MemoryConfig.model_fields) | {"version"}:
        load_config(data)


FILES: dict[str, str] = {
    # `import chats.jsonl` in the command-line section reads a chat export like this one
    "chats.jsonl": "\n".join(json.dumps(m) for m in [
        {"role": "user", "content": "I live in Paris. I love green tea."},
        {"role": "assistant", "content": "Noted!"},
        {"role": "user", "content": "I play the violin."}]) + "\n",
    # `Memory.from_config("memory.toml")` reads the TOML block of the configuration section
    "memory.toml": next((b.code for b in BLOCKS if b.lang == "toml"), ""),
}


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_runs(block: Block, tmp_path: Path, llm: ScriptedLLMServer) -> None:
    if block.lang == "python":
        compile(block.code, f"README.md:{block.line}", "exec")  # skipped or not
    if block.id in SKIPPED_BLOCKS:
        pytest.skip(SKIPPED_BLOCKS[block.id])
    if block.lang in ("json", "toml"):
        check_data(block)
        return
    servers = [line for line in _code_lines(block.code) if SERVER_URL.search(line)]
    assert not servers, (f"README.md line {block.line} uses a server that cannot run here "
                         f"({servers[0].strip()}): list the block in SKIPPED_BLOCKS")
    run = (run_python if block.lang == "python"
           else run_served if block.id in SERVED_BLOCKS else run_shell)
    output = run(block, tmp_path, llm)
    for expected in EXPECTED.get(block.id, ()):
        assert expected in output, f"README.md line {block.line}: {expected!r} not printed"


def test_every_block_is_covered() -> None:
    """Every block is of a language the harness runs or is skipped with a reason, block
    ids are unique, and the skip list names only blocks that exist."""
    ids = [b.id for b in BLOCKS]
    assert len(ids) == len(set(ids))
    unknown = [(b.line, b.lang) for b in BLOCKS
               if b.lang not in LANGUAGES and b.id not in SKIPPED_BLOCKS]
    assert not unknown, f"blocks the harness cannot run (line, language): {unknown}"
    assert not set(SKIPPED_BLOCKS) - set(ids), "SKIPPED_BLOCKS names blocks that are gone"
    assert not set(SERVED_BLOCKS) - set(ids), "SERVED_BLOCKS names blocks that are gone"


def test_parser_reads_sections_and_fences() -> None:
    """Headings inside code are comments, not sections; several blocks in one section are
    numbered; a fence left open is an error."""
    text = ("# A\n```python\n# not a heading\nx = 1\n```\n## B b\n```bash\nls\n```\n"
            "```json\n{}\n```\n")
    blocks = readme_blocks(text)
    assert [(b.id, b.lang, b.line) for b in blocks] == [
        ("a", "python", 2), ("b-b-1", "bash", 7), ("b-b-2", "json", 10)]
    assert blocks[0].code == "# not a heading\nx = 1\n"
    with pytest.raises(AssertionError, match="never closed"):
        readme_blocks("```python\nx = 1\n")


def test_shell_lines_and_their_rules() -> None:
    commands = shell_commands("mem-integrations add \\\n  hi --user-id a  # c\n# only\n"
                              "pip install x\ncurl localhost:8000\n"
                              "mem-integrations history <memory-id>\nmem-integrations serve\n")
    assert commands[0] == "mem-integrations add hi --user-id a  # c"
    assert [_skipped_line(c) is None for c in commands] == [True, False, False, False, False]
    assignment = "ID=$(mem-integrations list --json | jq -r '.results[0].id')"
    assert _skipped_line(assignment) is None
    assert _skipped_line('mem-integrations get "$ID"') is not None  # nothing set ID
    assert _skipped_line('mem-integrations get "$ID"', frozenset({"ID"})) is None


def test_scripted_model_supersedes_only_single_valued_relations() -> None:
    """The stand-in model moves an address (one at a time) but keeps both likes."""
    listed = [{"id": 0, "relation": "user --lives_in--> Paris"},
              {"id": 1, "relation": "user --likes--> tea"}]
    user = ('EXISTING:\n[]\n\nNEW:\n["I moved to Berlin"]\n\nRELATIONS:\n' + json.dumps(listed)
            + "\n\nNEW_RELATIONS:\n"
            + json.dumps(["user --lives_in--> Berlin", "user --likes--> jazz"]))
    assert _listed(user, "RELATIONS") == listed
    new = [m.groupdict() for m in map(_RELATION.match, _listed(user, "NEW_RELATIONS"))]
    assert _superseded(listed, new) == [0]
