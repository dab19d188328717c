"""The conversation list (filters, keyword search, keyset pages), transcripts, and masking by role,
on SQLite and PostgreSQL, with conversations made by the real engine."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.types import utcnow
from tests.console.conftest import QUESTION, say
from tests.console.seed import seed as _seed


async def _ids(c, role: str = "operator", **params: str) -> list[int]:
    data = await c.api("GET", "/api/admin/conversations", role=role, params=params)
    return [row["id"] for row in data["conversations"]]


async def test_each_filter_finds_exactly_the_conversations_it_names(console):
    ids = await _seed(console)
    everything = await _ids(console)
    assert set(everything) == set(ids.values()) and everything[0] == ids["curated"]  # newest activity first
    assert await _ids(console, channel="telegram") == [ids["unanswered"]]
    assert await _ids(console, unanswered="1") == [ids["unanswered"]]
    assert await _ids(console, handoff="yes") == [ids["handoff"]]
    assert ids["handoff"] not in await _ids(console, handoff="no")
    assert await _ids(console, feedback="up") == [ids["up"]]
    assert await _ids(console, feedback="down") == [ids["down"]]
    assert await _ids(console, mode="curated") == [ids["curated"]]
    assert set(await _ids(console, mode="extractive")) == {ids["up"], ids["down"], ids["unanswered"]}
    today = utcnow().date()
    assert ids["unanswered"] not in await _ids(console, **{"from": str(today - timedelta(days=7))})
    assert await _ids(console, to=str(today - timedelta(days=30))) == [ids["unanswered"]]
    assert await _ids(console, channel="web", feedback="down", mode="extractive") == [ids["down"]]


async def test_keywords_match_any_message_of_a_conversation_by_index_or_scan(console):
    ids = await _seed(console)
    long = await console.api("GET", "/api/admin/conversations", role="operator", params={"q": "海藻提取"})
    assert [r["id"] for r in long["conversations"]] == [ids["handoff"]]
    assert long["search"] == ("fts5" if console.store.dialect == "sqlite" else "trgm")
    short = await console.api("GET", "/api/admin/conversations", role="operator", params={"q": "专利"})
    assert [r["id"] for r in short["conversations"]] == [ids["handoff"]] and short["search"] == "like"
    assert await _ids(console, q="proof OF concept") == [ids["curated"]]  # case does not matter
    assert await _ids(console, q="财政科技资金") == [ids["down"]]  # found in a question
    assert await _ids(console, q="60家左右") == [ids["up"]]  # found in the answer
    assert await _ids(console, q="%") == [ids["down"]]  # "15%" in its answer: wildcards are literal
    assert await _ids(console, q="_") == []
    assert await _ids(console, q='"') == []


async def test_pages_follow_each_other_without_gaps_or_repeats_and_new_activity_does_not_shift_them(console):
    for n in range(2 * 50 + 7):
        await say(console, f"第{n}个问题：概念验证平台", f"p{n}")
    seen, cursor, pages = [], None, 0
    first = await console.api("GET", "/api/admin/conversations", role="operator")
    await say(console, "新的问题", "late")  # newer than every page already started
    while True:
        data = first if pages == 0 else await console.api("GET", "/api/admin/conversations", role="operator",
                                                          params={"cursor": cursor})
        seen += [r["id"] for r in data["conversations"]]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 107
    late = (await console.store.find_conversation("web", "late")).id
    assert late not in seen and (await _ids(console))[0] == late


async def test_a_malformed_filter_is_refused_and_a_malformed_cursor_starts_over(console):
    await say(console, QUESTION, "u1")
    for params in ({"mode": "magic"}, {"feedback": "meh"}, {"from": "yesterday"}, {"q": "x" * 101}):
        await console.api("GET", "/api/admin/conversations", role="operator", params=params, expect=400)
    assert len(await _ids(console, cursor="!!!")) == 1


async def test_operators_see_contact_details_masked_and_admins_see_them(console):
    out = await say(console, "我的电话是13812345678，邮箱 wang.lei@example.com，想了解概念验证平台", "pii")
    rows = {role: (await console.api("GET", "/api/admin/conversations", role=role))["conversations"][0]
            for role in ("operator", "admin")}
    assert "138****5678" in rows["operator"]["first_question"] and "13812345678" not in rows["operator"]["first_question"]
    assert "w***@example.com" in rows["operator"]["first_question"]
    assert "13812345678" in rows["admin"]["first_question"]
    transcript = await console.api("GET", f"/api/admin/conversations/{out.conversation_id}", role="operator")
    assert "13812345678" not in str(transcript) and "wang.lei@" not in str(transcript)


async def test_a_transcript_shows_every_turn_with_its_author_and_how_each_answer_was_made(console):
    ids = await _seed(console)
    ticket = (await console.store.tickets.list(("waiting",)))[0]
    await console.app.engine.desk.claim(ticket.id, "alice")
    await console.app.engine.desk.reply(ticket.id, "alice", "您好，我是张工")
    data = await console.api("GET", f"/api/admin/conversations/{ids['handoff']}", role="operator")
    roles = {m["role"] for m in data["messages"]}
    assert roles == {"user", "system", "manager"}
    manager = next(m for m in data["messages"] if m["role"] == "manager")
    assert manager["author"] == "alice" and manager["text"] == "您好，我是张工"
    assert data["tickets"][0]["state"] == "active" and data["tickets"][0]["events"][-1]["action"] == "claimed"
    answered = await console.api("GET", f"/api/admin/conversations/{ids['up']}", role="operator")
    answer = next(m for m in answered["messages"] if m["role"] == "assistant")
    assert answer["mode"] == "extractive" and answer["feedback"] == "up" and answer["latency_ms"] is not None
    assert answer["passages"] and all(isinstance(p["score"], float) for p in answer["passages"])
    assert "60家左右" in answer["passages"][0]["text"] and answer["sources"][0]["title"]
    audit = await console.store.console.audit_log()
    assert [(a.action, a.target) for a in audit[:2]] == [("view_transcript", f"conversation:{ids['up']}"),
                                                        ("view_transcript", f"conversation:{ids['handoff']}")]
    await console.api("GET", "/api/admin/conversations/999999", role="operator", expect=404)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_an_llm_answer_shows_the_rewritten_follow_up_question(store, settings, fake_llm):
    from bot.llm import make_chat_model
    from bot.settings import load_settings
    from tests.console.conftest import _console

    fake_llm.responder = lambda messages, body: ("青岛计划建设多少家中试验证平台？" if "追问" in str(messages)
                                                 else "三年内建设省级以上中试验证平台15家左右[1]。")
    s = load_settings(qdbot_data_dir=settings.qdbot_data_dir, openai_base_url=fake_llm.base_url, openai_api_key="k",
                      llm_max_retries=0, llm_classify_intent=False)
    c = await _console(store, s, llm=make_chat_model(s))
    try:
        await say(c, QUESTION, "llm1")
        out = await say(c, "中试平台呢？", "llm1")
        data = await c.api("GET", f"/api/admin/conversations/{out.conversation_id}", role="operator")
        last = [m for m in data["messages"] if m["role"] == "assistant"][-1]
        assert last["mode"] == "llm" and last["rewritten_query"] == "青岛计划建设多少家中试验证平台？"
        assert last["timings"]["total_ms"] >= 0 and last["sources"]
    finally:
        await c.client.close()


async def test_command_line_and_eval_conversations_are_left_out_unless_their_channel_is_picked(console):
    from bot.types import IncomingMessage
    for channel in ("cli", "eval"):
        await console.app.engine.handle(IncomingMessage(channel, f"{channel}-1", f"{channel}-1", "青岛计划建设多少家概念验证平台？"))
    await console.chat("青岛计划建设多少家概念验证平台？", "sess-conv-visible1")
    listed = await console.api("GET", "/api/admin/conversations", role="operator")
    assert {c["channel"] for c in listed["conversations"]} == {"web"}
    only_eval = await console.api("GET", "/api/admin/conversations?channel=eval", role="operator")
    assert [c["channel"] for c in only_eval["conversations"]] == ["eval"]
    dashboard = await console.api("GET", "/api/admin/dashboard", role="operator")
    assert set(dashboard["per_day"]) == {"web"} and dashboard["messages"] == 1


async def test_today_and_last_24_hours_keep_only_recent_conversations(console):
    await console.chat("青岛计划建设多少家概念验证平台？", "sess-period-new1")
    await console.chat("市级财政科技资金每年增长多少？", "sess-period-old1")
    old = await console.store.find_conversation("web", console.public("sess-period-old1"))
    from sqlalchemy import update
    from bot.store.models import ConversationRow
    async with console.store._session() as s, s.begin():
        await s.execute(update(ConversationRow).where(ConversationRow.id == old.id)
                        .values(updated_at=utcnow() - timedelta(days=2)))
    for period in ("today", "24h"):
        listed = await console.api("GET", f"/api/admin/conversations?period={period}", role="operator")
        assert [c["id"] for c in listed["conversations"]] != [] and old.id not in [c["id"] for c in listed["conversations"]]
    everything = await console.api("GET", "/api/admin/conversations", role="operator")
    assert old.id in [c["id"] for c in everything["conversations"]]
    await console.api("GET", "/api/admin/conversations?period=week", role="operator", expect=400)
