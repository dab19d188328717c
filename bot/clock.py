"""The clock port: every "now" and "today" of the calendar, the policy status and the notices comes
from here, so tests inject a fixed time instead of depending on the day they run.

    SystemClock(tz)          the real time; `today()` in the home time zone (Asia/Shanghai by default)
    FixedClock(when, tz)     a settable time for tests (`advance`, `set`)
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    tz: ZoneInfo

    def now(self) -> datetime:
        """An aware datetime (UTC)."""

    def today(self) -> date:
        """The date in the home time zone."""


class SystemClock:
    def __init__(self, tz: str = "Asia/Shanghai"):
        self.tz = ZoneInfo(tz)

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()


class FixedClock:
    """A clock that stands still until told otherwise."""

    def __init__(self, when: datetime, tz: str = "Asia/Shanghai"):
        self.tz = ZoneInfo(tz)
        self.set(when)

    def set(self, when: datetime) -> None:
        self._now = when if when.tzinfo else when.replace(tzinfo=self.tz)

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def now(self) -> datetime:
        return self._now.astimezone(timezone.utc)

    def today(self) -> date:
        return self._now.astimezone(self.tz).date()
