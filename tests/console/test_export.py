"""Export of the filtered conversations as CSV and JSON Lines: feedback, sources, ticket outcomes, and
personal data masked whoever exports; audited with the filter used."""
from __future__ import annotations

import csv
import io
import json
from zoneinfo import ZoneInfo

from bot.export import csv_header
from tests.console.conftest import say
from tests.console.seed import bulk, seed


async def _export(c, role: str = "admin", **params: str) -> str:
    return await c.api("GET", "/api/admin/export", role=role, params=params)


async def test_the_csv_has_one_masked_row_per_message_with_feedback_sources_and_ticket_outcome(console):
    ids = await seed(console)
    ticket = (await console.store.tickets.list(("waiting",)))[0]
    await console.app.engine.desk.claim(ticket.id, "alice")
    await console.app.engine.desk.resolve(ticket.id, "alice", "已对接企业")
    rows = list(csv.DictReader(io.StringIO(await _export(console, format="csv"))))  # an admin: still masked
    assert list(rows[0]) == csv_header(ZoneInfo(console.app.settings.handoff_timezone))
    assert "created_at (Asia/Shanghai)" in rows[0]
    assert all(r["created_at (Asia/Shanghai)"].endswith("+08:00") for r in rows)  # the console's time zone
    assert {int(r["conversation_id"]) for r in rows} == set(ids.values())
    up = [r for r in rows if int(r["conversation_id"]) == ids["up"]]
    answer = next(r for r in up if r["role"] == "assistant")
    assert answer["feedback"] == "up" and answer["mode"] == "extractive" and answer["sources"]
    handoff = [r for r in rows if int(r["conversation_id"]) == ids["handoff"]]
    assert {r["ticket_state"] for r in handoff} == {"resolved"} and handoff[0]["ticket_outcome"] == "已对接企业"
    text = "\n".join(r["text"] for r in rows)
    assert "138****5678" in text and "13812345678" not in text


async def test_the_jsonl_has_one_masked_conversation_per_line_with_messages_and_tickets(console):
    ids = await seed(console)
    lines = (await _export(console, role="operator", format="jsonl")).splitlines()
    records = {r["id"]: r for r in map(json.loads, lines)}
    assert set(records) == set(ids.values())
    handoff = records[ids["handoff"]]
    assert handoff["tickets"][0]["fields"]["contact"] == "138****5678" and "13812345678" not in lines[0] + str(records)
    assert handoff["time_zone"] == "Asia/Shanghai" and handoff["created_at"].endswith("+08:00")
    assert handoff["tickets"][0]["fields"]["contact_name"] == "王**"  # names are masked like phones
    down = records[ids["down"]]
    answer = next(m for m in down["messages"] if m["role"] == "assistant")
    assert answer["feedback"] == "down" and answer["sources"][0]["title"] and answer["latency_ms"] is not None


async def test_the_export_applies_the_filters_and_is_written_to_the_audit_log(console):
    ids = await seed(console)
    lines = (await _export(console, format="jsonl", feedback="down")).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [ids["down"]]
    rows = list(csv.DictReader(io.StringIO(await _export(console, format="csv", channel="telegram"))))
    assert {r["conversation_id"] for r in rows} == {str(ids["unanswered"])}
    [entry, *_] = await console.store.console.audit_log(action="export")
    assert entry.target == "csv" and entry.detail["filter"]["channel"] == "telegram"
    await console.api("GET", "/api/admin/export", params={"format": "xlsx"}, expect=400)


async def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(console):
    await say(console, "=HYPERLINK(\"http://evil.example\",\"点我\")", "f1")
    rows = list(csv.DictReader(io.StringIO(await _export(console, format="csv"))))
    texts = [r["text"] for r in rows if r["role"] == "user"]
    assert texts == ["'=HYPERLINK(\"http://evil.example\",\"点我\")"]


async def test_a_large_export_streams_every_conversation_across_batches(console):
    await bulk(console.store, 450)
    lines = (await _export(console, format="jsonl")).splitlines()
    assert len(lines) == len({json.loads(line)["id"] for line in lines}) == 450
