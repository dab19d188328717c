"""The dashboard's figures from what the engine stored, local days, percentiles and SLA figures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.dashboard import local_days, percentile, sla, top_topics
from bot.records import TicketRecord
from tests.console.seed import INTAKE, seed
from tests.console.conftest import say

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def _ticket(n: int, state: str, wait: int | None, first: int | None, done: int | None) -> TicketRecord:
    at = lambda s: T0 + timedelta(seconds=s) if s is not None else None  # noqa: E731
    return TicketRecord(id=n, conversation_id=n, state=state, fields={}, intake_step=None, summary="", trigger="",
                        lang="zh", manager_id="alice", created_at=T0, waiting_since=T0, claimed_at=at(wait),
                        first_response_at=at(first), resolved_at=at(done))


def test_percentiles_interpolate_and_sla_figures_are_medians_over_queued_tickets():
    assert percentile([], 50) is None and percentile([5], 95) == 5
    assert percentile([100, 200, 300, 400], 50) == 250 and percentile(list(range(1, 101)), 95) == 95.05
    figures = sla([_ticket(1, "resolved", 60, 120, 600), _ticket(2, "resolved", 180, 240, 1200),
                   _ticket(3, "active", 300, None, None), _ticket(4, "expired", None, None, 7200)])
    assert (figures.tickets, figures.claimed, figures.resolved, figures.expired) == (4, 3, 2, 1)
    assert figures.median_wait_to_claim_s == 180 and figures.median_first_response_s == 180
    assert figures.median_resolution_s == 900


def test_days_are_local_days_of_the_roster_time_zone():
    since, until = datetime(2026, 2, 28, 16, 0, tzinfo=timezone.utc), datetime(2026, 3, 2, 15, 59, tzinfo=timezone.utc)
    assert local_days(since, until, "Asia/Shanghai") == ["2026-03-01", "2026-03-02"]


def test_top_topics_are_phrases_counted_once_per_question_without_commands_places_or_names():
    topics = dict(top_topics(["青岛概念验证平台有多少家", "概念验证平台怎么申请", "/human", "青岛人才公寓", "王先生"]))
    assert topics["概念验证平台"] == 2 and topics["人才公寓"] == 1
    assert not {"平台", "概念", "青岛", "/human", "王先生"} & set(topics)


async def test_the_dashboard_reports_traffic_answers_feedback_latency_handoffs_and_topics(console):
    ids = await seed(console)
    ticket = (await console.store.tickets.list(("waiting",)))[0]
    await console.app.engine.desk.claim(ticket.id, "alice")
    await say(console, "青岛计划建设多少家概念验证平台？", "tg2", channel="telegram")
    d = await console.api("GET", "/api/admin/dashboard", role="operator", params={"days": "7"})
    assert len(d["days"]) == 7 and d["days"][-1] == datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    assert d["per_day"]["web"][-1] == 1 + (1 + len(INTAKE)) + 1 + 1 and d["per_day"]["telegram"][-1] == 1  # tg1 is 40 days old
    assert d["unique_users"] == 5 and d["messages"] == sum(sum(v) for v in d["per_day"].values())
    assert d["answered"] == 4 and d["not_answered"] == 0 and d["by_mode"] == {"extractive": 3, "curated": 1}
    assert (d["feedback_up"], d["feedback_down"], d["feedback_ratio"]) == (1, 1, 0.5)
    assert d["latency_p50_ms"] is not None and d["latency_p95_ms"] >= d["latency_p50_ms"]
    assert d["handoffs"] == 1 and d["median_wait_s"] is not None and d["sla"]["claimed"] == 1
    topics = dict(d["top_topics"])
    assert topics["概念验证平台"] == 2 and "王先生" not in topics and "海洋生物" not in topics  # intake answers are not topics
    assert ids["unanswered"]  # the 40-day-old no-answer is outside the 7 days
    month = await console.api("GET", "/api/admin/dashboard", role="operator", params={"days": "60"})
    assert month["not_answered"] == 1 and month["per_day"]["telegram"][-41] == 1
