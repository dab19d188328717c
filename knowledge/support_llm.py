"""LLM extraction of support items (when a chat model is configured), checked against the text: an item is
kept only when its clause is in the document verbatim and every figure it states (amount, ratio, cap,
every threshold) is written in that clause ("50" needs "50" in it; 2000万元 may be written 0.2亿元)."""
from __future__ import annotations

import re
from typing import Any

from langchain_core.runnables import Runnable

from bot.support import FIELDS, OPS, Condition, SupportItem
from knowledge.llm_extract import ask_for_items

_HINT = re.compile(r"奖励|补助|资助|补贴|奖补|万元|%")


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


def figure_in(value: float, clause: str) -> bool:
    """Whether a figure (万元, %, a count or a year) is written in the clause."""
    numbers = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", clause)}
    return value in numbers or (value / 10000 in numbers and "亿" in clause)


def _number(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None


def _item(raw: dict[str, Any], section_of: dict[str, str], **where: Any) -> SupportItem:
    conds = []
    for c in raw.get("conditions") or ():
        field, op = str(c.get("field", "")), str(c.get("op", ""))
        if field not in (*FIELDS, "age") or op not in OPS:
            raise ValueError(f"unknown condition {field} {op}")
        value = c.get("value")
        conds.append(Condition(field, op, float(value) if isinstance(value, (int, float)) else value,
                               str(c.get("text", ""))))
    clause = str(raw["clause"]).strip()
    return SupportItem(what=str(raw.get("what") or where["title"])[:200], who=str(raw.get("who") or ""),
                       conditions=tuple(conds), amount=_number(raw.get("amount")), ratio=_number(raw.get("ratio")),
                       cap=_number(raw.get("cap")), support=str(raw.get("support") or clause)[:500], clause=clause,
                       section=section_of.get(clause, ""), origin="llm", **where)


def checked(raw_items: list[Any], text: str, section_of: dict[str, str], **where: str) -> list[SupportItem]:
    plain, kept = _plain(text), []
    for raw in raw_items if isinstance(raw_items, list) else []:
        try:
            item = _item(raw, section_of, **where)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if not item.clause or _plain(item.clause) not in plain:
            continue
        if (item.amount, item.ratio, item.cap) == (None, None, None):
            continue
        if all(figure_in(v, item.clause) for v in item.figures()):
            kept.append(item)
    return kept


async def llm_items(llm: Runnable[Any, Any], sections: list[tuple[str, str]], *, doc_id: str, title: str, source: str,
                    region: str) -> list[SupportItem]:
    """Items the model reads from the clauses that state support; [] on any failure."""
    items, section_of = await ask_for_items(llm, "support_extract", _HINT, sections, title, doc_id)
    if not items:
        return []
    return checked(items, "\n".join(b for _, b in sections), section_of, doc_id=doc_id, title=title, source=source,
                   region=region)
