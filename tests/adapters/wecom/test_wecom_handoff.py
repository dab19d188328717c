"""WeChat Customer Service handoff: the session follows the ticket natively in WeCom (pool, the
claiming manager's servicer account, ended), and the bot never sends while a human has it."""
from __future__ import annotations

import pytest

import prompts
from adapters.wecom import texts
from adapters.wecom.kf_handoff import ENDED_IN_WECOM
from bot.records import ManagerRecord
from tests.adapters.wecom.harness import KF, QUESTION, Deployment
from tests.fakes.staff import RecordingStaff

SEND, TRANS, ON_EVENT = "/cgi-bin/kf/send_msg", "/cgi-bin/kf/service_state/trans", "/cgi-bin/kf/send_msg_on_event"
USER = "wmAlice"
ALICE = ManagerRecord("alice", "张工", ("专利",), wecom_userid="alice_wx", kf_servicer_userid="alice_kf")
BOB = ManagerRecord("bob", "李工", ("人工智能",), wecom_userid="bob_wx", kf_servicer_userid="bob_kf")
INTAKE = ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678", "一项海藻提取专利想授权给企业")


async def setup(dep: Deployment, bob_receiving: bool = True) -> RecordingStaff:
    """Alice and Bob on the roster and as servicers of the kf account; a recording staff channel."""
    for m in (ALICE, BOB):
        await dep.store.tickets.upsert_manager(m)
    dep.fake.set_servicers(KF, {"alice_kf": 0, "bob_kf": 0 if bob_receiving else 1})
    staff = RecordingStaff()
    dep.engine.desk.add_staff(staff)
    return staff


async def customer(dep: Deployment, *texts: str) -> None:
    """The customer's messages, one pull each (as they type: each restarts the 5-message quota)."""
    for text in texts:
        dep.fake.add_kf_message(KF, USER, text)
        await pull(dep)


async def pull(dep: Deployment) -> None:
    await dep.trigger_kf()
    await dep.settle()


async def queued_ticket(dep: Deployment):
    await customer(dep, "转人工", *INTAKE)
    (ticket,) = await dep.store.tickets.list()
    assert ticket.state == "waiting"
    return ticket


async def manager_says(dep: Deployment, text: str, user: str, msg_id: str) -> None:
    await dep.ask(text, msg_id, user=user)
    await dep.settle()


def kf_texts(dep: Deployment) -> list[str]:
    return [d.text for d in dep.fake.sent("kf") if d.body["touser"] == USER]


def app_texts(dep: Deployment, userid: str) -> list[str]:
    return [d.text for d in dep.fake.sent("message") if userid in d.body["touser"].split("|")]


def states(dep: Deployment) -> list[int]:
    return [c.body["service_state"] for c in dep.fake.calls_to(TRANS, ok=True)]


async def claimed_by_alice(dep: Deployment):
    """A queued ticket claimed by Alice from the console: (ticket, kf/send_msg calls so far)."""
    await setup(dep)
    ticket = await queued_ticket(dep)
    await dep.engine.desk.claim(ticket.id, "alice")
    return ticket, len(dep.fake.calls_to(SEND))


async def closing_notices(dep: Deployment) -> list:
    closing = (prompts.text("zh", "back_to_assistant"), prompts.text("zh", "rate_request"))
    return [m for m in await transcript(dep) if m.text in closing]


def prompts_wecom(key: str, **fields: object) -> str:
    return texts.text("zh", key, **fields)


async def transcript(dep: Deployment) -> list:
    conv = await dep.store.find_conversation("wecom_kf", f"{KF}:{USER}")
    return await dep.store.messages(conv.id)


@pytest.mark.parametrize("via", ["app", "console"])
async def test_a_kf_customer_is_transferred_natively_and_the_bot_sends_nothing_while_the_state_is_3(wecom_db, via):
    dep, fake = wecom_db, wecom_db.fake
    staff = await setup(dep)
    ticket = await queued_ticket(dep)
    assert kf_texts(dep)[-1] == prompts.text("zh", "queued", ticket=ticket.id)
    calls = [c.path for c in fake.calls]  # the notice went out first, then the move to the pool
    assert max(i for i, p in enumerate(calls) if p == SEND) < calls.index(TRANS)
    assert fake.state(KF, USER) == (2, "") and states(dep) == [2]
    (card,) = app_texts(dep, "alice_wx")
    assert f"认领 {ticket.id}" in card and "13812345678" in card and "微信客服" in card
    sends = len(fake.calls_to(SEND))

    if via == "app":
        await manager_says(dep, f"认领 {ticket.id}", "alice_wx", "9001")
        assert app_texts(dep, "alice_wx")[-1] == prompts_wecom("staff_claimed_kf", ticket=ticket.id, servicer="alice_kf")
    else:
        await dep.engine.desk.claim(ticket.id, "alice")
    trans = fake.calls_to(TRANS, ok=True)[-1].body
    assert (trans["service_state"], trans["servicer_userid"]) == (3, "alice_kf")
    assert fake.state(KF, USER) == (3, "alice_kf")
    held = await dep.store.tickets.get(ticket.id)
    assert (held.state, held.manager_id, held.meta["kf_state"], held.meta["kf_servicer"]) == ("active", "alice", 3, "alice_kf")

    await customer(dep, "专利号是 ZL202410000000.1")
    assert staff.events[-1].kind == "user_message" and staff.events[-1].text == "专利号是 ZL202410000000.1"
    fake.add_kf_message(KF, USER, "您好，我是张工，专利已收到。", origin=5, servicer_userid="alice_kf")
    await pull(dep)
    assert fake.calls_to(SEND)[sends:] == []  # not a single send_msg while a human has the session
    messages = await transcript(dep)
    assert [m.text for m in messages if m.role == "user"][-1] == "专利号是 ZL202410000000.1"
    manager = [m for m in messages if m.role == "manager"]
    assert [(m.text, m.author) for m in manager] == [("您好，我是张工，专利已收到。", "alice")]
    assert (await dep.store.tickets.get(ticket.id)).first_response_at is not None

    fake.add_session_change(KF, USER, 3, old_servicer="alice_kf")
    code = fake._kf_msgs[KF][-1]["event"]["msg_code"]
    await pull(dep)
    done = await dep.store.tickets.get(ticket.id)
    assert (done.state, done.outcome, done.meta["kf_state"]) == ("resolved", ENDED_IN_WECOM, 4)
    (closing,) = fake.sent("kf_event")
    assert closing.body["code"] == code and closing.body["msgtype"] == "msgmenu"
    assert prompts.text("zh", "back_to_assistant") in closing.text and prompts.text("zh", "rate_request") in closing.text
    assert len(closing.body["msgmenu"]["list"]) == 5
    assert states(dep) == [2, 3]  # ended by WeCom: no trans of ours, nothing loops
    assert fake.calls_to(SEND)[sends:] == []

    await customer(dep, QUESTION)
    assert "60家左右" in kf_texts(dep)[-1]
    assert all(c.response["errcode"] == 0 for c in fake.calls_to(SEND))


async def test_a_ticket_closed_from_the_console_ends_the_session_and_says_goodbye_with_its_msg_code(wecom):
    dep, fake = wecom, wecom.fake
    ticket, sends = await claimed_by_alice(dep)
    await dep.engine.desk.resolve(ticket.id, "alice", "matched with a company")
    assert states(dep) == [2, 3, 4] and fake.state(KF, USER) == (4, "")
    code = fake.calls_to(TRANS, ok=True)[-1].response["msg_code"]
    (closing,) = fake.sent("kf_event")
    assert closing.body["code"] == code and closing.text.startswith(prompts.text("zh", "back_to_assistant"))
    assert fake.calls_to(SEND)[sends:] == []
    assert [m.status for m in await closing_notices(dep)] == ["sent", "sent"]

    five = closing.body["msgmenu"]["list"][4]["click"]
    fake.add_kf_message(KF, USER, five["content"], menu_id=five["id"])
    await pull(dep)
    assert (await dep.store.tickets.get(ticket.id)).rating == 5
    assert kf_texts(dep)[-1] == prompts.text("zh", "rate_thanks")  # state 0 again: the bot sends


async def test_a_manager_whose_servicer_is_not_receiving_keeps_the_ticket_and_is_told_to_use_the_pool(wecom):
    dep, fake = wecom, wecom.fake
    await setup(dep, bob_receiving=False)
    ticket = await queued_ticket(dep)
    await manager_says(dep, f"认领 {ticket.id}", "bob_wx", "9101")
    held = await dep.store.tickets.get(ticket.id)
    assert (held.state, held.manager_id, held.meta["kf_state"]) == ("active", "bob", 2)
    assert states(dep) == [2] and fake.state(KF, USER) == (2, "")
    told, confirmed = app_texts(dep, "bob_wx")[-2:]
    assert told == prompts_wecom("kf_not_receiving", ticket=ticket.id, servicer="bob_kf")
    assert confirmed == prompts_wecom("staff_claimed_plain", ticket=ticket.id)
    assert [e.action for e in await dep.store.tickets.events(ticket.id)][-1] == "note"

    sends = len(fake.calls_to(SEND))
    await manager_says(dep, f"回复 {ticket.id} 您好", "bob_wx", "9102")
    assert app_texts(dep, "bob_wx")[-1].startswith(prompts_wecom("staff_not_delivered", ticket=ticket.id, reason=""))
    assert fake.calls_to(SEND)[sends:] == []

    fake.add_session_change(KF, USER, 1, new_servicer="bob_kf")  # Bob picks the customer up in the client
    await pull(dep)
    held = await dep.store.tickets.get(ticket.id)
    assert (held.manager_id, held.meta["kf_state"], held.meta["kf_servicer"]) == ("bob", 3, "bob_kf")
    assert states(dep) == [2]


async def test_a_customer_picked_up_from_the_pool_in_the_wecom_client_is_claimed_for_that_manager(wecom):
    dep, fake = wecom, wecom.fake
    staff = await setup(dep)
    ticket = await queued_ticket(dep)
    fake.add_session_change(KF, USER, 1, new_servicer="alice_kf")
    await pull(dep)
    held = await dep.store.tickets.get(ticket.id)
    assert (held.state, held.manager_id, held.meta["kf_servicer"]) == ("active", "alice", "alice_kf")
    assert "claimed" in staff.kinds() and states(dep) == [2]  # WeCom moved it: no trans of ours
    joined = [m for m in await transcript(dep) if m.text == prompts.text("zh", "manager_joined", name="张工")]
    assert [m.status for m in joined] == ["failed"]  # state 3: recorded, not sent
    assert len(fake.calls_to(SEND)) == len(kf_texts(dep))


async def test_a_session_ended_in_the_client_without_a_msg_code_resolves_and_sends_nothing(wecom):
    dep, fake = wecom, wecom.fake
    ticket, sends = await claimed_by_alice(dep)
    fake.set_state(KF, USER, 4)
    fake.add_kf_message(KF, USER, origin=4, msgtype="event", event={
        "event_type": "session_status_change", "change_type": 3, "old_servicer_userid": "alice_kf"})
    await pull(dep)
    assert (await dep.store.tickets.get(ticket.id)).state == "resolved"
    assert fake.sent("kf_event") == [] and fake.calls_to(SEND)[sends:] == [] and states(dep) == [2, 3]
    assert [m.status for m in await closing_notices(dep)] == ["failed", "failed"]  # recorded as not delivered
