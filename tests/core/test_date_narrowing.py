"""No-LLM narrowing of a query that names a date or period: what is parsed (and what is
not), and `search(..., narrow_dates=True)` putting what was said then first."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mem_integrations.core.errors import InvalidInputError
from mem_integrations.core.search.dates import TOLD_WITHIN, named_period

WEDNESDAY = date(2023, 5, 10)


def _day(*ymd: int) -> datetime:
    return datetime(*ymd, tzinfo=UTC)


@pytest.mark.parametrize(("query", "start", "end"), [
    ("Who did Maria have dinner with on May 3, 2023?", _day(2023, 5, 3), _day(2023, 5, 4)),
    ("What movie did Joanna watch on 1 May, 2022?", _day(2022, 5, 1), _day(2022, 5, 2)),
    ("what happened on the 8th of May 2023", _day(2023, 5, 8), _day(2023, 5, 9)),
    ("notes from 2023-05-08", _day(2023, 5, 8), _day(2023, 5, 9)),
    ("What did John attend in March 2023?", _day(2023, 3, 1), _day(2023, 4, 1)),
    ("Dec. 2022 plans", _day(2022, 12, 1), _day(2023, 1, 1)),
    ("What did I achieve in 2022?", _day(2022, 1, 1), _day(2023, 1, 1)),
    ("what did I eat yesterday", _day(2023, 5, 9), _day(2023, 5, 10)),
    ("what did I do last week", _day(2023, 5, 1), _day(2023, 5, 8)),
    ("and last weekend?", _day(2023, 5, 6), _day(2023, 5, 8)),
    ("what did I read last month", _day(2023, 4, 1), _day(2023, 5, 1)),
    ("where was I two weeks ago", _day(2023, 4, 26), _day(2023, 5, 3)),
    ("where was I 3 days ago", _day(2023, 5, 7), _day(2023, 5, 8)),
    ("trips this year", _day(2023, 1, 1), _day(2024, 1, 1)),
])
def test_named_periods(query: str, start: datetime, end: datetime) -> None:
    period = named_period(query, today=WEDNESDAY)
    assert period is not None and (period.start, period.end) == (start, end)


@pytest.mark.parametrize("query", [
    "When did Melanie go camping in June?",  # which June is not said
    "What happened on 31 February 2023?",  # no such day
    "What is my favourite colour?",
    "I have 2022 reasons",  # a number, not "in 2022"
])
def test_no_period(query: str) -> None:
    assert named_period(query, today=WEDNESDAY) is None


def test_what_was_said_then_comes_first(make_memory) -> None:
    memory = make_memory(offline=True)
    said = [("I went hiking in the Alps", "2023-05-06"),
            ("I went hiking and camping by the lake with friends", "2022-08-01"),
            ("We went hiking and camping and hiking again", "2021-07-01")]
    for text, when in said:
        memory.add(text, user_id="al", infer=False, timestamp=when)
    query = "Where did I go hiking and camping in May 2023?"
    plain = [r.memory for r in memory.search(query, user_id="al")]
    narrowed = [r.memory for r in memory.search(query, user_id="al", narrow_dates=True)]
    assert plain[0] != "I went hiking in the Alps"  # the words favour the others
    assert narrowed[0] == "I went hiking in the Alps"
    assert sorted(narrowed) == sorted(plain)  # nothing lost: the rest follows
    # relative periods count from as_of
    early = memory.search("where did I hike last month?", user_id="al", narrow_dates=True,
                          as_of="2022-09-15")
    assert [r.memory for r in early][0] == "I went hiking and camping by the lake with friends"
    assert TOLD_WITHIN.days == 14
    with pytest.raises(InvalidInputError, match="narrow_dates"):
        memory.search(query, user_id="al", narrow_dates="yes")
