"""The words of the eligibility self-check: a match result as text with [n] citations, a profile in one
line, a failing condition as "研发费用占营业收入比例需≥3%"."""
from __future__ import annotations

from datetime import date
from typing import Any

import prompts
from bot.calendar_answers import window_text
from bot.matching import MatchResult, Matched
from bot.support import Condition, SupportItem

SHOWN = ("district", "company_type", "certifications", "founded_year", "revenue", "employees", "rd_ratio",
         "rd_spend", "ip_count")


def say(lang: str, key: str, **fields: object) -> str:
    return prompts.text_from("eligibility", lang, key, **fields)


def number(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def value_text(name: str, value: Any, lang: str) -> str:
    if name == "certifications":
        return say(lang, "sep").join(value) if value else say(lang, "none_value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        unit = say(lang, f"unit_{name}") if name in ("revenue", "rd_spend", "employees", "rd_ratio", "ip_count") else ""
        return number(value) + unit
    return str(value)


def profile_text(data: dict[str, Any], lang: str) -> str:
    parts = [f"{say(lang, 'field_' + k)} {value_text(k, data[k], lang)}" for k in SHOWN if data.get(k) is not None]
    return ("；" if lang == "zh" else "; ").join(parts) or say(lang, "result_profile_empty")


def condition_text(cond: Condition, lang: str) -> str:
    if cond.op == "has":
        return say(lang, "cond_has", value=cond.value)
    if cond.op == "in":
        return say(lang, "cond_in", value=say(lang, "sep").join(cond.value))
    if cond.field == "district":
        return say(lang, "cond_district", value=cond.value)
    unit = say(lang, f"unit_{cond.field}") if f"unit_{cond.field}" in prompts.table("zh", "eligibility") else ""
    op = {">=": "≥", "<=": "≤", "==": "="}.get(cond.op, cond.op)
    return say(lang, "cond_compare", field=say(lang, f"field_{cond.field}"), op=op, value=number(cond.value), unit=unit)


def support_text(item: SupportItem, lang: str) -> str:
    parts = []
    if item.amount is not None:
        parts.append(say(lang, "amount", amount=number(item.amount)))
    if item.ratio is not None:
        parts.append(say(lang, "ratio", ratio=number(item.ratio)))
    if item.cap is not None:
        parts.append(say(lang, "cap", cap=number(item.cap)))
    figures = ("，" if lang == "zh" else ", ").join(parts)
    return f"{figures}（{item.support}）" if lang == "zh" else f"{figures} ({item.support})"


def _line(n: int, m: Matched, data: dict[str, Any], today: date, lang: str) -> list[str]:
    item = m.item
    lines = [f"{n}. {item.what}：{support_text(item, lang)} —《{item.title}》 [{n}]"]
    for cond in m.failed:
        have = data.get({"age": "founded_year"}.get(cond.field, cond.field))
        said = say(lang, "you_said", value=value_text(cond.field, have, lang)) if have is not None else ""
        lines.append(say(lang, "failed_line", condition=condition_text(cond, lang)) + said)
    if m.missing:
        lines.append(say(lang, "missing_line", fields=say(lang, "sep").join(say(lang, "field_" + f) for f in m.missing)))
    if m.window is not None:
        lines.append(say(lang, "window_line", window=window_text(m.window, today, lang)))
    return lines


def render(result: MatchResult, data: dict[str, Any], today: date, lang: str) -> str:
    """The result as a numbered list: eligible, near misses, unknowns; [n] is the n-th citation."""
    lines = [say(lang, "result_intro", profile=profile_text(data, lang))]
    n = 0
    for key, group in (("eligible_head", result.eligible), ("near_head", result.near_miss),
                       ("unknown_head", result.unknown)):
        if not group:
            continue
        lines.append(say(lang, key, n=len(group)))
        for m in group:
            n += 1
            lines += _line(n, m, data, today, lang)
    if n == 0:
        lines.append(say(lang, "none_found"))
    lines.append(say(lang, "footer"))
    return "\n".join(lines)
