"""Questions the application calendar answers: "这个月可以申报什么？", "研发费用后补助什么时候截止？",
"What can I apply for before July?" — relative to today's date in the home time zone.

`ask(question, today)` reads the question (None when it is not a calendar question); `render`
writes the answer from the matching entries, each cited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import prompts
from bot.calendar import ONCE, ROLLING, YEARLY, CalendarEntry, month_end

_APPLY = re.compile(r"申报|申请|报名|受理|截止|apply|application|deadline|submit", re.I)
_WHEN = re.compile(r"什么时候|何时|哪天|几号|截止(?:时间|日期)?|截至|when|deadline|close", re.I)
_THIS_MONTH = re.compile(r"这个月|本月|当月|this month", re.I)
_NEXT_MONTH = re.compile(r"下个月|下月|next month", re.I)
_NOW = re.compile(r"现在|目前|当前|近期|最近|right now|now|currently|at the moment", re.I)
_BEFORE_ZH = re.compile(r"(\d{1,2}|[一二三四五六七八九十]{1,2})\s*月(?:份)?(?:底|末)?\s*(?:之前|以前|前)")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_BEFORE_EN = re.compile(r"\b(?:before|by|until)\s+(?:the\s+end\s+of\s+)?(" + "|".join(_MONTHS) + r")\b", re.I)
_CUE_WORDS = re.compile(r"什么时候|何时|哪天|几号|截止时间|截止日期|截止|截至|开始|申报|申请|受理|报名|可以|能|有哪些|有什么|"
                        r"什么|哪些|吗|呢|呀|啊|的|了|是|这个月|本月|下个月|下月|现在|目前|当前|近期|最近|我|我们|公司|企业|"
                        r"时间|日期|[？?！!。，,\s]")
_CN_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九十", 1)}


@dataclass(frozen=True, slots=True)
class CalendarQuestion:
    start: date
    end: date
    span: str  # month | next_month | until | now | topic
    topic: str = ""


def _month_number(text: str) -> int | None:
    if text.isdigit():
        return int(text) if 1 <= int(text) <= 12 else None
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_DIGITS.get(text[1:], 0)
    return _CN_DIGITS.get(text)


def _before(month: int, today: date, inclusive: bool) -> date:
    year = today.year if month >= today.month else today.year + 1
    if inclusive:
        return month_end(year, month)
    return date(year, month, 1) - timedelta(days=1)


def ask(question: str, today: date) -> CalendarQuestion | None:
    """The period (or topic) a calendar question asks about; None for any other question."""
    if not _APPLY.search(question):
        return None
    if _THIS_MONTH.search(question):
        return CalendarQuestion(today.replace(day=1), month_end(today.year, today.month), "month")
    if _NEXT_MONTH.search(question):
        first = month_end(today.year, today.month) + timedelta(days=1)
        return CalendarQuestion(first, month_end(first.year, first.month), "next_month")
    if (m := _BEFORE_ZH.search(question)) and (month := _month_number(m.group(1))):
        inclusive = "底" in m.group(0) or "末" in m.group(0)
        return CalendarQuestion(today, _before(month, today, inclusive), "until")
    if m := _BEFORE_EN.search(question):
        month = _MONTHS.index(m.group(1).lower()) + 1
        return CalendarQuestion(today, _before(month, today, "end of" in m.group(0).lower()), "until")
    if _WHEN.search(question):
        topic = _CUE_WORDS.sub("", question)
        return CalendarQuestion(today, today, "topic", topic) if len(topic) >= 2 else None
    if _NOW.search(question):
        return CalendarQuestion(today, today, "now")
    return None


def _bigrams(text: str) -> set[str]:
    t = "".join(ch for ch in text.lower() if ch.isalnum())
    return {t[i:i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


def about(entry: CalendarEntry, topic: str) -> bool:
    wanted = _bigrams(topic)
    if not wanted:
        return True
    found = _bigrams(f"{entry.what}{entry.clause}{entry.title}")
    return len(wanted & found) / len(wanted) >= 0.6


def select(q: CalendarQuestion, entries: list[CalendarEntry], today: date) -> list[CalendarEntry]:
    if q.span == "topic":
        return [e for e in entries if about(e, q.topic)]
    return [e for e in entries if e.open_between(q.start, q.end, today)]


def _date(d: date | None, lang: str, yearly: bool = False) -> str:
    if d is None:
        return "?"
    if lang == "en":
        return d.strftime("%d %b") if yearly else d.isoformat()
    return f"{d.month}月{d.day}日" if yearly else f"{d.year}年{d.month}月{d.day}日"


def window_text(entry: CalendarEntry, today: date, lang: str) -> str:
    if entry.recurrence == ROLLING:
        return prompts.text_from("calendar", lang, "window_rolling")
    opens, closes = entry.window(today)
    yearly = entry.recurrence == YEARLY
    if opens is not None and closes is not None:
        key = "window_yearly" if yearly else "window_once"
        text = prompts.text_from("calendar", lang, key, opens=_date(opens, lang, yearly), closes=_date(closes, lang, yearly))
    elif closes is not None:
        text = prompts.text_from("calendar", lang, "window_deadline", closes=_date(closes, lang, yearly))
    else:
        text = prompts.text_from("calendar", lang, "window_from", opens=_date(opens, lang, yearly))
    if closes is not None and (opens is None or opens <= today) and closes >= today:
        text += prompts.text_from("calendar", lang, "closes_in", days=(closes - today).days)
    return text


def _span(q: CalendarQuestion, lang: str) -> str:
    fields = {"start": q.start.isoformat(), "end": q.end.isoformat()}
    return prompts.text_from("calendar", lang, f"span_{q.span}", **fields)


def render(q: CalendarQuestion, chosen: list[CalendarEntry], today: date, lang: str) -> tuple[str, bool]:
    """(text, found): the answer listing each entry with its window and a [n] citation."""
    if not chosen:
        if q.span == "topic":
            return prompts.text_from("calendar", lang, "calendar_none_topic", topic=q.topic), False
        return prompts.text_from("calendar", lang, "calendar_none", span=_span(q, lang)), False
    key = "calendar_deadline_intro" if q.span == "topic" else "calendar_intro"
    lines = [prompts.text_from("calendar", lang, key, span=_span(q, lang) if q.span != "topic" else "",
                               today=today.isoformat())]
    sep = ": " if lang == "en" else "："
    for n, e in enumerate(chosen, 1):
        lines.append(f"{n}. {e.what}{sep}{window_text(e, today, lang)} [{n}]")
        if e.who:
            lines.append("   " + prompts.text_from("calendar", lang, "who", who=e.who))
    lines.append(prompts.text_from("calendar", lang, "calendar_label"))
    return "\n".join(lines), True


def order(entries: list[CalendarEntry], today: date) -> list[CalendarEntry]:
    """Soonest closing first; rolling entries last."""
    far = date.max

    def key(e: CalendarEntry) -> tuple[date, str]:
        closes = e.window(today)[1] if e.recurrence in (ONCE, YEARLY) else None
        return closes or far, e.what

    return sorted(entries, key=key)
