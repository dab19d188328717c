"""Streaming LLM answers: drafts in private chats, an edited message in groups, then the final answer."""
from __future__ import annotations

import pytest

from bot.llm import make_chat_model
from bot.settings import load_settings
from tests.fakes.engine import make_engine
from tests.fakes.openai_server import FakeOpenAI

# SQLite only: streaming never touches the store beyond what the polling tests cover on both backends.
pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
USER = 4242
GROUP = -1001234567890
QUESTION = "青岛计划建设多少家概念验证平台？"
ANSWER = ("青岛计划三年内建设概念验证平台60家左右[1]，省级以上中试验证平台15家左右[1]。"
          "这是促进验证平台共建共享共用的目标[1]。")


@pytest.fixture
async def fake_llm():
    async with FakeOpenAI(api_key="k") as server:
        server.responder = lambda messages, body: ANSWER
        server.stream_delay = 0.06  # ~1.5 s for the whole answer
        yield server


@pytest.fixture
def engine(store, settings, fake_llm):
    """An engine in LLM mode (overrides the extractive one of conftest)."""
    s = load_settings(qdbot_data_dir=settings.qdbot_data_dir, openai_base_url=fake_llm.base_url,
                      openai_api_key="k", llm_max_retries=0, llm_classify_intent=False)
    return make_engine(store, s, llm=make_chat_model(s))


def methods(fake, *names: str) -> list[str]:
    return [c.method for c in fake.sent if c.method in names]


async def test_a_private_answer_streams_as_drafts_then_arrives_as_one_formatted_message(channel, fake):
    fake.user_message(USER, USER, QUESTION)
    [final] = await fake.wait_for("sendMessage", timeout=10)
    drafts = [c.params for c in fake.sent if c.method == "sendMessageDraft"]
    assert len(drafts) >= 2 and methods(fake, "sendMessageDraft", "sendMessage")[-1] == "sendMessage"
    assert len({d["draft_id"] for d in drafts}) == 1 and drafts[0]["draft_id"] != 0
    texts = [d["text"] for d in drafts]
    assert all(ANSWER.startswith(t) for t in texts) and texts == sorted(texts, key=len)
    assert final.params["parse_mode"] == "HTML" and "60家左右" in final.params["text"]
    assert final.params["reply_markup"]["inline_keyboard"]


async def test_a_group_answer_streams_into_one_message_that_is_edited_into_the_final_answer(channel, fake):
    mention = "@fake_qd_bot " + QUESTION
    fake.user_message(GROUP, USER, mention, chat_type="supergroup",
                      entities=[{"type": "mention", "offset": 0, "length": len("@fake_qd_bot")}])
    [final] = await fake.wait_for("editMessageText", predicate=lambda p: p.get("parse_mode") == "HTML", timeout=10)
    [preview] = fake.sent_messages(GROUP)
    assert "parse_mode" not in preview and ANSWER.startswith(preview["text"])
    bot_messages = [m for (chat, _), m in fake.messages.items() if chat == GROUP and m["from"]["id"] == fake.me["id"]]
    assert [m["message_id"] for m in bot_messages] == [final.params["message_id"]]
    assert bot_messages[0]["text"].startswith(ANSWER[:20]) and bot_messages[0]["reply_markup"]["inline_keyboard"]
    assert methods(fake, "sendMessageDraft") == []


async def test_when_drafts_fail_the_preview_falls_back_to_an_edited_message(channel, fake):
    fake.fail_next("sendMessageDraft", "500")
    fake.user_message(USER, USER, QUESTION)
    [final] = await fake.wait_for("editMessageText", predicate=lambda p: p.get("parse_mode") == "HTML", timeout=10)
    assert len(fake.sent_messages(USER)) == 1 and "60家左右" in final.params["text"]
