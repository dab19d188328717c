"""WeChat Customer Service end to end: kf_msg_or_event -> sync_msg pages -> answers via kf/send_msg."""
from __future__ import annotations

import re

import pytest

from adapters.wecom.kf_send import SendSkipped, derive_msgid
from bot.types import Reply, Role
from tests.adapters.wecom.harness import KF, QUESTION, deployment, eventually

SEND, SYNC = "/cgi-bin/kf/send_msg", "/cgi-bin/kf/sync_msg"
QUESTIONS = {"wmAlice": [QUESTION, "全社会研发经费投入年均增长多少？"], "wmBob": ["市级财政科技资金每年增长多少？"]}


def chat(user: str) -> str:
    return f"{KF}:{user}"


def queue_questions(fake) -> list[str]:
    return [fake.add_kf_message(KF, user, text) for user, texts in QUESTIONS.items() for text in texts]


async def transcript(dep, user: str) -> list:
    conv = await dep.store.find_conversation("wecom_kf", chat(user))
    return await dep.store.messages(conv.id) if conv else []


def answers_to(fake, user: str) -> list[str]:
    return [d.text for d in fake.sent("kf") if d.body["touser"] == user]


async def test_several_messages_in_one_batch_are_each_answered_once(wecom_db):
    fake = wecom_db.fake
    queue_questions(fake)
    await wecom_db.trigger_kf()
    await wecom_db.settle()
    await wecom_db.trigger_kf()  # the next callback finds nothing new
    await wecom_db.settle()
    alice, bob = answers_to(fake, "wmAlice"), answers_to(fake, "wmBob")
    assert len(alice) == 2 and "60家左右" in alice[0] and "11.6%" in alice[1]
    assert len(bob) == 1 and "15%" in bob[0]
    assert all(d.body["msgtype"] == "msgmenu" for d in fake.sent("kf"))
    roles = [m.role for m in await transcript(wecom_db, "wmAlice")]
    assert roles == ["user", "assistant", "user", "assistant"]


async def test_pages_are_pulled_while_has_more_including_an_empty_page(wecom):
    fake = wecom.fake
    fake.page_cap = 2
    for i in range(5):
        fake.add_kf_message(KF, f"wmUser{i}", QUESTION)
    fake.inject_empty_page(KF)
    await wecom.trigger_kf()
    await wecom.settle()
    pages = [c.response for c in fake.calls_to(SYNC, ok=True)]
    assert [len(p["msg_list"]) for p in pages] == [0, 2, 2, 1]
    assert [p["has_more"] for p in pages] == [1, 1, 1, 0]
    assert len(fake.sent("kf")) == 5
    assert await wecom.store.get_state(f"wecom_kf:cursor:{KF}") == pages[-1]["next_cursor"]


async def test_a_restart_in_the_middle_of_a_batch_loses_and_repeats_nothing(fake, store, settings):
    fake.page_cap = 2
    ids = [fake.add_kf_message(KF, f"wmUser{i}", QUESTION) for i in range(5)]
    async with deployment(fake, store, settings) as first:
        await first.trigger_kf()
        await fake.wait_for(SEND, 2, ok=True, timeout=30)
        fake.slow[SYNC] = 0.3  # the second page is on its way when the worker stops
        await first.stop()
        answered_before = len(fake.sent("kf"))
        cursor = await store.get_state(f"wecom_kf:cursor:{KF}")
    assert answered_before < 5
    assert cursor == fake.calls_to(SYNC, ok=True)[0].response["next_cursor"]  # stored after page 1
    fake.slow.clear()
    async with deployment(fake, store, settings) as second:  # resumes with the stored sync token
        await eventually(lambda: len(fake.sent("kf")) == 5, timeout=30)
        await second.settle()
    assert sorted(d.body["touser"] for d in fake.sent("kf")) == [f"wmUser{i}" for i in range(5)]
    assert len({d.msgid for d in fake.sent("kf")}) == 5 and len(ids) == 5


async def test_with_a_human_serving_the_session_the_bot_stores_the_message_and_sends_nothing(wecom):
    fake = wecom.fake
    fake.add_kf_message(KF, "wmAlice", QUESTION)
    fake.set_state(KF, "wmAlice", 3, "lisi")
    await wecom.trigger_kf()
    await wecom.settle()
    assert fake.calls_to(SEND) == []
    (stored,) = await transcript(wecom, "wmAlice")
    assert stored.role == "user" and stored.text == QUESTION and stored.meta["service_state"] == 3


@pytest.mark.parametrize("state", [2, 3, 4])
async def test_the_bot_never_sends_outside_states_0_and_1(wecom, state):
    wecom.fake.add_kf_message(KF, "wmAlice", "你好")
    wecom.fake.set_state(KF, "wmAlice", state, "lisi" if state == 3 else "")
    with pytest.raises(SendSkipped):
        await wecom.kf.send(chat("wmAlice"), Reply("一条通知", message_id=1))
    assert wecom.fake.calls_to(SEND) == []


async def test_enter_session_is_answered_with_the_welcome_using_its_code(wecom):
    fake = wecom.fake
    fake.add_kf_message(KF, "wmAlice", msgtype="event", origin=4, event={"event_type": "enter_session"})
    code = fake._kf_msgs[KF][-1]["event"]["welcome_code"]
    await wecom.trigger_kf()
    await wecom.settle()
    (welcome,) = fake.sent("kf_event")
    assert welcome.body["code"] == code and "青岛科技创新政策助手" in welcome.text
    assert fake.calls_to(SEND) == []


async def test_a_servicers_message_is_stored_in_the_transcript_as_the_managers(wecom):
    fake = wecom.fake
    fake.add_kf_message(KF, "wmAlice", QUESTION)
    fake.add_kf_message(KF, "wmAlice", "您好，我是技术经理人李四。", origin=5, servicer_userid="lisi")
    await wecom.trigger_kf()
    await wecom.settle()
    messages = await transcript(wecom, "wmAlice")
    manager = [m for m in messages if m.role == Role.MANAGER.value]
    assert [(m.text, m.author, m.status) for m in manager] == [("您好，我是技术经理人李四。", "lisi", "delivered")]
    assert len(fake.sent("kf")) == 1  # only the bot's answer to the question


async def test_a_retried_send_with_the_same_msgid_is_delivered_once(wecom):
    fake = wecom.fake
    fake.lose_response_next(SEND)  # delivered, but the answer to our request is lost
    fake.add_kf_message(KF, "wmAlice", QUESTION)
    await wecom.trigger_kf()
    await wecom.settle()
    calls = fake.calls_to(SEND)
    assert len(calls) == 2 and calls[0].body["msgid"] == calls[1].body["msgid"]
    assert len(fake.sent("kf")) == 1
    answer = [m for m in await transcript(wecom, "wmAlice") if m.role == "assistant"][0]
    assert answer.status == "sent"


async def test_menu_clicks_give_feedback_and_reach_a_technology_manager(wecom):
    fake = wecom.fake
    fake.add_kf_message(KF, "wmAlice", QUESTION)
    await wecom.trigger_kf()
    await wecom.settle()
    answer = [m for m in await transcript(wecom, "wmAlice") if m.role == "assistant"][0]
    fake.add_kf_message(KF, "wmAlice", "👍 有帮助", menu_id=f"qd:feedback:up:{answer.id}")
    fake.add_kf_message(KF, "wmAlice", "联系技术经理人", menu_id="qd:handoff")
    await wecom.trigger_kf()
    await wecom.settle()
    assert (await wecom.store.get_message(answer.id)).feedback == "up"
    request = [m for m in await transcript(wecom, "wmAlice") if m.role == "user"][-1]
    assert (request.text, request.meta["outcome"]) == ("/human", "handoff")
    assert len(answers_to(fake, "wmAlice")) >= 2  # the answer, then the handoff's reply


async def test_session_changes_and_send_failures_are_recorded_in_the_transcript(wecom):
    fake = wecom.fake
    fake.add_kf_message(KF, "wmAlice", msgtype="event", origin=4, event={
        "event_type": "session_status_change", "change_type": 1, "new_servicer_userid": "lisi"})
    fake.add_kf_message(KF, "wmAlice", msgtype="event", origin=4, event={
        "event_type": "msg_send_fail", "fail_msgid": "q123-0-0", "fail_type": 13})
    await wecom.trigger_kf()
    await wecom.settle()
    notes = await transcript(wecom, "wmAlice")
    assert [(m.role, m.status, m.meta["kf_event"]) for m in notes] == [
        ("system", "event", "session_status_change"), ("system", "event", "msg_send_fail")]
    assert "lisi" in notes[0].text and "13" in notes[1].text


async def test_five_messages_per_customer_message_then_the_bot_stops(wecom):
    fake = wecom.fake
    fake.add_kf_message(KF, "wmAlice", "你好")
    wecom.kf.sender.customer_spoke(chat("wmAlice"))
    for i in range(5):
        await wecom.kf.send(chat("wmAlice"), Reply(f"第{i}条", message_id=100 + i))
    with pytest.raises(SendSkipped):
        await wecom.kf.send(chat("wmAlice"), Reply("第6条", message_id=200))
    assert len(fake.calls_to(SEND)) == 5 and len(fake.sent("kf")) == 5


def test_derived_msgids_are_short_safe_and_distinct():
    ids = {derive_msgid("wm" + "x" * 200, reply, part) for reply in range(3) for part in range(3)}
    assert len(ids) == 9
    assert all(re.fullmatch(r"[0-9a-zA-Z_-]{1,32}", i) for i in ids)


async def test_a_callback_during_a_pull_makes_it_pull_once_more_serially(wecom):
    fake = wecom.fake
    fake.slow[SYNC] = 0.2
    fake.add_kf_message(KF, "wmAlice", QUESTION)
    await wecom.trigger_kf()
    fake.add_kf_message(KF, "wmBob", QUESTION)
    await wecom.trigger_kf()
    await wecom.trigger_kf()  # coalesced with the one before
    await wecom.settle()
    assert sorted(d.body["touser"] for d in fake.sent("kf")) == ["wmAlice", "wmBob"]
    assert len(fake.calls_to(SYNC)) == 2


async def test_a_kf_only_deployment_serves_the_callback_itself(fake, lite_store, settings):
    async with deployment(fake, lite_store, settings, wecom_agent_id=None) as dep:
        assert dep.app is None
        fake.add_kf_message(KF, "wmAlice", QUESTION)
        await dep.trigger_kf()
        await dep.settle()
    assert "60家左右" in answers_to(fake, "wmAlice")[0]


async def test_a_trigger_that_arrives_before_the_kf_channel_started_is_pulled_at_start(fake, lite_store, settings):
    async with deployment(fake, lite_store, settings) as dep:
        await dep.kf.stop()  # (as before start: no handler)
        fake.add_kf_message(KF, "wmAlice", QUESTION)
        await dep.trigger_kf()  # served by the app's route, handed to the idle kf channel
        assert fake.calls_to(SYNC) == []
        await dep.kf.start(dep.engine.handle)
        await dep.settle()
    assert len(answers_to(fake, "wmAlice")) == 1


async def test_the_intake_question_is_a_msgmenu_and_clicking_a_choice_answers_it(wecom):
    fake = wecom.fake
    fake.add_kf_message(KF, "wmBob", "转人工")
    await wecom.trigger_kf()
    await wecom.settle()
    menus = [d.body for d in fake.sent("kf") if d.body["touser"] == "wmBob" and d.body.get("msgtype") == "msgmenu"]
    items = menus[-1]["msgmenu"]["list"]
    assert [i["click"]["id"] for i in items][:2] == ["qd:say:1", "qd:say:2"] and len(items) == 9
    fake.add_kf_message(KF, "wmBob", items[1]["click"]["content"], menu_id=items[1]["click"]["id"])
    await wecom.trigger_kf()
    await wecom.settle()
    conv = await wecom.store.find_conversation("wecom_kf", chat("wmBob"))
    ticket = await wecom.store.tickets.open_for(conv.id)
    assert ticket.fields["kind"] == "licence"
    assert [m for m in await transcript(wecom, "wmBob") if m.role == "user"][-1].text == "2"
