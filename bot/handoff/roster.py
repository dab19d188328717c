"""The roster of technology managers: loading it, who is on duty, who matches a ticket.

Working hours are written like ``mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00`` in the
roster's time zone (default Asia/Shanghai); empty means always on duty.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from bot.errors import ConfigError
from bot.records import ManagerRecord

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SEGMENT = re.compile(r"^\s*([a-z]{3})(?:\s*-\s*([a-z]{3}))?\s+(.+)$", re.I)
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _days(first: str, last: str | None) -> list[int]:
    a, b = DAYS.index(first.lower()), DAYS.index((last or first).lower())
    return list(range(a, b + 1)) if a <= b else list(range(a, 7)) + list(range(0, b + 1))


def parse_hours(spec: str) -> dict[int, list[tuple[int, int]]]:
    """Weekday -> [(start minute, end minute)]; raises ConfigError on a malformed spec."""
    table: dict[int, list[tuple[int, int]]] = {}
    for segment in filter(None, (s.strip() for s in spec.split(";"))):
        m = _SEGMENT.match(segment)
        if not m or m.group(1).lower() not in DAYS or (m.group(2) and m.group(2).lower() not in DAYS):
            raise ConfigError(f"working hours {spec!r}: cannot read {segment!r}")
        spans = []
        for span in m.group(3).split(","):
            t = _SPAN.match(span)
            if not t:
                raise ConfigError(f"working hours {spec!r}: cannot read time span {span!r}")
            spans.append((int(t.group(1)) * 60 + int(t.group(2)), int(t.group(3)) * 60 + int(t.group(4))))
        for day in _days(m.group(1), m.group(2)):
            table.setdefault(day, []).extend(spans)
    return table


def on_duty(spec: str, now: datetime, tz: ZoneInfo) -> bool:
    if not spec.strip():
        return True
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return any(a <= minute < b for a, b in parse_hours(spec).get(local.weekday(), []))


def next_opening(specs: list[str], now: datetime, tz: ZoneInfo) -> datetime | None:
    """When the first of these schedules next opens (None when one is open now or none has hours)."""
    if any(on_duty(s, now, tz) for s in specs) or not specs:
        return None
    local = now.astimezone(tz).replace(second=0, microsecond=0)
    best = None
    for spec in specs:
        table = parse_hours(spec)
        for offset in range(0, 8):
            day = local + timedelta(days=offset)
            starts = sorted(a for a, _ in table.get(day.weekday(), []))
            for a in starts:
                start = day.replace(hour=a // 60, minute=a % 60)
                if start > local and (best is None or start < best):
                    best = start
    return best


def matches(manager: ManagerRecord, text: str) -> bool:
    return any(s and s.lower() in text.lower() for s in manager.specialties)


def load_roster(path: Path) -> list[ManagerRecord]:
    """Managers from a YAML file: a list of {id, name, specialties, working_hours, telegram_user_id,
    wecom_userid, kf_servicer_userid, active}."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"HANDOFF_ROSTER_FILE {path}: {exc}") from exc
    items = data.get("managers", []) if isinstance(data, dict) else data
    return [_manager(item, path) for item in items]


def _manager(item: object, path: Path) -> ManagerRecord:
    if not isinstance(item, dict) or not item.get("id") or not item.get("name"):
        raise ConfigError(f"HANDOFF_ROSTER_FILE {path}: every manager needs an id and a name: {item!r}")
    hours = str(item.get("working_hours") or "")
    parse_hours(hours)

    def opt(key: str) -> str | None:
        return str(item[key]) if item.get(key) not in (None, "") else None

    return ManagerRecord(id=str(item["id"]), name=str(item["name"]),
                         specialties=tuple(str(s) for s in item.get("specialties") or ()), working_hours=hours,
                         telegram_user_id=opt("telegram_user_id"), wecom_userid=opt("wecom_userid"),
                         kf_servicer_userid=opt("kf_servicer_userid"), active=bool(item.get("active", True)))
