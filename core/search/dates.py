"""The date or period a query names ("in May 2023", "on 8 May, 2023", "last week"), found
without an LLM, for `search(..., narrow_dates=True)`.

Understood (English): an ISO date (2023-05-08); a day with its month and year ("8 May
2023", "May 8, 2023", "1 May, 2022"); a month with its year ("May 2023", "in May, 2023");
a year ("in 2022"); and, counted from the search's `as_of` (else today): "today",
"yesterday", "N days/weeks ago", "this/last week", "this/last weekend", "this/last month",
"this/last year". A month without a year ("in June") is not narrowed: which June is not
said. The first period found is used.

A period is half-open, [start, end), in UTC. Events are often told after they happened
("yesterday I went camping"), so what was *said* about a period is looked for from its
start to `TOLD_WITHIN` after its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mem_integrations.core.records import VALID_FROM

__all__ = ["TOLD_WITHIN", "Period", "named_period"]

TOLD_WITHIN = timedelta(days=14)

_MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
    ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
    ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec")), 1) for name in names}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"((?:19|20)\d\d)"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
           "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}

_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I)
_MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+(?:of\s+)?{_YEAR}\b", re.I)
_YEAR_ONLY = re.compile(rf"\b(?:in|during|of|since|from)\s+{_YEAR}\b", re.I)
_AGO = re.compile(r"\b(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
                  r"(day|week)s?\s+ago\b", re.I)
_RELATIVE = re.compile(r"\b(today|yesterday|(this|last)\s+(week|weekend|month|year))\b", re.I)


@dataclass(frozen=True)
class Period:
    """A named period, [start, end) in UTC, and the words that named it."""

    start: datetime
    end: datetime
    words: str

    def said_filters(self) -> dict[str, Any]:
        """A `filters` dict: the memories said during the period or up to `TOLD_WITHIN`
        after it."""
        return {VALID_FROM: {"gte": self.start.isoformat(),
                             "lt": (self.end + TOLD_WITHIN).isoformat()}}


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    return start, date(year + (month == 12), month % 12 + 1, 1)


def _relative(word: str, unit: str | None, today: date) -> tuple[date, date]:
    if word == "today":
        return today, today + timedelta(days=1)
    if word == "yesterday":
        return today - timedelta(days=1), today
    back = word == "last"
    if unit == "week":
        monday = today - timedelta(days=today.weekday() + 7 * back)
        return monday, monday + timedelta(days=7)
    if unit == "weekend":
        saturday = today - timedelta(days=today.weekday()) + timedelta(days=5 - 7 * back)
        return saturday, saturday + timedelta(days=2)
    if unit == "month":
        year, month = (today.year, today.month) if not back else \
            (today.year - (today.month == 1), (today.month - 2) % 12 + 1)
        return _month(year, month)
    year = today.year - back
    return date(year, 1, 1), date(year + 1, 1, 1)


def _found(query: str, today: date) -> tuple[date, date, str] | None:
    """The first period named in `query`, most specific spellings first."""
    try:
        if m := _ISO.search(query):
            day = date(int(m[1]), int(m[2]), int(m[3]))
            return day, day + timedelta(days=1), m[0]
        if m := _DAY_MONTH_YEAR.search(query):
            day = date(int(m[3]), _MONTHS[m[2].lower()], int(m[1]))
            return day, day + timedelta(days=1), m[0]
        if m := _MONTH_DAY_YEAR.search(query):
            day = date(int(m[3]), _MONTHS[m[1].lower()], int(m[2]))
            return day, day + timedelta(days=1), m[0]
    except ValueError:  # "31 February 2023": not a date, so no period
        return None
    if m := _MONTH_YEAR.search(query):
        return (*_month(int(m[2]), _MONTHS[m[1].lower()]), m[0])
    if m := _YEAR_ONLY.search(query):
        year = int(m[1])
        return date(year, 1, 1), date(year + 1, 1, 1), m[0]
    if m := _AGO.search(query):
        count = int(m[1]) if m[1].isdigit() else _NUMBER[m[1].lower()]
        day = today - timedelta(days=count * (7 if m[2].lower() == "week" else 1))
        return day, day + timedelta(days=1 if m[2].lower() == "day" else 7), m[0]
    if m := _RELATIVE.search(query):
        word = (m[2] or m[1]).lower()
        return (*_relative(word, m[3].lower() if m[3] else None, today), m[0])
    return None


def named_period(query: str, *, today: date) -> Period | None:
    """The period `query` names, relative ones counted from `today`; None when it names
    none this module understands."""
    found = _found(query, today)
    if found is None:
        return None
    start, end, words = found
    return Period(_at(start), _at(end), words)
