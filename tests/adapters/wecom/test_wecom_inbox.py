"""Store before acknowledging: a WeCom callback is in the inbox before its 200, one that cannot be
stored is not acknowledged, and callbacks a dead worker left behind are answered once at start."""
from __future__ import annotations

import json

from sqlalchemy import text

from adapters.wecom import translate
from adapters.wecom.xml import parse_xml
from tests.adapters.wecom.harness import KF, QUESTION, deployment, eventually, text_xml

SEND = "/cgi-bin/message/send"


def answers_to(fake, user: str) -> list[str]:
    return [d.text for d in fake.sent("message") if d.body["touser"] == user]


async def test_a_callback_is_in_the_inbox_when_it_is_acknowledged_and_a_redelivery_adds_nothing(wecom_db):
    response = await wecom_db.ask(QUESTION, "8001", user="alice")
    rows = await wecom_db.store.inbox.rows("wecom")  # read right after the 200, before waiting
    assert response.status == 200 and [r["key"] for r in rows] == ["wecom:msg:1000002:8001"]
    assert (await wecom_db.ask(QUESTION, "8001", user="alice")).status == 200
    await wecom_db.settle()
    assert len(await wecom_db.store.inbox.rows("wecom")) == 1
    assert len(answers_to(wecom_db.fake, "alice")) == 1


async def test_a_kf_trigger_is_in_the_inbox_when_it_is_acknowledged(wecom_db):
    wecom_db.fake.add_kf_message(KF, "wmAlice", QUESTION)
    await wecom_db.trigger_kf()
    [row] = await wecom_db.store.inbox.rows("wecom_kf")
    assert row["key"].startswith(f"{KF}:")
    await wecom_db.settle()
    assert [d.body["touser"] for d in wecom_db.fake.sent("kf")] == ["wmAlice"]


async def test_a_callback_that_cannot_be_stored_is_not_acknowledged(wecom):
    async with wecom.store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE inbox"))
    response = await wecom.ask(QUESTION, "8002", user="bob")
    assert response.status == 503  # WeCom delivers it again later
    await wecom.settle()
    assert await wecom.store.count_messages() == 0 and wecom.fake.calls_to(SEND) == []


async def test_callbacks_a_dead_worker_left_are_answered_once_when_the_next_one_starts(fake, store, settings):
    def fields(msg_id: str, user: str) -> dict[str, str]:
        return parse_xml(text_xml(fake, QUESTION, msg_id, user=user))

    never_started = fields("8101", "carol")
    await store.inbox.add("wecom", translate.dedupe_key(never_started), json.dumps(never_started))
    half_done = fields("8102", "dave")  # claimed, and the message stored, then the worker died
    row = await store.inbox.add("wecom", translate.dedupe_key(half_done), json.dumps(half_done))
    await store.inbox.claim(row, "dead-worker", 0)
    msg = translate.app_message(half_done)
    await store.record_user_message(await store.conversation_for(msg), msg)
    async with deployment(fake, store, settings) as dep:
        await eventually(lambda: len(fake.sent("message")) >= 2, timeout=30)
        await dep.settle()
        await dep.engine.drain(10)
    assert len(answers_to(fake, "carol")) == 1 and "60家左右" in answers_to(fake, "carol")[0]
    assert len(answers_to(fake, "dave")) == 1 and "60家左右" in answers_to(fake, "dave")[0]
    assert {r["status"] for r in await store.inbox.rows("wecom")} == {"done"}
