"""The conversation filters of the list, the API and the export, from and to query strings.

    channel=web  from=2026-01-01  to=2026-01-31 (local days, both included)  q=keyword
    period=today (since local midnight) | 24h (the last 24 hours): shortcuts that replace `from`
    handoff=yes|no  feedback=up|down  unanswered=1  mode=llm|extractive|curated  cursor=...
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from adapters.console.auth import Refused
from bot.dashboard import parse_day
from bot.errors import BadRequestError
from bot.records import SEARCH_MODES as MODES
from bot.records import ConversationFilter
from bot.types import utcnow

KEYS = ("channel", "from", "to", "q", "handoff", "feedback", "unanswered", "mode", "period")
MAX_KEYWORD = 100


def number(value: str, name: str = "id") -> int:
    """A whole number from a path or query; anything else names nothing (404)."""
    if not value.isdigit() or len(value) > 18:
        raise Refused(404, "error_not_found", name)
    return int(value)


def days(query: Mapping[str, str], default: int = 30) -> int:
    """The `days` of a period, 1 to 366."""
    return min(max(number(query.get("days", str(default)), "days"), 1), 366)


def _day(query: Mapping[str, str], key: str, tz: ZoneInfo) -> datetime | None:
    value = query.get(key, "").strip()
    if not value:
        return None
    day = parse_day(value, str(tz))
    if day is None:
        raise BadRequestError(f"{key} must be a date like 2026-01-31")
    return day


def _choice(query: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str | None:
    value = query.get(key, "").strip()
    if value and value not in allowed:
        raise BadRequestError(f"{key} must be one of {', '.join(allowed)}")
    return value or None


def _since(query: Mapping[str, str], tz: ZoneInfo) -> datetime | None:
    """`period` (today / 24h) when given, else the `from` day."""
    period = _choice(query, "period", ("today", "24h"))
    if period == "24h":
        return utcnow() - timedelta(hours=24)
    if period == "today":
        return utcnow().astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    return _day(query, "from", tz)


def parse_filter(query: Mapping[str, str], tz: ZoneInfo) -> ConversationFilter:
    """The filter a query string asks for; BadRequestError on a value that cannot be meant."""
    until = _day(query, "to", tz)
    handoff = _choice(query, "handoff", ("yes", "no"))
    keyword = query.get("q", "").strip()
    if len(keyword) > MAX_KEYWORD:
        raise BadRequestError(f"q is limited to {MAX_KEYWORD} characters")
    return ConversationFilter(
        channel=query.get("channel", "").strip()[:32] or None, since=_since(query, tz),
        until=until + timedelta(days=1) if until else None, keyword=keyword or None,
        handoff=None if handoff is None else handoff == "yes", feedback=_choice(query, "feedback", ("up", "down")),
        unanswered=query.get("unanswered", "") in ("1", "true", "yes", "on"), mode=_choice(query, "mode", MODES),
    )


def query_string(query: Mapping[str, str], **changes: str | None) -> str:
    """The filter part of a query string, with some values changed (None drops a key)."""
    values = {k: query.get(k, "") for k in (*KEYS, "cursor", "format") if query.get(k)}
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return urlencode(values)
