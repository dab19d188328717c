"""Subscriptions and proactive notices on the web chat and WeChat Customer Service, with a fixed clock.
Documents here are FICTIONAL TEST DATA."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.clock import FixedClock
from bot.records import ChunkRecord, DocumentRecord
from bot.store.calendar import NOTICE_AUTHOR
from bot.subscriptions import Notices
from bot.types import IncomingMessage, Reply
from knowledge.policy_ingest import PolicyIngest
from tests.adapters.web.conftest import serve
from tests.fakes.channel import RecordingChannel
from tests.fakes.engine import make_engine

START = datetime(2027, 6, 10, 9, 0, tzinfo=timezone.utc)


async def ingest(store, doc_id: str, title: str, text: str, updated: bool = False) -> None:
    """What an ingest does for a new document: registry write, then the issue-16 hook."""
    doc = DocumentRecord(id=doc_id, title=title, source=f"test/{doc_id}.txt", sha256=doc_id * 4, chunk_count=1,
                         identity={"title": title, "region": "青岛市"})
    chunk = ChunkRecord(id=f"{doc_id}-c0", doc_id=doc_id, position=0, title=title, section="一、总则",
                        source=doc.source, text=text)
    await store.kb.replace_document(doc, [chunk])
    await PolicyIngest(store)(doc, [chunk], updated)


async def notices_of(store, conversation_id: int) -> list:
    return [m for m in await store.messages(conversation_id) if m.author == NOTICE_AUTHOR]


async def test_a_web_chat_subscriber_finds_exactly_one_notice_on_the_next_visit(store, settings):
    web = await serve(make_engine(store, settings), settings)
    clock = FixedClock(START)
    web.engine.notices = notices = Notices(web.engine, clock)
    try:
        said = await web.chat("订阅 概念验证 青岛")
        assert "已订阅：概念验证；地区：青岛市" in said["answer"]
        await ingest(store, "p1", "青岛市概念验证平台建设方案（虚构）", "支持建设概念验证平台，每家补助50万元。")
        await ingest(store, "p2", "青岛市人才公寓管理办法（虚构）", "人才公寓的租金标准。")  # another topic
        assert await notices.tick() == 1
        assert await notices.tick() == 0  # nothing new: nothing sent again
        texts = [m["text"] for m in await web.history()]
        pushed = [t for t in texts if t.startswith("📬")]
        assert len(pushed) == 1 and "新发布：《青岛市概念验证平台建设方案（虚构）》" in pushed[0]
        assert "人才公寓" not in pushed[0]
    finally:
        await web.client.close()


async def test_one_notice_per_digest_period_packs_everything_pending(store, settings):
    engine = make_engine(store, settings)
    engine.register(channel := RecordingChannel("web"))
    clock = FixedClock(START)
    engine.notices = notices = Notices(engine, clock)
    await engine.handle(IncomingMessage("web", "s1", "s1", "/subscribe"))
    await ingest(store, "a1", "青岛市政策甲（虚构）", "内容甲。")
    assert await notices.tick() == 1
    await ingest(store, "a2", "青岛市政策乙（虚构）", "内容乙。")
    await ingest(store, "a3", "青岛市政策丙（虚构）", "内容丙。")
    assert await notices.tick() == 0  # within the digest period
    clock.advance(hours=24)
    assert await notices.tick() == 1
    last = [r.text for _, r in channel.sent if r.text.startswith("📬")][-1]
    assert "政策乙" in last and "政策丙" in last and "政策甲" not in last


async def test_a_kf_user_outside_the_48_hour_window_gets_nothing_until_they_write_then_one_packed_notice(store, settings):
    engine = make_engine(store, settings)
    engine.register(kf := RecordingChannel("wecom_kf"))
    clock = FixedClock(START)
    engine.notices = notices = Notices(engine, clock)
    chat = "wkKF01|wmUSER01"
    await engine.handle(IncomingMessage("wecom_kf", chat, "wmUSER01", "订阅 概念验证", channel_message_id="m1",
                                        received_at=START))
    conv = await store.find_conversation("wecom_kf", chat)
    clock.advance(hours=49)  # the window after the user's last message has closed
    await ingest(store, "k1", "青岛市概念验证平台建设方案（虚构）", "支持建设概念验证平台。")
    await ingest(store, "k2", "青岛市概念验证券实施细则（虚构）", "概念验证券按费用的50%补助。")
    assert await notices.tick() == 0 and await notices.tick() == 0
    assert await notices_of(store, conv.id) == []
    await engine.handle(IncomingMessage("wecom_kf", chat, "wmUSER01", "你好", channel_message_id="m2",
                                        received_at=clock.now()))
    assert await notices.tick() == 1
    sent = await notices_of(store, conv.id)
    assert len(sent) == 1 and sent[0].status == "sent"
    assert "概念验证平台建设方案" in sent[0].text and "概念验证券实施细则" in sent[0].text
    assert sum(r.text.startswith("📬") for _, r in kf.sent) == 1


async def test_a_kf_user_whose_five_messages_are_used_up_waits_for_the_next_message(store, settings):
    engine = make_engine(store, settings)
    engine.register(RecordingChannel("wecom_kf"))
    clock = FixedClock(START)
    engine.notices = notices = Notices(engine, clock)
    chat = "wkKF01|wmUSER02"
    await engine.handle(IncomingMessage("wecom_kf", chat, "wmUSER02", "订阅", channel_message_id="q1", received_at=START))
    conv = await store.find_conversation("wecom_kf", chat)
    for n in range(4):  # with the subscription's confirmation: five replies since the user's message
        await engine.notify("wecom_kf", chat, Reply(f"系统消息{n}"))
    await ingest(store, "k3", "青岛市新政策（虚构）", "内容。")
    assert await notices.tick() == 0 and await notices_of(store, conv.id) == []


async def test_unsubscribe_stops_the_notices_and_drops_what_was_pending(store, settings):
    engine = make_engine(store, settings)
    engine.register(channel := RecordingChannel("web"))
    clock = FixedClock(START)
    engine.notices = notices = Notices(engine, clock)
    await engine.handle(IncomingMessage("web", "s2", "s2", "订阅 概念验证"))
    await ingest(store, "u1", "青岛市概念验证政策一（虚构）", "概念验证。")
    assert await notices.tick() == 1
    await ingest(store, "u2", "青岛市概念验证政策二（虚构）", "概念验证。")
    out = await engine.handle(IncomingMessage("web", "s2", "s2", "退订"))
    assert out.status == "command" and "已退订" in out.replies[0].text
    clock.advance(days=2)
    await ingest(store, "u3", "青岛市概念验证政策三（虚构）", "概念验证。")
    assert await notices.tick() == 0
    assert sum(r.text.startswith("📬") for _, r in channel.sent) == 1
    assert (await store.calendar.stats()).subscribers == {}


async def test_operators_can_pause_notices(store, settings):
    engine = make_engine(store, settings)
    engine.register(RecordingChannel("web"))
    engine.notices = notices = Notices(engine, FixedClock(START))
    await engine.handle(IncomingMessage("web", "s3", "s3", "/subscribe"))
    await notices.pause(True)
    await ingest(store, "z1", "青岛市政策（虚构）", "内容。")
    assert await notices.tick() == 0
    await notices.pause(False)
    assert await notices.tick() == 1
    stats = await store.calendar.stats()
    assert stats.subscribers == {"web": 1} and stats.notices == {"sent": 1}


async def test_a_window_closing_within_the_configured_days_is_noticed_once(store, settings):
    engine = make_engine(store, settings)
    engine.register(channel := RecordingChannel("web"))
    clock = FixedClock(datetime(2027, 6, 20, 9, 0, tzinfo=timezone.utc))
    engine.notices = notices = Notices(engine, clock)
    await ingest(store, "w1", "青岛市研发费用后补助办法（虚构）", "研发费用后补助每年6月1日至6月30日集中受理。")
    await engine.handle(IncomingMessage("web", "s4", "s4", "订阅 研发费用"))
    assert await notices.tick() == 0  # 10 days left: not yet within NOTICE_CLOSING_DAYS (7)
    clock.advance(days=4)
    assert await notices.tick() == 1
    clock.advance(days=2)
    assert await notices.tick() == 0  # the same window is not noticed twice
    text = [r.text for _, r in channel.sent if r.text.startswith("📬")][0]
    assert "2027-06-30截止（还剩6天）" in text
