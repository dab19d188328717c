"""The Telegram channel in long-polling mode: real PTB against FakeTelegram, a real Engine and Store."""
from __future__ import annotations

import asyncio
import time

import pytest

import prompts
from adapters.telegram import render
from tests.fakes import telegram_objects as tg

# Tests whose behaviour does not depend on the database backend run on SQLite only (time budget).
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)

USER = 4242
GROUP = -1001234567890
QUESTION = "青岛计划建设多少家概念验证平台？"


def buttons(params: dict) -> list[dict]:
    return [b for row in params["reply_markup"]["inline_keyboard"] for b in row]


def last_bot_message(fake, chat_id: int) -> int:
    return max(mid for (chat, mid), m in fake.messages.items() if chat == chat_id and m["from"]["id"] == fake.me["id"])


async def requested(fake, method: str, count: int = 1) -> list:
    """Calls of method whatever the fake answered (FakeTelegram does not implement every method)."""
    await eventually(lambda: _at_least(fake, method, count))
    return [c for c in fake.calls if c.method == method]


async def _at_least(fake, method: str, count: int) -> bool:
    return len([c for c in fake.calls if c.method == method]) >= count


async def settled(fake, engine, chat_id: int, **kw) -> None:
    """Send /new@bot and wait for its reply: every update queued before it has been handled."""
    assert await engine.drain(5)
    before = len(fake.sent_messages())
    fake.user_message(chat_id, USER, "/new@fake_qd_bot", **kw)
    await fake.wait_for("sendMessage", count=before + 1)
    await asyncio.sleep(0.05)


async def eventually(check, timeout: float = 5.0) -> None:
    """Wait until the async check() is true."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.05)


async def test_a_private_question_gets_a_cited_html_answer_with_feedback_and_contact_buttons(channel, fake):
    fake.user_message(USER, USER, QUESTION)
    [call] = await fake.wait_for("sendMessage")
    answer = call.params
    assert answer["parse_mode"] == "HTML" and "60家左右" in answer["text"]
    assert "<blockquote>来源：\n[1] 《" in answer["text"]
    assert [b["callback_data"].split(":")[:2] for b in buttons(answer)] == [["fb", "up"], ["fb", "down"], ["human"]]
    assert [b["text"] for b in buttons(answer)][-1] == prompts.text("zh", "button_human")
    assert await fake.wait_for("sendChatAction", predicate=lambda p: p["action"] == "typing")


async def test_the_same_update_delivered_twice_is_answered_once(channel, fake, records, engine):
    update = fake.user_message(USER, USER, QUESTION)
    fake.push_update(dict(update))  # same update_id, fetched in the same batch
    await fake.wait_for("sendMessage")
    await settled(fake, engine, USER)
    assert [m["text"] for m in fake.sent_messages(USER)].count(fake.sent_messages(USER)[0]["text"]) == 1
    assert [m.text for m in await records.messages(USER, "user")] == [QUESTION, "/new"]


async def test_a_group_message_is_answered_only_when_it_mentions_or_replies_to_the_bot(channel, fake, records, engine):
    fake.user_message(GROUP, USER, QUESTION, chat_type="supergroup")
    mention = "@fake_qd_bot " + QUESTION
    fake.user_message(GROUP, USER, mention, chat_type="supergroup",
                      entities=[{"type": "mention", "offset": 0, "length": len("@fake_qd_bot")}])
    [answer] = await fake.wait_for("sendMessage")
    assert "60家左右" in answer.params["text"]
    assert answer.params["reply_parameters"]["message_id"] == 2  # quotes the question it answers
    assert await engine.drain(5)
    fake.user_message(GROUP, USER, "那省级以上中试验证平台呢？", chat_type="supergroup", reply_to=1)  # not the bot's
    fake.user_message(GROUP, USER, "人才总量是多少？", chat_type="supergroup",
                      reply_to=last_bot_message(fake, GROUP))
    await fake.wait_for("sendMessage", count=2)
    assert [m.text for m in await records.messages(GROUP, "user")] == [QUESTION, "人才总量是多少？"]


@SQLITE_ONLY
async def test_start_is_answered_in_english_for_an_english_speaking_user(channel, fake):
    fake.user_message(USER, USER, "/start", language_code="en")
    [welcome] = await fake.wait_for("sendMessage")
    assert welcome.params["text"] == prompts.text("en", "welcome")
    calls = await fake.wait_for("setMyCommands", count=3)
    by_lang = {c.params.get("language_code"): [cmd["command"] for cmd in c.params["commands"]] for c in calls}
    menu = ["start", "help", "new", "human", "subscribe", "subscriptions", "unsubscribe"]
    assert by_lang == {None: menu, "zh": menu, "en": menu}


@SQLITE_ONLY
async def test_a_command_addressed_to_the_bot_in_a_group_works_and_one_for_another_bot_is_ignored(channel, fake, engine):
    fake.user_message(GROUP, USER, "/help@other_bot", chat_type="supergroup")
    fake.user_message(GROUP, USER, "/help@fake_qd_bot", chat_type="supergroup")
    [reply] = await fake.wait_for("sendMessage")
    await settled(fake, engine, GROUP, chat_type="supergroup")
    assert reply.params["text"] == prompts.text("zh", "help")
    assert len(fake.sent_messages(GROUP)) == 2


@SQLITE_ONLY
async def test_stickers_photos_voice_and_documents_get_the_text_only_notice(channel, fake, records, engine):
    document = {"file_id": "doc-1", "file_unique_id": "udoc1", "file_name": "policy.pdf"}
    sends = [lambda: fake.user_message(USER, USER, sticker=True),
             lambda: fake.user_message(USER, USER, "看这张图", photo=True),
             lambda: fake.user_message(USER, USER, voice=True),
             lambda: fake.push_update({"message": tg.message(
                 99, fake.chats[USER], tg.user(USER, "Test User", "zh-hans"), document=document)})]
    for n, send in enumerate(sends, 1):
        send()
        notices = await fake.wait_for("sendMessage", count=n)
        assert await engine.drain(5)  # answered one by one: no "still busy" notice
    assert [c.params["text"] for c in notices] == [prompts.text("zh", "unsupported_type")] * 4
    kinds = [m.meta.get("kind") for m in await records.messages(USER, "user")]
    assert kinds == ["sticker", "photo", "voice", "document"]


@SQLITE_ONLY
async def test_an_empty_message_and_a_very_long_one_get_polite_notices(channel, fake, engine):
    fake.user_message(USER, USER, "")
    [empty] = await fake.wait_for("sendMessage")
    assert await engine.drain(5)
    fake.user_message(USER, USER, "政策" * 2000)
    [_, long] = await fake.wait_for("sendMessage", count=2)
    assert empty.params["text"] == prompts.text("zh", "empty_message")
    assert long.params["text"] == prompts.text("zh", "too_long", limit=engine.settings.max_message_chars)


async def test_feedback_buttons_store_the_rating_acknowledge_it_and_mark_the_choice(channel, fake, store):
    fake.user_message(USER, USER, QUESTION)
    [answer] = await fake.wait_for("sendMessage")
    up = buttons(answer.params)[0]["callback_data"]
    message_id = int(up.split(":")[2])
    bot_message_id = last_bot_message(fake, USER)
    fake.callback_query(USER, USER, up, bot_message_id)
    [ack] = await fake.wait_for("answerCallbackQuery")
    [edit] = await requested(fake, "editMessageReplyMarkup")
    assert ack.params["text"] == prompts.text("zh", "feedback_thanks")
    assert (await store.get_message(message_id)).feedback == "up"
    labels = [b["text"] for b in buttons(edit.params)]
    assert labels[0] == "✅ " + prompts.text("zh", "button_up") and labels[1] == prompts.text("zh", "button_down")
    assert edit.params["message_id"] == bot_message_id
    fake.messages[(USER, bot_message_id)]["reply_markup"] = edit.params["reply_markup"]
    fake.callback_query(USER, USER, up, bot_message_id)  # pressed again: withdrawn
    [_, again] = await fake.wait_for("answerCallbackQuery", count=2)
    await requested(fake, "editMessageReplyMarkup", count=2)
    assert again.params["text"] == render.phrase("zh", "feedback_withdrawn")
    assert (await store.get_message(message_id)).feedback is None


@SQLITE_ONLY
async def test_a_press_on_a_foreign_or_stale_button_is_still_acknowledged(channel, fake):
    fake.callback_query(USER, USER, "fb:up:999999", 1)
    fake.callback_query(USER, USER, "something-else", 1)
    acks = await fake.wait_for("answerCallbackQuery", count=2)
    assert sorted(str(a.params.get("text")) for a in acks) == ["None", render.phrase("zh", "feedback_unavailable")]


async def test_the_contact_button_asks_for_a_technology_manager(channel, fake, records, engine, store):
    fake.user_message(USER, USER, QUESTION)
    await fake.wait_for("sendMessage")
    assert await engine.drain(5)
    fake.callback_query(USER, USER, "human", last_bot_message(fake, USER))
    [ack] = await fake.wait_for("answerCallbackQuery")
    await fake.wait_for("sendMessage", count=2)
    assert await engine.drain(5)
    assert ack.params["text"] == render.phrase("zh", "handoff_requested")
    assert [m.text for m in await records.messages(USER, "user")] == [QUESTION, "/human"]
    conversation = await store.find_conversation("telegram", str(USER))
    assert (await store.tickets.open_for(conversation.id)) is not None
    [mark] = await requested(fake, "editMessageReplyMarkup")
    assert buttons(mark.params)[-1]["text"] == "✅ " + prompts.text("zh", "button_human")


async def test_a_star_rating_of_the_managers_service_is_stored_and_acknowledged(channel, fake, engine, store):
    fake.user_message(USER, USER, "/human")
    await fake.wait_for("sendMessage")
    assert await engine.drain(5)
    conversation = await store.find_conversation("telegram", str(USER))
    ticket = await store.tickets.open_for(conversation.id)
    await store.tickets.transition(ticket.id, ("intake",), "waiting")
    await engine.desk.resolve(ticket.id, "manager-1")
    stars = [b for m in fake.sent_messages(USER) if "reply_markup" in m for b in buttons(m)
             if b["callback_data"].startswith("rate:")]  # the intake's quick replies are buttons too
    assert [b["callback_data"] for b in stars] == [f"rate:{ticket.id}:{n}" for n in range(1, 6)]
    fake.callback_query(USER, USER, stars[4]["callback_data"], last_bot_message(fake, USER))
    [ack] = await fake.wait_for("answerCallbackQuery")
    assert ack.params["text"] == prompts.text("zh", "rate_thanks")
    assert (await store.tickets.get(ticket.id)).rating == 5


async def test_a_429_on_send_message_is_retried_after_retry_after(channel, fake):
    fake.fail_next("sendMessage", "429", retry_after=1)
    t0 = time.monotonic()
    fake.user_message(USER, USER, QUESTION)
    [answer] = await fake.wait_for("sendMessage")
    assert time.monotonic() - t0 >= 1.0 and "60家左右" in answer.params["text"]
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [429, 200]


async def test_a_user_who_blocked_the_bot_is_marked_and_not_retried(channel, fake, records):
    fake.fail_next("sendMessage", "403")
    fake.user_message(USER, USER, QUESTION)

    async def failed() -> bool:
        return [m.status for m in await records.messages(USER, "assistant")] == ["failed"]

    await eventually(failed)
    assert await records.blocked(USER)
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [403]


async def test_blocking_and_unblocking_the_bot_updates_the_conversation(channel, fake, records, engine):
    fake.user_message(USER, USER, "/start")
    await fake.wait_for("sendMessage")
    assert await engine.drain(5)

    def member_update(old: str, new: str) -> dict:
        def member(status: str) -> dict:
            return {"status": status, "user": fake.me} | ({"until_date": 0} if status == "kicked" else {})

        return {"my_chat_member": {"chat": fake.chats[USER], "from": tg.user(USER, "Test User"),
                                   "date": int(time.time()), "old_chat_member": member(old),
                                   "new_chat_member": member(new)}}

    fake.push_update(member_update("member", "kicked"))
    await eventually(lambda: records.blocked(USER))
    fake.push_update(member_update("kicked", "member"))

    async def unblocked() -> bool:
        return not await records.blocked(USER)

    await eventually(unblocked)
