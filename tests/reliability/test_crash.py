"""Crash consistency: processes SIGKILLed at exact points of the write path and at random
moments; on reopen the journal is replayed and history, vector and graph stores agree,
no acknowledged write is lost, nothing is duplicated, interrupted adds are all-or-nothing
and kept for `reprocess`. The long version: `python -m stress.run --only crash`."""

from __future__ import annotations

from collections import Counter

import pytest

from stress.child import CRASH_POINTS
from stress.crash import ChainSpec, run_crash_trials
from stress.llm import FaultyServer, schema_name, sensible_llm


def assert_clean(figures) -> None:
    assert not figures.errors, figures.errors
    assert not +figures.violations, figures.as_dict()


def test_sigkill_at_every_point_of_the_write_path(tmp_path) -> None:
    specs = [ChainSpec(kills=2, crash_at=point, graph=point in ("graph", "applied"))
             for point in CRASH_POINTS]
    figures = run_crash_trials(tmp_path, specs, seed=11)
    assert_clean(figures)
    for point in CRASH_POINTS:
        assert figures.counts[f"killed_at_crash_point_{point}"] == 2
    assert figures.counts["journal_ops_replayed"] > 0  # the journal did the repairs
    assert figures.counts["pending_adds_reprocessed"] > 0  # kept adds went through
    # superseded and closed memories were there to be checked (stress.versions)
    assert figures.counts["closed_memories_checked"] > 0


@pytest.mark.parametrize("reconcile", ["single_call", "two_calls"])
def test_sigkill_at_every_point_of_the_write_path_with_an_llm_in_both_modes(
        tmp_path, reconcile) -> None:
    """The same kills with a scripted LLM (the offline extractor never makes the one
    decision call a single-call add makes under the scope's lock), in both reconcile
    modes; the LLM decides by the same rules in both (`stress.llm.sensible_llm`)."""
    with FaultyServer(responder=sensible_llm, delay=0.01) as llm:
        config = {"base_url": llm.base_url, "api_key": "sk-stress", "max_retries": 1,
                  "timeout": 10}
        specs = [ChainSpec(kills=1, crash_at=point, graph=point in ("graph", "applied"),
                           llm=config, reconcile=reconcile) for point in CRASH_POINTS]
        figures = run_crash_trials(tmp_path, specs, seed=31)
        calls = Counter(schema_name(c.body) for c in llm.calls)
    assert_clean(figures)
    for point in CRASH_POINTS:
        assert figures.counts[f"killed_at_crash_point_{point}"] == 1
    assert figures.counts["acknowledged_add_infer"] > 0 and calls["extraction"] > 0
    if reconcile == "two_calls":  # facts touching known ones go to a second call
        assert calls["reconcile"] > 0


def test_sigkill_at_random_moments_async_sync_and_graph(tmp_path) -> None:
    specs = [ChainSpec(kills=3, tasks=2, early_kill=0.3),
             ChainSpec(engine="qdrant_client", mode="sync", tasks=2, kills=2, graph=True)]
    figures = run_crash_trials(tmp_path, specs, seed=21)
    assert_clean(figures)
    assert figures.counts["kills"] == 5
    assert figures.counts["writes_acknowledged"] > 20


def test_the_crash_checks_catch_a_broken_engine(tmp_path) -> None:
    """The checks are not vacuous: an engine that confirms writes it never made is
    caught — by the engine itself, whose consistency check on open refuses stores that
    hold less than the history (naming repair), or else by the harness as lost
    acknowledged writes and history without store."""
    # killed at its n-th journal write (not at a random time), so the run is deterministic
    figures = run_crash_trials(tmp_path, [ChainSpec(kills=2, sabotage="lose_writes",
                                                    crash_at="journal")], seed=3)
    refused = [e for e in figures.examples.get("process_failed", [])
               if e["error"].startswith("CorruptionError") and "repair" in e["error"]]
    assert refused or (figures.violations["lost"] > 0
                       and figures.violations["history_without_store"] > 0)


@pytest.mark.parametrize("kind", ["no_recover"])
def test_the_crash_checks_catch_a_missing_journal_replay(tmp_path, kind) -> None:
    figures = run_crash_trials(tmp_path, [ChainSpec(kills=2, crash_at="journal", sabotage=kind)])
    assert figures.violations["unapplied_after_open"] > 0


@pytest.mark.parametrize(("kind", "caught", "seed"), [
    ("overwrite_updates", "lost_past_version", 3),  # an UPDATE that keeps no past version
    ("leak_past_versions", "past_version_visible", 3),  # default reads see closed ones
])
def test_the_crash_checks_catch_an_engine_that_destroys_or_leaks_the_past(tmp_path, kind,
                                                                          caught, seed) -> None:
    """The rules for closed memories are not vacuous either: losing the past version an
    acknowledged reconcile UPDATE kept, or showing closed memories to default reads, is
    reported. Killed at journal writes; how many updates precede a kill still varies
    with the machine's load, so six trials, with no early kill and no time limit to speak
    of, make sure some of them follow an update that left a past version."""
    figures = run_crash_trials(tmp_path, [ChainSpec(kills=6, crash_at="journal",
                                                    sabotage=kind, early_kill=0.0,
                                                    max_run=30.0)], seed=seed)
    assert not figures.errors, figures.errors
    assert figures.violations[caught] > 0, figures.as_dict()
