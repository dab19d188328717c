"""Application calendar entries: what may be applied for, by whom, in which window, from which document.

An entry is one clause of a document ("每年6月1日至6月30日集中受理", "申报截止时间为2027年3月31日",
"常年受理"), read at ingest (`knowledge.policy_text`, optionally the LLM) and reviewed by operators.
Dates are ISO strings: "YYYY-MM-DD" for a one-off window, "MM-DD" for one that recurs every year;
a rolling entry (常年受理) has neither.
"""
from __future__ import annotations

import calendar as _cal
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

from bot.types import Citation

ONCE, YEARLY, ROLLING = "once", "yearly", "rolling"


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    what: str
    who: str = ""
    opens: str = ""  # "" (not stated), "YYYY-MM-DD" (once) or "MM-DD" (yearly)
    closes: str = ""
    recurrence: str = ONCE  # once | yearly | rolling
    clause: str = ""  # the sentence the entry was read from, verbatim
    section: str = ""
    doc_id: str = ""
    title: str = ""
    source: str = ""
    origin: str = "rules"  # rules | llm | operator
    id: int | None = None
    hidden: bool = False  # an operator removed it from answers and notices
    region: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CalendarEntry":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def window(self, today: date) -> tuple[date | None, date | None]:
        """The concrete window that matters on `today`: a yearly one this year, or next year once
        this year's has closed; (None, None) for a rolling entry."""
        if self.recurrence == ROLLING:
            return None, None
        if self.recurrence == YEARLY:
            year = today.year
            closes = _on(year, self.closes)
            if closes is not None and closes < today:
                year += 1
            return _on(year, self.opens), _on(year, self.closes)
        return _iso(self.opens), _iso(self.closes)

    def open_between(self, start: date, end: date, today: date) -> bool:
        """Whether one can apply on some day of [start, end] (and not before today)."""
        if self.recurrence == ROLLING:
            return True
        opens, closes = self.window(today)
        lo, hi = max(start, today), end
        if closes is not None and closes < lo:
            return False
        if opens is not None and opens > hi:
            return False
        return opens is not None or closes is not None

    def citation(self) -> Citation:
        return Citation(title=self.title, section=self.section, source=self.source, snippet=self.clause,
                        region=self.region)

    def corrected(self, **changes: Any) -> "CalendarEntry":
        return replace(self, **changes)


def _iso(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _on(year: int, month_day: str) -> date | None:
    if not month_day:
        return None
    try:
        month, day = (int(x) for x in month_day.split("-")[-2:])
        return date(year, month, min(day, _cal.monthrange(year, month)[1]))
    except ValueError:
        return None


def month_end(year: int, month: int) -> date:
    return date(year, month, _cal.monthrange(year, month)[1])
