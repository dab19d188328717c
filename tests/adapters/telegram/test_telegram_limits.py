"""Telegram's flood limit with answers first (`AnswersFirst`): at the limit, `typing` and drafts are
skipped and answers get the capacity; below it, everything is sent."""
from __future__ import annotations

import asyncio

from telegram.ext import ExtBot
from telegram.constants import ChatAction

from adapters.telegram.limits import AnswersFirst


async def _bot(fake, rate: float) -> ExtBot:
    bot = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=AnswersFirst(overall_max_rate=rate, max_retries=1))
    await bot.initialize()
    return bot


async def test_at_the_limit_typing_and_drafts_are_skipped_and_every_answer_is_sent(fake):
    bot = await _bot(fake, rate=5)
    chats = list(range(1001, 1021))
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def answer(chat: int) -> None:  # what one answer costs: typing, a draft, the message
        await bot.send_chat_action(chat, ChatAction.TYPING)
        await bot.send_message_draft(chat, 7, "青岛计划…")
        await bot.send_message(chat, f"答复 {chat}")

    await asyncio.gather(*(answer(c) for c in chats))
    elapsed = loop.time() - t0
    await bot.shutdown()
    methods = [c.method for c in fake.calls]
    assert sorted(p["chat_id"] for p in fake.sent_messages()) == chats  # every answer, once
    assert methods.count("sendChatAction") + methods.count("sendMessageDraft") < len(chats)  # most skipped
    assert elapsed < 8  # 20 answers at 5 requests/s: ~4 s; queued behind 40 cosmetic calls it took 12


async def test_below_the_limit_typing_and_drafts_are_sent(fake):
    bot = await _bot(fake, rate=30)
    await bot.send_chat_action(5, ChatAction.TYPING)
    await bot.send_message_draft(5, 7, "青岛…")
    await bot.send_message(5, "答复")
    await bot.shutdown()
    assert [c.method for c in fake.calls if c.method != "getMe"] == ["sendChatAction", "sendMessageDraft",
                                                                       "sendMessage"]


async def test_while_a_429_is_waited_out_typing_is_skipped_and_the_answer_waits(fake):
    bot = await _bot(fake, rate=30)
    fake.fail_next("sendMessage", "429", retry_after=1)
    first = asyncio.create_task(bot.send_message(5, "第一条"))
    while bot.rate_limiter.spare_capacity() and not first.done():  # until the limiter has read the 429
        await asyncio.sleep(0.01)  # (not merely the fake sent it)
    assert not first.done() and any(c.status == 429 for c in fake.calls)  # the 1 s wait is under way
    await bot.send_chat_action(6, ChatAction.TYPING)  # during the wait: skipped, returns at once
    await first
    await bot.shutdown()
    assert "sendChatAction" not in [c.method for c in fake.calls]
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [429, 200]
