"""The match (issue 17): which published support items a company profile qualifies for.

    eligible    every condition is met
    near_miss   exactly one condition fails ("还差：研发费用占营业收入比例需≥3%"); the fields that are
                still unknown are listed with it
    unknown     none fails, some the profile does not answer yet (the fields the user could give)

Never offered: an item whose region does not cover the company (`bot.regions.applies`; a district's
item outside that district), an item of a document not in force (`bot.status`), an item whose
application window has closed for good (a one-off calendar window of its document before today).
Items failing on two conditions or more are not shown.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot import regions
from bot.calendar import ONCE, CalendarEntry
from bot.profile import region_of
from bot.status import PolicyState, Status
from bot.support import Condition, SupportItem, asks_for

ELIGIBLE, NEAR_MISS, UNKNOWN = "eligible", "near_miss", "unknown"


@dataclass(frozen=True, slots=True)
class Matched:
    item: SupportItem
    outcome: str
    failed: tuple[Condition, ...] = ()
    missing: tuple[str, ...] = ()  # profile fields that would settle it
    window: CalendarEntry | None = None


@dataclass
class MatchResult:
    eligible: list[Matched] = field(default_factory=list)
    near_miss: list[Matched] = field(default_factory=list)
    unknown: list[Matched] = field(default_factory=list)

    def all(self) -> list[Matched]:
        return [*self.eligible, *self.near_miss, *self.unknown]


def _in_force(state: PolicyState | None) -> bool:
    return state is None or state.status in (Status.CURRENT, Status.NOT_YET_EFFECTIVE)


def window_of(item: SupportItem, entries: Iterable[CalendarEntry]) -> CalendarEntry | None:
    """The calendar entry of the item's document for its section, else the document's only window."""
    own = [e for e in entries if e.doc_id == item.doc_id and not e.hidden]
    same = [e for e in own if e.section and (e.section == item.section or item.section.startswith(e.section))]
    found = same or (own if len({(e.opens, e.closes, e.recurrence) for e in own}) == 1 else [])
    return found[0] if found else None


def _closed(window: CalendarEntry | None, today: date) -> bool:
    if window is None or window.recurrence != ONCE:
        return False
    closes = window.window(today)[1]
    return closes is not None and closes < today


def covers(item: SupportItem, profile: Mapping[str, Any], home: str) -> bool | None:
    """Whether the item's place covers the company: False never shown, None when the district is not known."""
    if not regions.applies(item.region, region_of(str(profile.get("district") or ""), home)):
        return False
    if not item.district:
        return True
    district = profile.get("district")
    return None if not district else district == item.district


def assess(item: SupportItem, profile: Mapping[str, Any], today: date, home: str) -> tuple[list[Any], list[Any]] | None:
    """(failed conditions, missing fields) of one item, or None when its place does not cover the company."""
    place = covers(item, profile, home)
    if place is False:
        return None
    failed, missing = [], [] if place else ["district"]
    for cond in item.conditions:
        if cond.field == "district":
            continue  # the place is settled above
        verdict = cond.test(dict(profile), today)
        if verdict is False:
            failed.append(cond)
        elif verdict is None and asks_for(cond) not in missing:
            missing.append(asks_for(cond))
    return failed, missing


def match(profile: Mapping[str, Any], items: Iterable[SupportItem], today: date, home: str,
          states: Mapping[str, PolicyState] | None = None, entries: Iterable[CalendarEntry] = ()) -> MatchResult:
    result, entries, states = MatchResult(), list(entries), states or {}
    for item in items:
        if not _in_force(states.get(item.doc_id)):
            continue
        window = window_of(item, entries)
        found = assess(item, profile, today, home)
        if found is None or _closed(window, today):
            continue
        failed, missing = found
        if not failed and not missing:
            result.eligible.append(Matched(item, ELIGIBLE, window=window))
        elif len(failed) == 1:
            result.near_miss.append(Matched(item, NEAR_MISS, tuple(failed), tuple(missing), window=window))
        elif not failed:
            result.unknown.append(Matched(item, UNKNOWN, missing=tuple(missing), window=window))
    return result


def needed_fields(profile: Mapping[str, Any], items: Iterable[SupportItem], today: date, home: str,
                  order: Iterable[str]) -> list[str]:
    """The profile fields that could still make an item eligible (none of its conditions fails yet), in
    `order`: only what is needed is asked."""
    wanted: set[str] = set()
    for item in items:
        found = assess(item, profile, today, home)
        if found is not None and not found[0]:
            wanted.update(found[1])
    return [f for f in order if f in wanted]
