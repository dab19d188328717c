"""Whether anybody can take a ticket now, and what the user is told when nobody can.

    staffed    a roster manager is on duty now               -> "connecting you"
    off_hours  the roster has managers, none on duty now     -> "next working time: <when> (<hours>)"
    no_roster  no active manager at all (a fresh install)    -> "staff look at tickets during <office hours>"

The last two are flagged on the ticket (`meta.unstaffed`) so operators see them in the console.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.handoff.roster import next_opening
from bot.records import ManagerRecord

_ZH_DAYS = dict(zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "一二三四五六日"))


@dataclass(frozen=True, slots=True)
class Availability:
    status: str  # staffed | off_hours | no_roster
    opening: datetime | None  # when the next working time starts (None: now, or unknown)
    hours: str  # the working hours as written in the roster or HANDOFF_OFFICE_HOURS


def availability(roster: list[ManagerRecord], on_duty: tuple[ManagerRecord, ...], now: datetime,
                 tz: ZoneInfo, office_hours: str) -> Availability:
    if not roster:
        return Availability("no_roster", next_opening([office_hours], now, tz) if office_hours else None,
                            office_hours)
    if on_duty:
        return Availability("staffed", None, "")
    specs = sorted({m.working_hours for m in roster if m.working_hours})
    return Availability("off_hours", next_opening(specs, now, tz), "; ".join(specs))


def hours_text(spec: str, lang: str) -> str:
    """``mon-fri 09:00-17:30`` as a person reads it (周一至周五 09:00-17:30 in Chinese)."""
    if lang != "zh" or not spec:
        return spec or "—"
    days = re.sub(r"\b(mon|tue|wed|thu|fri|sat|sun)\s*-\s*(mon|tue|wed|thu|fri|sat|sun)\b",
                  lambda m: f"周{_ZH_DAYS[m.group(1)]}至周{_ZH_DAYS[m.group(2)]}", spec.lower())
    days = re.sub(r"\b(mon|tue|wed|thu|fri|sat|sun)\b", lambda m: f"周{_ZH_DAYS[m.group(1)]}", days)
    return days.replace(";", "；").replace(",", "、")
