"""The roster: YAML loading, working hours, on-duty checks and the next opening time."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.errors import ConfigError
from bot.handoff.roster import load_roster, matches, next_opening, on_duty, parse_hours

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:  # Shanghai local time
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(timezone.utc)


def test_working_hours_cover_weekday_ranges_and_split_shifts():
    spec = "mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00"
    assert on_duty(spec, at("2026-11-27 10:00"), SH)       # a Friday morning
    assert not on_duty(spec, at("2026-11-27 12:30"), SH)   # lunch
    assert on_duty(spec, at("2026-11-28 11:59"), SH)       # Saturday
    assert not on_duty(spec, at("2026-11-29 10:00"), SH)   # Sunday
    assert on_duty("", at("2026-11-29 03:00"), SH)          # no hours: always


def test_the_next_opening_is_the_earliest_start_of_any_schedule():
    opening = next_opening(["mon-fri 09:00-17:30", "sat 10:00-12:00"], at("2026-11-27 20:00"), SH)
    assert opening.strftime("%a %H:%M") == "Sat 10:00"
    assert next_opening(["mon-fri 09:00-17:30"], at("2026-11-27 10:00"), SH) is None


def test_malformed_hours_are_a_clear_configuration_error():
    with pytest.raises(ConfigError, match="cannot read"):
        parse_hours("weekdays 9-5")


def test_a_yaml_roster_loads_managers_and_rejects_incomplete_entries(tmp_path):
    f = tmp_path / "roster.yaml"
    f.write_text("managers:\n  - id: alice\n    name: 张工\n    specialties: [专利, 海洋]\n"
                 "    working_hours: mon-fri 09:00-17:30\n    telegram_user_id: 111\n", encoding="utf-8")
    (alice,) = load_roster(f)
    assert alice.telegram_user_id == "111" and matches(alice, "海洋生物专利")
    f.write_text("- name: nobody\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="id and a name"):
        load_roster(f)


def test_the_shipped_example_roster_loads():
    from pathlib import Path

    import bot.handoff

    managers = load_roster(Path(bot.handoff.__file__).with_name("roster.example.yaml"))
    assert [m.id for m in managers] == ["zhang", "li"] and managers[0].kf_servicer_userid == "ZhangSan"
