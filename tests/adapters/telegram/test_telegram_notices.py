"""A Telegram subscriber (private chat, through the fake Bot API) gets exactly one notice when a
matching document is ingested. FICTIONAL TEST DATA."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.clock import FixedClock
from bot.subscriptions import Notices
from tests.bot.test_notices import ingest

CHAT = 424242


async def test_a_subscribed_private_chat_receives_exactly_one_notice_for_a_matching_document(channel, fake, engine, store):
    engine.notices = notices = Notices(engine, FixedClock(datetime(2027, 6, 10, 9, 0, tzinfo=timezone.utc)))
    fake.user_message(CHAT, CHAT, "/subscribe 概念验证")
    await fake.wait_for("sendMessage", 1)
    assert "已订阅：概念验证" in fake.sent_messages(CHAT)[-1]["text"]
    await ingest(store, "t1", "青岛市概念验证平台建设方案（虚构）", "支持建设概念验证平台。")
    await ingest(store, "t2", "青岛市人才公寓管理办法（虚构）", "人才公寓。")
    assert await notices.tick() == 1
    assert await notices.tick() == 0
    pushed = [m["text"] for m in fake.sent_messages(CHAT) if "政策提醒" in m["text"]]
    assert len(pushed) == 1 and "概念验证平台建设方案" in pushed[0] and "人才公寓" not in pushed[0]


async def test_a_group_cannot_subscribe(channel, fake, engine, store):
    engine.notices = Notices(engine, FixedClock(datetime(2027, 6, 10, tzinfo=timezone.utc)))
    fake.user_message(-100777, 5, "/subscribe@fake_qd_bot 概念验证", chat_type="supergroup")
    await fake.wait_for("sendMessage", 1)
    assert "私聊" in fake.sent_messages(-100777)[-1]["text"]
    assert (await store.calendar.stats()).subscribers == {}
