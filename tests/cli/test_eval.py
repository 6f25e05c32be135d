"""`mem-integrations eval`: retrieval quality on a LOCOMO-format file and on a user's own
JSONL set, in a throwaway store (the configured data directory is not touched)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("typer", reason="the server extra (typer, rich) is not installed")

from typer.testing import CliRunner  # noqa: E402

from mem_integrations.cli import app  # noqa: E402

# A conversation in LOCOMO's format, written for this test (LOCOMO itself is CC BY-NC).
CONVERSATION = {
    "sample_id": "conv-test",
    "conversation": {
        "speaker_a": "Ana", "speaker_b": "Ben",
        "session_1_date_time": "1:00 pm on 3 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a greyhound called Pixel."},
            {"speaker": "Ben", "dia_id": "D1:2", "text": "I started rowing on the river."},
            {"speaker": "Ana", "dia_id": "D1:3", "text": "My sister lives in Porto."},
        ],
        "session_2_date_time": "9:00 am on 20 June, 2023",
        "session_2": [
            {"speaker": "Ben", "dia_id": "D2:1", "text": "I won my first rowing race!"},
            {"speaker": "Ana", "dia_id": "D2:2", "text": "Pixel learned to fetch."},
        ],
    },
    "qa": [
        {"question": "What is the name of Ana's dog?", "evidence": ["D1:1"], "category": 4},
        {"question": "Where does Ana's sister live?", "evidence": ["D1:3"], "category": 4},
        {"question": "What sport does Ben do?", "evidence": ["D1:2; D2:1"], "category": 1},
        {"question": "Is there a cat?", "evidence": [], "category": 5},
    ],
}


@pytest.fixture
def run(tmp_path: Path, embedder: Any):
    def invoke(*args: str, expect: int = 0) -> Any:
        result = CliRunner().invoke(app, list(args), obj={"embedder": embedder}, env={
            "MEMINT_DATA_DIR": str(tmp_path / "data"), "MEMINT_LLM__PROVIDER": "offline",
            "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})
        assert result.exit_code == expect, (result.output, result.exception)
        return result
    return invoke


def test_eval_locomo_reports_per_category(tmp_path, run):
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([CONVERSATION]))
    report = json.loads(run("eval", "locomo", str(path), "--json").stdout)
    assert report["facts"] == 5 and report["questions"] == 3  # category 5 left out
    assert set(report["categories"]) == {"multi-hop", "single-hop", "overall"}
    assert report["categories"]["single-hop"]["hit@3"] == 1.0
    assert not (tmp_path / "data").exists()  # a throwaway store, not the configured one


def test_eval_jsonl_and_its_errors(tmp_path, run):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in [
        {"id": "tea", "text": "I drink green tea every morning."},
        {"id": "bike", "text": "I commute by bike."},
        {"question": "What do I drink?", "expected": ["tea"], "category": "habits"}]))
    table = run("eval", "jsonl", str(path)).stdout
    assert "habits" in table and "hit@1" in table and "1 questions" in table
    path.write_text(json.dumps({"question": "Where?", "expected": ["nowhere"]}))
    failed = run("eval", "jsonl", str(path), expect=1)
    assert "unknown fact ids" in failed.output
