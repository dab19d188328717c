"""Handoff to technology managers: intake, queue, claim, relay, resolve, rating, timers."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import prompts
from bot.errors import HandoffError
from bot.llm import make_chat_model
from bot.settings import load_settings
from bot.records import ManagerRecord
from bot.types import IncomingMessage, Role
from tests.fakes.channel import RecordingChannel
from tests.fakes.engine import make_engine
from tests.fakes.staff import RecordingStaff

ALICE = ManagerRecord("alice", "张工", ("专利", "海洋"), telegram_user_id="111")
BOB = ManagerRecord("bob", "李工", ("人工智能",), telegram_user_id="222")


class Desk:
    """A user on the web chat, an engine with a recording channel and a recording staff channel."""

    def __init__(self, store, **settings):
        self.store = store
        self.channel = RecordingChannel()
        self.engine = make_engine(store, **settings)
        self.engine.register(self.channel)
        self.staff = RecordingStaff()
        self.engine.desk.add_staff(self.staff)
        self.n = 0

    async def say(self, text: str, chat: str = "u1"):
        self.n += 1
        return await self.engine.handle(IncomingMessage("web", chat, chat, text, channel_message_id=f"{chat}-{self.n}"))

    def texts(self) -> list[str]:
        return [r.text for _, r in self.channel.sent]

    async def ticket(self, chat: str = "u1"):
        conv = await self.store.find_conversation("web", chat)
        return (await self.store.tickets.list())[0] if conv else None


@pytest.fixture
async def desk(store):
    for m in (ALICE, BOB):
        await store.tickets.upsert_manager(m)
    return Desk(store)


async def fill_intake(d: Desk) -> None:
    for answer in ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678", "一项海藻提取专利想授权给企业"):
        await d.say(answer)


async def test_human_starts_an_intake_that_queues_a_ticket_with_every_field(desk):
    out = await desk.say("/human")
    assert out.status == "handoff"
    assert desk.texts()[:2] == [prompts.text("zh", "intake_notice"), prompts.text("zh", "ask_kind")]
    await fill_intake(desk)
    ticket = await desk.ticket()
    assert ticket.state == "waiting" and ticket.fields == {
        "kind": "licence", "field": "海洋生物", "organisation": "青岛某某科技有限公司", "contact_name": "王先生",
        "contact": "13812345678", "description": "一项海藻提取专利想授权给企业"}
    assert desk.texts()[-1] == prompts.text("zh", "queued", ticket=ticket.id)
    opened = desk.staff.events[-1]
    assert opened.kind == "opened" and "海洋生物" in opened.card and "13812345678" in opened.card
    assert [m.id for m in opened.managers] == ["alice"]  # 海洋 matches Alice's specialties


async def test_a_detected_request_prefills_what_it_already_says(desk):
    await desk.say("我们公司有一项发明专利想转化，能帮我联系技术经理人吗？")
    ticket = await desk.ticket()
    assert ticket.state == "intake" and ticket.fields["kind"] == "transfer"
    assert "发明专利想转化" in ticket.fields["description"]
    assert desk.texts()[-1] == prompts.text("zh", "ask_field")


async def test_fields_can_be_skipped_and_a_bad_contact_is_asked_again(desk):
    await desk.say("转人工")
    for answer in ("跳过", "skip", "-", "王先生", "call me maybe"):
        await desk.say(answer)
    assert desk.texts()[-1] == prompts.text("zh", "invalid_contact")
    await desk.say("wang@example.com")
    ticket = await desk.ticket()
    assert ticket.fields["contact"] == "wang@example.com" and ticket.fields["kind"] is None


async def test_the_user_can_cancel_the_intake_and_the_assistant_answers_again(desk):
    await desk.say("转人工")
    await desk.say("不用了")
    assert (await desk.ticket()).state == "cancelled"
    out = await desk.say("青岛计划建设多少家概念验证平台？")
    assert out.status == "answered" and "60家" in desk.texts()[-1]


async def test_while_waiting_a_note_reaches_the_managers_and_the_user_is_reminded_of_the_ticket(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    out = await desk.say("专利号是ZL202410000000.1")
    assert out.status == "handoff" and out.answer is None
    assert desk.staff.events[-1].kind == "user_message" and "ZL2024" in desk.staff.events[-1].text
    assert desk.texts()[-1] == prompts.text("zh", "waiting_reminder", ticket=ticket.id)
    assert [b.action for b in desk.channel.sent[-1][1].buttons] == ["say:取消"]


async def test_a_policy_question_while_waiting_is_answered_after_a_one_line_reminder_and_reaches_the_managers(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    out = await desk.say("青岛计划建设多少家概念验证平台？")
    assert out.status == "answered" and "60家" in desk.texts()[-1]
    assert desk.texts()[-2] == prompts.text("zh", "waiting_question_reminder", ticket=ticket.id)
    assert desk.staff.events[-1].kind == "user_message" and "概念验证" in desk.staff.events[-1].text
    assert (await desk.store.tickets.get(ticket.id)).state == "waiting"


@pytest.mark.parametrize("words", ["不用了", "/cancel", "取消"])
async def test_a_waiting_user_cancels_the_ticket_with_words_or_the_command_and_the_managers_are_told(desk, words):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    out = await desk.say(words)
    assert out.status == "handoff"
    assert (await desk.store.tickets.get(ticket.id)).state == "cancelled"
    assert desk.texts()[-1] == prompts.text("zh", "ticket_cancelled", ticket=ticket.id)
    assert desk.staff.events[-1].kind == "cancelled"
    out = await desk.say("青岛计划建设多少家概念验证平台？")
    assert out.status == "answered" and "60家" in desk.texts()[-1]


async def test_the_cancel_button_works_at_every_intake_step(desk):
    for step in range(6):
        chat = f"c{step}"
        await desk.say("转人工", chat=chat)
        for answer in ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678")[:step]:
            await desk.say(answer, chat=chat)
        sent = desk.channel.sent[-1][1]
        assert "say:取消" in [b.action for b in sent.buttons]
        assert await desk.engine.button("web", chat, chat, "say:取消") is True
        assert desk.texts()[-1] == prompts.text("zh", "intake_cancelled")
        conv = await desk.store.find_conversation("web", chat)
        assert (await desk.store.tickets.latest_for(conv.id)).state == "cancelled"


async def test_the_kind_question_offers_seven_choices_skip_and_cancel_and_a_pressed_choice_is_the_answer(desk):
    await desk.say("/human")
    buttons = desk.channel.sent[-1][1].buttons
    assert [b.action for b in buttons] == [f"say:{n}" for n in range(1, 8)] + ["say:跳过", "say:取消"]
    assert buttons[1].label == "2 " + prompts.text("zh", "kind_licence")
    await desk.engine.button("web", "u1", "u1", buttons[1].action)
    assert (await desk.ticket()).fields["kind"] == "licence"
    assert desk.texts()[-1] == prompts.text("zh", "ask_field")


async def test_new_chat_while_waiting_cancels_the_ticket_and_forgets_the_context(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    await desk.say("新对话")
    assert (await desk.store.tickets.get(ticket.id)).state == "cancelled"
    assert desk.texts()[-2:] == [prompts.text("zh", "ticket_cancelled", ticket=ticket.id),
                                 prompts.text("zh", "context_reset")]
    out = await desk.say("/cancel")
    assert out.status == "command" and desk.texts()[-1] == prompts.text("zh", "nothing_to_cancel")


async def test_a_typed_digit_after_the_service_rates_the_ticket_and_later_digits_are_questions(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    await desk.engine.desk.claim(ticket.id, "alice")
    await desk.engine.desk.resolve(ticket.id, "alice")
    out = await desk.say("4分")
    assert out.status == "command" and desk.texts()[-1] == prompts.text("zh", "rate_thanks")
    assert (await desk.store.tickets.get(ticket.id)).rating == 4
    out = await desk.say("5")
    assert out.status != "command" and (await desk.store.tickets.get(ticket.id)).rating == 4


async def test_with_no_roster_the_user_is_told_when_staff_will_look_and_the_ticket_is_flagged(store):
    d = Desk(store, handoff_office_hours="mon-sun 00:00-00:01")
    await d.say("转人工")
    await fill_intake(d)
    ticket = await d.ticket()
    assert ticket.meta["unstaffed"] == "no_roster"
    text = d.texts()[-1]
    assert text.startswith(f"已为您登记（工单 #{ticket.id}）。目前没有技术经理人在线值守")
    assert "周一至周日 00:00-00:01" in text and "正在联系" not in text


def _minute_twelve_hours_away(tz: str) -> str:
    """A one-minute daily window that starts 12 hours from now: nobody is on duty during the test."""
    start = (datetime.now(ZoneInfo(tz)) + timedelta(hours=12)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=1) if start.minute == 59 else timedelta(0)
    return f"{start:%H:%M}-{start + timedelta(minutes=1):%H:%M}"


async def test_with_a_roster_off_duty_the_user_is_told_the_hours_and_the_ticket_is_flagged(store):
    d = Desk(store)
    window = _minute_twelve_hours_away(d.engine.settings.handoff_timezone)
    await store.tickets.upsert_manager(ManagerRecord("night", "夜班", working_hours=f"mon-sun {window}"))
    await d.say("转人工")
    await fill_intake(d)
    ticket = await d.ticket()
    assert ticket.meta["unstaffed"] == "off_hours"
    assert f"非工作时间（技术经理人工作时间：周一至周日 {window}）" in d.texts()[-1]


async def test_an_admin_claims_replies_and_cancels_any_ticket_without_being_on_the_roster(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    await desk.engine.desk.claim(ticket.id, "console:root", staff_name="root")
    assert desk.texts()[-1] == prompts.text("zh", "manager_joined", name="root")
    await desk.engine.desk.reply(ticket.id, "console:root", "您好")
    await desk.engine.desk.transfer(ticket.id, "console:root", "alice")
    await desk.engine.desk.reply(ticket.id, "console:ops", "补充一句", any_holder=True)
    await desk.engine.desk.cancel(ticket.id, "console:ops")
    assert (await desk.store.tickets.get(ticket.id)).state == "cancelled"
    assert desk.texts()[-1] == prompts.text("zh", "ticket_cancelled_by_staff", ticket=ticket.id)
    assert desk.staff.events[-1].kind == "cancelled"


async def test_claim_reply_resolve_and_rate_then_the_assistant_is_back(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    await desk.engine.desk.claim(ticket.id, "alice")
    assert desk.texts()[-1] == prompts.text("zh", "manager_joined", name="张工")
    await desk.engine.desk.reply(ticket.id, "alice", "您好，我是张工，请问专利号是多少？")
    chat, reply = desk.channel.sent[-1]
    assert (chat, reply.role, reply.text) == ("u1", Role.MANAGER, "您好，我是张工，请问专利号是多少？")
    await desk.say("ZL202410000000.1")
    assert desk.staff.events[-1].text == "ZL202410000000.1"
    await desk.engine.desk.note(ticket.id, "alice", "客户很配合")
    await desk.engine.desk.resolve(ticket.id, "alice", "matched with a company")
    assert desk.texts()[-2:] == [prompts.text("zh", "back_to_assistant"), prompts.text("zh", "rate_request")]
    stars = desk.channel.sent[-1][1].buttons
    assert await desk.engine.button("web", "u1", "u1", stars[4].action) is True
    done = await desk.store.tickets.get(ticket.id)
    assert (done.state, done.rating, done.outcome) == ("resolved", 5, "matched with a company")
    assert done.first_response_at and done.claimed_at and done.resolved_at
    assert [e.action for e in await desk.store.tickets.events(ticket.id)] == [
        "opened", "claimed", "note", "resolved", "rated"]
    out = await desk.say("青岛计划建设多少家概念验证平台？")
    assert out.status == "answered"
    transcript = await desk.store.messages((await desk.store.find_conversation("web", "u1")).id)
    assert "manager" in [m.role for m in transcript] and all("客户很配合" not in m.text for m in transcript)


async def test_two_managers_claiming_the_same_ticket_at_once_have_one_winner(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    results = await asyncio.gather(desk.engine.desk.claim(ticket.id, "alice"),
                                   desk.engine.desk.claim(ticket.id, "bob"), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["HandoffError", "TicketRecord"]
    assert desk.texts().count(prompts.text("zh", "manager_joined", name="张工")) + \
        desk.texts().count(prompts.text("zh", "manager_joined", name="李工")) == 1


async def test_a_manager_cannot_reply_to_a_ticket_someone_else_holds(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    await desk.engine.desk.claim(ticket.id, "alice")
    with pytest.raises(HandoffError):
        await desk.engine.desk.reply(ticket.id, "bob", "我来")
    moved = await desk.engine.desk.transfer(ticket.id, "alice", "bob")
    assert moved.manager_id == "bob" and desk.texts()[-1] == prompts.text("zh", "manager_transferred", name="李工")


async def test_the_assistant_never_sends_over_a_human_even_when_a_ticket_appears_mid_answer(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    conv = await desk.store.find_conversation("web", "u1")
    before = len(desk.channel.sent)
    from bot.types import Reply
    reply = await desk.engine.outbox.deliver(conv, Reply("a late bot answer"))
    assert len(desk.channel.sent) == before
    assert (await desk.store.get_message(reply.message_id)).status == "suppressed"


async def test_unclaimed_tickets_are_renotified_then_expire_and_idle_intakes_are_cancelled(store):
    await store.tickets.upsert_manager(ALICE)
    d = Desk(store, handoff_renotify_minutes=5, handoff_expire_hours=1, handoff_intake_timeout_minutes=10)
    await d.say("转人工", chat="a")
    await fill_intake_for(d, "a")
    await d.say("转人工", chat="b")
    now = datetime.now(timezone.utc)
    await d.engine.desk.tick(now + timedelta(minutes=6))
    assert d.staff.kinds()[-1] == "renotify" and [m.id for m in d.staff.events[-1].managers] == ["alice"]
    assert sorted(t.state for t in await store.tickets.list()) == ["intake", "waiting"]
    await d.engine.desk.tick(now + timedelta(minutes=11))
    assert sorted(t.state for t in await store.tickets.list()) == ["cancelled", "waiting"]
    await d.engine.desk.tick(now + timedelta(hours=2))
    assert sorted(t.state for t in await store.tickets.list()) == ["cancelled", "expired"]
    assert d.texts()[-1] == prompts.text("zh", "ticket_expired", ticket=(await store.tickets.list(("expired",)))[0].id)


async def fill_intake_for(d: Desk, chat: str) -> None:
    for answer in ("1", "新材料", "某大学", "赵老师", "zhao@example.edu.cn", "一种新型涂层材料"):
        await d.say(answer, chat=chat)


async def test_outside_working_hours_the_user_is_told_when_to_expect_a_reply(store):
    await store.tickets.upsert_manager(ManagerRecord("night", "夜班", working_hours="mon 00:00-00:01"))
    d = Desk(store)
    await d.say("转人工")
    await fill_intake(d)
    last = d.texts()[-1]
    assert "非工作时间" in last and "00:00" in last


async def test_a_restart_while_tickets_wait_loses_none(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    restarted = make_engine(desk.store)
    channel = RecordingChannel()
    restarted.register(channel)
    staff = RecordingStaff()
    restarted.desk.add_staff(staff)
    out = await restarted.handle(IncomingMessage("web", "u1", "u1", "还在吗？", channel_message_id="after"))
    assert out.status == "handoff" and staff.events[-1].kind == "user_message"
    assert (await restarted.desk.claim(ticket.id, "alice")).state == "active"


async def test_in_llm_mode_the_intake_asks_only_what_the_model_could_not_extract(store):
    from tests.fakes.openai_server import FakeOpenAI

    await store.tickets.upsert_manager(ALICE)
    async with FakeOpenAI(api_key="k") as fake:
        s = load_settings(openai_base_url=fake.base_url, openai_api_key="k", llm_max_retries=0)
        fake.script(['{"kind": "pilot", "field": "海洋装备", "organisation": "某船舶公司", "description": "需要中试平台"}'])
        d = Desk(store)
        d.engine = make_engine(store, settings=s, llm=make_chat_model(s))
        d.engine.register(d.channel)
        await d.say("我们是某船舶公司，海洋装备样机需要中试平台，想找人对接")
        ticket = await d.ticket()
        assert ticket.fields["kind"] == "pilot" and ticket.fields["organisation"] == "某船舶公司"
        assert d.texts()[-1] == prompts.text("zh", "ask_contact_name")


async def test_only_the_holder_may_resolve_or_pass_an_active_ticket_and_ratings_reach_the_staff(desk):
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    await desk.engine.desk.claim(ticket.id, "alice")
    with pytest.raises(HandoffError, match="held by alice"):
        await desk.engine.desk.resolve(ticket.id, "bob")
    with pytest.raises(HandoffError):
        await desk.engine.desk.transfer(ticket.id, "bob", "bob")
    await desk.engine.desk.resolve(ticket.id, "alice")
    assert await desk.engine.button("web", "u1", "u1", f"rate:{ticket.id}:4")
    assert desk.staff.events[-1].kind == "rated" and desk.staff.events[-1].text == "4"


async def test_the_managers_summary_is_the_conversation_before_the_request_not_the_intake(desk):
    await desk.say("青岛计划建设多少家概念验证平台？")
    await desk.say("转人工")
    await fill_intake(desk)
    ticket = await desk.ticket()
    assert "概念验证平台" in ticket.summary and "青岛某某科技有限公司" not in ticket.summary
