"""FakeTelegram speaks the Bot API well enough that the real python-telegram-bot runs against it."""

from __future__ import annotations

import asyncio
import datetime as dtm

import pytest
from aiohttp import web
from telegram import (
    Bot, ForumTopic, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, NetworkError, RetryAfter
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_server import SECRET_HEADER, FakeTelegram

USER = 4242
STAFF_GROUP = -1001234567890


@pytest.fixture
async def fake():
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake):
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as client:
        yield client


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(f"echo: {update.message.text}")


async def test_a_polling_application_receives_a_pushed_message_and_its_reply_is_recorded(fake):
    app = Application.builder().token(fake.token).base_url(fake.base_url) \
        .base_file_url(fake.base_file_url).build()
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0)
    try:
        fake.user_message(USER, USER, "你好")
        [reply] = await fake.wait_for("sendMessage")
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert reply.params["chat_id"] == USER and reply.params["text"] == "echo: 你好"
    assert {"getMe", "deleteWebhook", "getUpdates"} <= {call.method for call in fake.sent}
    assert fake.updates == []  # the shutdown getUpdates confirmed the handled update


async def test_send_message_returns_a_full_message_from_the_bot_with_rendered_html(fake, bot):
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="up")]])
    first = await bot.send_message(USER, "<b>政策</b> &amp; 补贴", parse_mode=ParseMode.HTML,
                                   reply_markup=keyboard)
    second = await bot.send_message(USER, "again")
    assert isinstance(first, Message) and first.from_user.id == bot.id
    assert (first.chat.id, first.message_id, second.message_id) == (USER, 1, 2)
    assert first.text == "政策 & 补贴" and first.reply_markup == keyboard
    assert first.entities == (MessageEntity(MessageEntity.BOLD, 0, 2),)
    assert fake.sent_messages(USER)[0]["text"] == "<b>政策</b> &amp; 补贴"
    assert fake.sent_messages(USER)[0]["parse_mode"] == "HTML"


async def test_html_that_telegram_cannot_parse_raises_bad_request(bot):
    with pytest.raises(BadRequest, match="(?i)parse entities: unsupported start tag"):
        await bot.send_message(USER, "1 < 2", parse_mode=ParseMode.HTML)


async def test_a_429_fault_raises_retry_after_with_the_servers_delay(fake, bot):
    fake.fail_next("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "too fast")
    assert caught.value.retry_after in (7, dtm.timedelta(seconds=7))
    assert (await bot.send_message(USER, "later")).text == "later"


async def test_a_403_fault_raises_forbidden_as_for_a_blocked_bot(fake, bot):
    fake.fail_next("sendMessage", "403")
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(USER, "hello?")
    assert fake.calls[-1].status == 403 and fake.sent_messages() == []


async def test_a_thread_not_found_fault_raises_bad_request_with_that_message(fake, bot):
    fake.fail_next("sendMessage", "400_thread_not_found")
    with pytest.raises(BadRequest, match="(?i)message thread not found"):
        await bot.send_message(STAFF_GROUP, "to the topic", message_thread_id=99)


async def test_a_500_fault_raises_network_error_and_a_slow_fault_delays_the_reply(fake, bot):
    fake.fail_next("getChat", "500")
    fake.fail_next("getChat", "slow", seconds=0.3)
    with pytest.raises(NetworkError):
        await bot.get_chat(USER)
    started = asyncio.get_running_loop().time()
    assert (await bot.get_chat(USER)).id == USER
    assert asyncio.get_running_loop().time() - started >= 0.3


async def test_create_forum_topic_returns_a_forum_topic_whose_thread_accepts_messages(bot):
    topic = await bot.create_forum_topic(STAFF_GROUP, "张三 #4242")
    assert isinstance(topic, ForumTopic) and topic.name == "张三 #4242"
    sent = await bot.send_message(STAFF_GROUP, "新工单", message_thread_id=topic.message_thread_id)
    assert sent.message_thread_id == topic.message_thread_id and sent.is_topic_message
    assert await bot.close_forum_topic(STAFF_GROUP, topic.message_thread_id)


async def test_sending_into_a_deleted_topic_raises_message_thread_not_found(bot):
    topic = await bot.create_forum_topic(STAFF_GROUP, "ticket")
    assert await bot.delete_forum_topic(STAFF_GROUP, topic.message_thread_id)
    with pytest.raises(BadRequest, match="(?i)message thread not found"):
        await bot.send_message(STAFF_GROUP, "late", message_thread_id=topic.message_thread_id)


async def test_edit_message_text_changes_the_message_and_refuses_an_identical_edit(fake, bot):
    sent = await bot.send_message(USER, "draft")
    edited = await bot.edit_message_text("final", chat_id=USER, message_id=sent.message_id)
    assert edited.text == "final" and fake.messages[(USER, sent.message_id)]["text"] == "final"
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text("final", chat_id=USER, message_id=sent.message_id)


async def test_send_message_draft_is_accepted_in_private_chats_only(fake, bot):
    assert await bot.send_message_draft(USER, draft_id=7, text="思考中…") is True
    assert fake.drafts[(USER, 7)] == "思考中…"
    with pytest.raises(BadRequest, match="(?i)textdraft_peer_invalid"):
        await bot.send_message_draft(STAFF_GROUP, draft_id=7, text="no drafts in groups")


async def test_a_callback_query_can_be_answered_exactly_once(fake, bot):
    sent = await bot.send_message(USER, "helpful?")
    fake.callback_query(USER, USER, "fb:up", sent.message_id)
    [update] = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert (query.data, query.message.message_id) == ("fb:up", sent.message_id)
    assert await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query.id)


async def test_get_updates_does_not_redeliver_updates_confirmed_by_offset(fake, bot):
    fake.user_message(USER, USER, "one")
    fake.user_message(USER, USER, "two", sticker=True)
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first] == ["one", None] and first[1].message.sticker
    offset = first[-1].update_id + 1
    assert await bot.get_updates(offset=offset, timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(offset=offset, timeout=5))
    await asyncio.sleep(0.05)
    fake.user_message(USER, USER, "three")
    assert [u.message.text for u in await asyncio.wait_for(poll, 1)] == ["three"]


async def test_a_command_message_carries_the_bot_command_entity(fake, bot):
    fake.user_message(STAFF_GROUP, USER, "/done thanks", chat_type="supergroup",
                      message_thread_id=12, is_topic_message=True)
    [update] = await bot.get_updates(timeout=0)
    assert update.message.parse_entities([MessageEntity.BOT_COMMAND]).popitem()[1] == "/done"
    assert update.message.is_topic_message and update.effective_chat.is_forum


async def test_webhook_delivery_posts_the_update_with_the_registered_secret(fake, bot):
    received: list[tuple[str | None, dict]] = []

    async def endpoint(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response(status=200 if received[-1][0] == "s3cret-token" else 403)

    app = web.Application()
    app.router.add_post("/telegram", endpoint)
    async with LoopbackServer(app) as server:
        url = server.url("/telegram")
        assert await bot.set_webhook(url, secret_token="s3cret-token")
        update = fake.user_message(USER, USER, "via webhook")
        assert await fake.deliver_webhook(update) == 200
        assert await fake.deliver_webhook(update, secret="wrong") == 403
    assert [secret for secret, _ in received] == ["s3cret-token", "wrong"]
    assert Update.de_json(received[0][1], bot).message.text == "via webhook"
    assert (await bot.get_webhook_info()).url == url


async def test_get_updates_conflicts_while_a_webhook_is_set(bot):
    await bot.set_webhook("https://example.invalid/hook")
    with pytest.raises(Conflict, match="(?i)webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_an_unknown_method_is_not_found(bot):
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", {"chat_id": USER})
