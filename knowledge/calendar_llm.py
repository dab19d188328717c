"""LLM extraction of application windows (when a chat model is configured), checked against the text:
an entry is kept only when its clause is in the document verbatim and every date it states occurs
in that clause ("2027-03-31" needs "2027年3月31日"; "06-30" needs "6月30日", or "6月" for a whole month)."""
from __future__ import annotations

import re
from typing import Any

from langchain_core.runnables import Runnable

from bot.calendar import ONCE, ROLLING, YEARLY, CalendarEntry
from knowledge.llm_extract import ask_for_items

_HINT = re.compile(r"申报|受理|截止|报名|申请")


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _month_day_in(value: str, clause: str) -> bool:
    month, day = (int(x) for x in value.split("-")[-2:])
    return f"{month}月{day}日" in clause or (day in (1, 28, 29, 30, 31) and f"{month}月" in clause)


def date_in_clause(value: str, clause: str, recurrence: str) -> bool:
    """Whether a date the model gave is written in the clause."""
    if not value:
        return True
    clause = _plain(clause)
    try:
        if recurrence == YEARLY and re.fullmatch(r"\d{2}-\d{2}", value):
            return _month_day_in(value, clause)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return f"{int(value[:4])}年" in clause and _month_day_in(value, clause)
    except ValueError:
        return False
    return False


def checked(items: list[Any], text: str) -> list[dict[str, Any]]:
    plain, kept = _plain(text), []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        clause, rec = str(item.get("clause", "")).strip(), str(item.get("recurrence", ONCE))
        if rec not in (ONCE, YEARLY, ROLLING) or not clause or _plain(clause) not in plain:
            continue
        if all(date_in_clause(str(item.get(k, "")), clause, rec) for k in ("opens", "closes")):
            kept.append(item)
    return kept


async def llm_entries(llm: Runnable[Any, Any], sections: list[tuple[str, str]], *, doc_id: str, title: str, source: str,
                      region: str) -> list[CalendarEntry]:
    """Entries the model reads from the clauses that mention applying; [] on any failure."""
    items, section_of = await ask_for_items(llm, "calendar_extract", _HINT, sections, title, doc_id)
    if not items:
        return []
    return [CalendarEntry(what=str(i.get("what") or title)[:200], who=str(i.get("who") or ""),
                          opens=str(i.get("opens") or ""), closes=str(i.get("closes") or ""),
                          recurrence=str(i.get("recurrence")), clause=str(i["clause"]).strip(),
                          section=section_of.get(str(i["clause"]).strip(), ""), doc_id=doc_id, title=title,
                          source=source, region=region, origin="llm")
            for i in checked(items, "\n".join(body for _, body in sections))]
