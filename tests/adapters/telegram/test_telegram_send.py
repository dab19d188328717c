"""TelegramChannel.send, the engine's outbound path: HTML escaping, 4096-character split, keyboards."""
from __future__ import annotations

import pytest

from bot.errors import DeliveryError
from bot.types import Button, Citation, Reply
from tests.fakes.telegram_objects import utf16_len

# SQLite only: sending touches the store only to mark a blocked chat, covered on both backends by the polling tests.
pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
USER = 4242
CITATION = Citation("关于加快建设科技创新城市的意见", "二、提升科技成果转化效能", "policy.docx", "……")
BUTTONS = (Button("👍", "feedback:up"), Button("👎", "feedback:down"), Button("联系技术经理人", "handoff"))


async def test_a_6000_character_answer_is_split_into_two_messages_below_4096_on_sentence_boundaries(channel, fake):
    sentence = "青岛计划三年内建设概念验证平台60家左右，省级以上中试验证平台15家左右[1]。"
    text = sentence * (6000 // len(sentence) + 1)
    await channel.send(str(USER), Reply(text, citations=(CITATION,), buttons=BUTTONS, message_id=7))
    first, second = (fake.messages[(USER, i)] for i in (1, 2))
    assert all(utf16_len(m["text"]) <= 4096 for m in (first, second))
    assert first["text"].endswith("。") and (first["text"] + second["text"]).startswith(text.strip())
    assert "reply_markup" not in first and second["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "fb:up:7"
    assert second["text"].endswith("《关于加快建设科技创新城市的意见》 二、提升科技成果转化效能")


async def test_html_special_characters_reach_the_user_unchanged(channel, fake):
    text = "研发投入 <增长> 11.6% & 人才 > 300万 <b>不是粗体</b>"
    message_id = await channel.send(str(USER), Reply(text))
    sent = fake.messages[(USER, int(message_id))]
    assert sent["text"] == text and "entities" not in sent
    assert fake.sent_messages(USER)[0]["text"].startswith("研发投入 &lt;增长&gt; 11.6% &amp; 人才 &gt; 300万")


async def test_a_send_to_a_chat_that_blocked_the_bot_raises_delivery_error(channel, fake):
    fake.fail_next("sendMessage", "403")
    with pytest.raises(DeliveryError) as caught:
        await channel.send(str(USER), Reply("你好"))
    assert caught.value.__cause__ is not None
