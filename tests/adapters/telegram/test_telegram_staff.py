"""Technology managers in the Telegram staff supergroup: one forum topic per ticket, Claim, relay both
ways, /note, /transfer, /resolve, a deleted topic recreated; real PTB against FakeTelegram, a real
Engine and Store, Telegram and web-chat users."""
from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from telegram import Chat, Message, Update

import prompts
from adapters.telegram import render
from adapters.telegram.ordering import StaffTopicsInOrder
from adapters.telegram.staff_actions import parse_command
from adapters.telegram.topics import topic_name
from bot.records import ManagerRecord, TicketRecord
from bot.types import IncomingMessage, Role, utcnow
from tests.fakes.channel import RecordingChannel

SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
USER = 4242
ALICE = ManagerRecord("alice", "张工", ("专利", "海洋"), telegram_user_id="111")
BOB = ManagerRecord("bob", "李工", ("人工智能",), telegram_user_id="222")
STRANGER = 333
INTAKE = ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678", "一项海藻提取专利想授权给企业")
QUESTION = "青岛计划建设多少家概念验证平台？"


@pytest.fixture
async def roster(store):
    for manager in (ALICE, BOB):
        await store.tickets.upsert_manager(manager)


async def eventually(check, timeout: float = 5.0) -> None:
    """Wait until check() (a plain or an async function) is true."""
    deadline = time.monotonic() + timeout
    while not await _value(check()):
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


async def _value(result):
    return await result if inspect.isawaitable(result) else result


def message_id(fake, chat_id: int, text: str) -> int:
    """The id of the bot's last message with this text in the chat."""
    return max(mid for (chat, mid), m in fake.messages.items() if chat == chat_id and m.get("text") == text)


def texts(fake, chat_id: int) -> list[str]:
    return [m["text"] for m in fake.sent_messages(chat_id)]


def staff_says(fake, chat_id: int, fragment: str, count: int = 1):
    """Wait for count messages in the staff chat containing fragment."""
    return fake.wait_for("sendMessage", count=count,
                         predicate=lambda p: p["chat_id"] == chat_id and fragment in p["text"])


def phrase(key: str, **fields) -> str:
    return render.phrase("zh", key).format(**fields)


class Staff:
    """The staff supergroup as managers see it: topics, cards, buttons, their own messages."""

    def __init__(self, fake, chat_id: int):
        self.fake, self.chat = fake, chat_id

    def topic(self, ticket) -> int:
        return int(ticket.meta["tg_topic"])

    def card(self, ticket) -> dict:
        return self.fake.messages[(self.chat, int(ticket.meta["tg_card"]))]

    def buttons(self, ticket) -> list[str]:
        markup = self.card(ticket).get("reply_markup") or {"inline_keyboard": []}
        return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]

    def press(self, ticket, user_id: int, action: str = "claim", name: str = "Manager") -> dict:
        return self.fake.callback_query(self.chat, user_id, f"tk:{action}:{ticket.id}",
                                        int(ticket.meta["tg_card"]), first_name=name)

    def write(self, thread: int, user_id: int, text: str, name: str = "Manager") -> dict:
        return self.fake.user_message(self.chat, user_id, text, chat_type="supergroup", first_name=name,
                                      message_thread_id=thread, is_topic_message=True)

    async def toast(self, query: dict) -> str | None:
        qid = query["callback_query"]["id"]
        [call] = await self.fake.wait_for("answerCallbackQuery",
                                          predicate=lambda p: p["callback_query_id"] == qid)
        return call.params.get("text")


@pytest.fixture
def staff(fake, staff_channel) -> Staff:
    return Staff(fake, staff_channel.staff.chat_id)


async def only_ticket(store):
    [ticket] = await store.tickets.list()
    return ticket


# -- a Telegram user ----------------------------------------------------------------------


async def tg_say(fake, engine, text: str, replies: int = 1) -> list[str]:
    """Once the previous message is fully handled, the Telegram user sends text and waits for that
    many bot messages in the private chat."""
    assert await engine.drain(5)
    before = len(fake.sent_messages(USER))
    fake.user_message(USER, USER, text)
    await fake.wait_for("sendMessage", count=before + replies, predicate=lambda p: p["chat_id"] == USER)
    return texts(fake, USER)[before:]


async def test_a_telegram_user_is_served_from_a_staff_topic_and_then_the_assistant_answers_again(
        fake, staff, store, roster, records, engine):
    assert await tg_say(fake, engine, "/human", 2) == [prompts.text("zh", "intake_notice"), prompts.text("zh", "ask_kind")]
    for answer in INTAKE:
        await tg_say(fake, engine, answer)
    ticket = await only_ticket(store)
    assert texts(fake, USER)[-1] == prompts.text("zh", "queued", ticket=ticket.id)

    [topic] = await fake.wait_for("createForumTopic")
    assert topic.params["name"] == f"#{ticket.id} 专利许可 · 海洋生物"
    await eventually(lambda: _has_topic(store, ticket.id))
    ticket = await only_ticket(store)
    card = staff.card(ticket)
    assert card["message_thread_id"] == staff.topic(ticket) and (staff.chat, staff.topic(ticket)) in fake.topics
    assert "海洋生物" in card["text"] and "13812345678" in card["text"] and "渠道：telegram" in card["text"]
    assert {"type": "text_link", "url": "tg://user?id=111"} in [
        {k: e.get(k) for k in ("type", "url")} for e in card.get("entities", [])]  # Alice is notified
    assert staff.buttons(ticket) == [f"tk:claim:{ticket.id}"]

    assert await staff.toast(staff.press(ticket, 111, name="张工")) == phrase("staff_toast_claimed", ticket=ticket.id)
    await fake.wait_for("sendMessage", predicate=lambda p: p["text"] == prompts.text("zh", "manager_joined", name="张工"))
    assert staff.buttons(ticket) == [f"tk:resolve:{ticket.id}", f"tk:back:{ticket.id}"]

    staff.write(staff.topic(ticket), 111, "您好，我是张工，请问专利号是多少？", "张工")
    await fake.wait_for("sendMessage", predicate=lambda p: p["chat_id"] == USER and "请问专利号" in p["text"])
    fake.user_message(USER, USER, "ZL202410000000.1")
    await staff_says(fake, staff.chat, "👤 用户：ZL202410000000.1")

    staff.write(staff.topic(ticket), 111, "/resolve 已对接企业", "张工")
    rating = await fake.wait_for("sendMessage", predicate=lambda p: p["text"] == prompts.text("zh", "rate_request"))
    assert prompts.text("zh", "back_to_assistant") in texts(fake, USER)
    stars = [b["callback_data"] for row in rating[0].params["reply_markup"]["inline_keyboard"] for b in row]
    assert stars == [f"rate:{ticket.id}:{n}" for n in range(1, 6)]
    await staff_says(fake, staff.chat, "已结束工单")
    await fake.wait_for("closeForumTopic")
    await eventually(lambda: _no_buttons(staff, store, ticket.id))

    fake.callback_query(USER, USER, stars[4], message_id(fake, USER, prompts.text("zh", "rate_request")))
    await fake.wait_for("sendMessage", predicate=lambda p: p["text"] == prompts.text("zh", "rate_thanks"))
    done = await store.tickets.get(ticket.id)
    assert (done.state, done.outcome, done.rating, done.manager_id) == ("resolved", "已对接企业", 5, "alice")

    [answer] = await tg_say(fake, engine, QUESTION)
    assert "60家左右" in answer
    user_side = await records.messages(USER)
    assert [m.text for m in user_side if m.role == "manager"] == ["您好，我是张工，请问专利号是多少？"]
    assert await store.find_conversation("telegram", str(staff.chat)) is None  # the staff group is no user


async def _has_topic(store, ticket_id: int) -> bool:
    return "tg_card" in (await store.tickets.get(ticket_id)).meta


async def _no_buttons(staff: Staff, store, ticket_id: int) -> bool:
    return staff.buttons(await store.tickets.get(ticket_id)) == []


# -- a web-chat user ----------------------------------------------------------------------------


class WebUser:
    """A web-chat user talking to the engine; what the web channel was asked to deliver."""

    def __init__(self, engine, chat: str = "w1"):
        self.engine, self.chat, self.n = engine, chat, 0
        self.channel = RecordingChannel(name="web")
        engine.register(self.channel)

    async def say(self, text: str):
        self.n += 1
        return await self.engine.handle(IncomingMessage("web", self.chat, self.chat, text,
                                                        channel_message_id=f"{self.chat}-{self.n}"))

    def received(self, role: Role | None = None) -> list[str]:
        return [r.text for _, r in self.channel.sent if role in (None, r.role)]

    async def queued(self, store):
        await self.say("/human")
        for answer in INTAKE:
            await self.say(answer)
        return await only_ticket(store)


async def test_a_web_user_is_served_from_a_staff_topic_after_one_of_two_racing_claims_wins(
        fake, staff, store, roster, engine):
    web = WebUser(engine)
    ticket = await web.queued(store)
    assert web.received()[-1] == prompts.text("zh", "queued", ticket=ticket.id)
    assert "渠道：web" in staff.card(ticket)["text"]
    thread = staff.topic(ticket)

    staff.write(thread, 111, "我先看看", "张工")
    await staff_says(fake, staff.chat, phrase("staff_claim_first", ticket=ticket.id))
    first, second = staff.press(ticket, 111, name="张工"), staff.press(ticket, 222, name="李工")
    toasts = await asyncio.gather(staff.toast(first), staff.toast(second))
    holder = (await store.tickets.get(ticket.id)).manager_id
    winner, loser = (ALICE, BOB) if holder == "alice" else (BOB, ALICE)
    won = phrase("staff_toast_claimed", ticket=ticket.id)
    taken = phrase("staff_taken", ticket=ticket.id, name=winner.name)
    assert sorted(toasts) == sorted([won, taken])
    assert web.received(Role.SYSTEM).count(prompts.text("zh", "manager_joined", name=winner.name)) == 1
    assert not any(prompts.text("zh", "manager_joined", name=loser.name) == t for t in web.received())

    staff.write(thread, int(loser.telegram_user_id), "我来回答吧", loser.name)
    await staff_says(fake, staff.chat, phrase("staff_held_by_other", ticket=ticket.id, name=winner.name))
    staff.write(thread, int(winner.telegram_user_id), "您好，专利号是多少？", winner.name)
    staff.write(thread, int(winner.telegram_user_id), "/note 客户很配合，优先处理", winner.name)
    await staff_says(fake, staff.chat, phrase("staff_note_saved"))
    await eventually(lambda: web.received(Role.MANAGER) == ["您好，专利号是多少？"])

    staff.write(thread, int(winner.telegram_user_id), f"/transfer {loser.id}", winner.name)
    await staff_says(fake, staff.chat, "已将工单")
    assert web.received()[-1] == prompts.text("zh", "manager_transferred", name=loser.name)
    staff.write(thread, int(loser.telegram_user_id), "我是新的技术经理人", loser.name)
    staff.write(thread, int(loser.telegram_user_id), "/resolve", loser.name)
    await eventually(lambda: prompts.text("zh", "rate_request") in web.received())

    assert web.received(Role.MANAGER) == ["您好，专利号是多少？", "我是新的技术经理人"]
    assert all("客户很配合" not in text for text in web.received())
    assert prompts.text("zh", "back_to_assistant") in web.received()
    done = await store.tickets.get(ticket.id)
    assert (done.state, done.manager_id) == ("resolved", loser.id)
    assert [e.action for e in await store.tickets.events(ticket.id)] == [
        "opened", "claimed", "note", "transferred", "resolved"]
    out = await web.say(QUESTION)
    assert out.status == "answered" and "60家" in web.received()[-1]


# -- the staff group is no user chat; deleted topics ---------------------------------------------


@SQLITE_ONLY
async def test_non_roster_users_are_refused_and_nothing_in_the_staff_group_reaches_the_assistant(
        fake, staff, store, roster, engine):
    ticket = await WebUser(engine).queued(store)
    fake.user_message(staff.chat, 111, QUESTION, chat_type="supergroup")  # the General topic
    fake.user_message(staff.chat, STRANGER, "/start", chat_type="supergroup")
    staff.write(staff.topic(ticket), STRANGER, "我来帮他", "路人")
    await staff_says(fake, staff.chat, phrase("staff_not_on_roster"))
    assert await staff.toast(staff.press(ticket, STRANGER, name="路人")) == phrase("staff_not_on_roster")
    staff.write(staff.topic(ticket), 111, "/claim", "张工")
    await staff_says(fake, staff.chat, "✅ 张工 已认领")
    assert (await store.tickets.get(ticket.id)).manager_id == "alice"
    assert await store.find_conversation("telegram", str(staff.chat)) is None
    staff_texts = texts(fake, staff.chat)
    assert not any("60家" in t for t in staff_texts) and prompts.text("zh", "welcome") not in staff_texts
    assert len([c for c in fake.sent if c.method == "answerCallbackQuery"]) == 1


@SQLITE_ONLY
async def test_a_deleted_topic_is_recreated_with_its_card_and_the_mapping_follows(fake, staff, store, roster, engine):
    web = WebUser(engine)
    ticket = await web.queued(store)
    old = staff.topic(ticket)
    fake.delete_topic(staff.chat, old)
    await web.say("请问还要多久？")
    [_, again] = await fake.wait_for("createForumTopic", count=2)
    ticket = await store.tickets.get(ticket.id)
    new = staff.topic(ticket)
    assert new != old and again.params["name"] == f"#{ticket.id} 专利许可 · 海洋生物"
    assert staff.card(ticket)["message_thread_id"] == new and staff.buttons(ticket) == [f"tk:claim:{ticket.id}"]
    assert phrase("staff_recreated", ticket=ticket.id) in staff.card(ticket)["text"]
    [relayed] = await staff_says(fake, staff.chat, "👤 用户：请问还要多久？")
    assert relayed.params["message_thread_id"] == new
    staff.write(new, 111, "/claim", "张工")
    await eventually(lambda: _state_is(store, ticket.id, "active"))


async def _state_is(store, ticket_id: int, state: str) -> bool:
    return (await store.tickets.get(ticket_id)).state == state


@SQLITE_ONLY
async def test_reminders_and_what_managers_do_elsewhere_show_in_the_topic(fake, staff, store, roster, engine):
    ticket = await WebUser(engine).queued(store)
    await engine.desk.tick(utcnow() + timedelta(minutes=11))
    [reminder] = await staff_says(fake, staff.chat, f"⏰ 工单 #{ticket.id} 仍在等待认领（第 2 次通知）")
    assert 'href="tg://user?id=111"' in reminder.params["text"]
    await engine.desk.claim(ticket.id, "alice")  # e.g. from the console
    await engine.desk.reply(ticket.id, "alice", "您好，我在控制台回复您")
    await engine.desk.note(ticket.id, "alice", "需要核实专利状态")
    await engine.desk.hand_back(ticket.id, "alice")
    lines = texts(fake, staff.chat)[-4:]
    assert lines == [phrase("staff_claimed", name="张工", ticket=ticket.id),
                     phrase("staff_reply", name="张工", text="您好，我在控制台回复您"),
                     phrase("staff_note", name="张工", text="需要核实专利状态"),
                     phrase("staff_handed_back", name="张工", ticket=ticket.id)]
    assert staff.buttons(await store.tickets.get(ticket.id)) == []
    [closed] = await fake.wait_for("closeForumTopic")
    assert closed.params["message_thread_id"] == staff.topic(ticket)


def test_topics_are_named_after_the_need_and_topic_commands_are_read_as_managers_write_them():
    ticket = TicketRecord(12, 1, "waiting", {"kind": "licence", "field": "海洋生物"}, None, "", "/human", "zh",
                          None, utcnow())
    assert topic_name(ticket, "zh") == "#12 专利许可 · 海洋生物"
    assert topic_name(replace(ticket, fields={}), "zh") == "#12 转人工"
    assert parse_command("/resolve@fake_qd_bot 已对接企业", "fake_qd_bot") == ("resolve", "已对接企业")
    assert parse_command("/claim@other_bot", "fake_qd_bot") == ("", "")
    assert parse_command("/path/to/file 是什么", "fake_qd_bot") is None
    assert parse_command("专利号是多少", "fake_qd_bot") is None


async def test_one_staff_topics_messages_are_handled_in_arrival_order_while_other_updates_run_concurrently():
    processor, done = StaffTopicsInOrder(-100), []

    async def handled(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append(name)

    def update(chat: Chat, thread: int | None) -> Update:
        return Update(len(done), message=Message(1, datetime.now(), chat, message_thread_id=thread))
    staff, private = Chat(-100, Chat.SUPERGROUP), Chat(USER, Chat.PRIVATE)
    await asyncio.gather(processor.process_update(update(staff, 7), handled("reply", 0.05)),
                         processor.process_update(update(staff, 7), handled("/resolve", 0)),
                         processor.process_update(update(private, None), handled("private", 0.01)),
                         processor.process_update(update(staff, 8), handled("other topic", 0)))
    assert done == ["other topic", "private", "reply", "/resolve"] and processor._locks == {}
