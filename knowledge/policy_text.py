"""Rules that read a policy document's life and its application windows from its text.

- repeals: "原《青岛市…办法》（青政发〔2018〕3号）同时废止" -> the titles this document replaces;
- calendar: "每年6月1日至6月30日集中受理", "申报截止时间为2027年3月31日",
  "2027年4月1日至4月30日受理申报", "每年3月至5月申报", "常年受理" -> `CalendarEntry`s, each with the
  clause it was read from, the section it stands in and who may apply when the section says so.
Validity dates ("有效期至…", "自…起施行，有效期X年") are read by `knowledge.identity`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from bot.calendar import ONCE, ROLLING, YEARLY, CalendarEntry

_REPEAL = re.compile(r"《([^》]{4,80})》[^。；《]{0,40}?(?:同时)?(?:废止|停止执行|不再执行|自行失效)")
_CLAUSE_SPLIT = re.compile(r"(?<=[。；;！!\n])")
_APPLY = re.compile(r"申报|受理|申请|报名|提交|报送|认定")
_Y, _M, _D = r"(\d{4})\s*年", r"(\d{1,2})\s*月", r"(\d{1,2})\s*日"
_YEARLY = re.compile(rf"每年(?:的)?\s*{_M}\s*(?:{_D})?\s*(?:起)?\s*(?:至|到|—|-|～|~)\s*{_M}\s*(?:{_D})?")
_ONCE = re.compile(rf"{_Y}\s*{_M}\s*{_D}\s*(?:起)?\s*(?:至|到|—|-|～|~)\s*(?:{_Y}\s*)?{_M}\s*{_D}")
_DEADLINE = re.compile(rf"(?:截止|截至|截止时间|截止日期)[^。；\d]{{0,8}}{_Y}\s*{_M}\s*{_D}|{_Y}\s*{_M}\s*{_D}\s*(?:\d{{1,2}}[:：]\d{{2}})?\s*(?:前|之前|以前)")
_YEARLY_DEADLINE = re.compile(rf"每年\s*{_M}\s*{_D}\s*(?:前|之前|以前)")
_ROLLING = re.compile(r"常年受理|全年受理|常年申报|随时申报|随时受理|常年开放")
_WHO = re.compile(r"(?:申报主体|申报对象|申报单位|支持对象|适用对象|申请人|申请主体)(?:为|是|：|:|应为|须为)\s*([^。；]{2,80})")
_HEADING_NUMBER = re.compile(r"^[（(]?[一二三四五六七八九十\d]+[、)）.．]\s*|^第[一二三四五六七八九十百\d]+[章条节]\s*")


def repealed_titles(texts: Iterable[str]) -> list[str]:
    """Titles of documents this one repeals or replaces, in order of mention."""
    found: list[str] = []
    for text in texts:
        for match in _REPEAL.finditer(text):
            title = match.group(1).strip()
            if title not in found:
                found.append(title)
    return found


def clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE_SPLIT.split(text) if c.strip()]


def _md(month: str, day: str | None, last: bool = False) -> str:
    m = int(month)
    d = int(day) if day else (31 if last else 1)
    if last and not day:
        d = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}.get(m, 31)
    return f"{m:02d}-{d:02d}"


def _ymd(year: str, month: str, day: str) -> str:
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def window_of(clause: str) -> tuple[str, str, str] | None:
    """(opens, closes, recurrence) stated by one clause, or None."""
    if (m := _YEARLY.search(clause)) and _APPLY.search(clause):
        return _md(m.group(1), m.group(2)), _md(m.group(3), m.group(4), last=True), YEARLY
    if (m := _ONCE.search(clause)) and _APPLY.search(clause):
        y1, m1, d1, y2, m2, d2 = m.groups()
        return _ymd(y1, m1, d1), _ymd(y2 or y1, m2, d2), ONCE
    if (m := _YEARLY_DEADLINE.search(clause)) and _APPLY.search(clause):
        return "", _md(m.group(1), m.group(2)), YEARLY
    if (m := _DEADLINE.search(clause)) and _APPLY.search(clause):
        parts = [g for g in m.groups() if g]
        return "", _ymd(*parts[:3]), ONCE
    if _ROLLING.search(clause):
        return "", "", ROLLING
    return None


def subject(section: str, title: str) -> str:
    """What the window is for: the innermost heading of the clause's section, else the title."""
    for part in reversed([p.strip() for p in section.split(">") if p.strip()]):
        plain = _HEADING_NUMBER.sub("", part).strip(" 。：:")
        if 2 <= len(plain) <= 40:
            return plain
    return title


def who_may_apply(text: str) -> str:
    match = _WHO.search(text)
    return match.group(1).strip() if match else ""


def calendar_entries(sections: Iterable[tuple[str, str]], *, doc_id: str = "", title: str = "",
                     source: str = "", region: str = "") -> list[CalendarEntry]:
    """Entries stated by (section path, text) pairs of one document, one per distinct window."""
    entries: list[CalendarEntry] = []
    seen: set[tuple[str, str, str, str]] = set()
    for section, text in sections:
        who = who_may_apply(text)
        for clause in clauses(text):
            found = window_of(clause)
            if found is None:
                continue
            what = subject(section, title)
            key = (what, *found)
            if key in seen:
                continue
            seen.add(key)
            opens, closes, recurrence = found
            entries.append(CalendarEntry(what=what, who=who, opens=opens, closes=closes, recurrence=recurrence,
                                         clause=clause, section=section, doc_id=doc_id, title=title,
                                         source=source, region=region))
    return entries
