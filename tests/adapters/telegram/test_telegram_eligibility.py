"""The self-check over Telegram (real PTB against the fake Bot API): a private chat gives consent,
answers the questions and gets the cited result; "删除我的资料" deletes the profile.
FICTIONAL TEST DATA (tests/bot/support_docs.py)."""
from __future__ import annotations

from bot.clock import FixedClock
from bot.eligibility import EligibilityDesk
from tests.bot.support_docs import TODAY, ingest

CHAT = 515151


async def send(fake, engine, text: str, n: int) -> str:
    """One user message; its reply once the engine has finished with it (so the next is not "busy")."""
    fake.user_message(CHAT, CHAT, text)
    await fake.wait_for("sendMessage", n)
    assert await engine.drain(5)
    return fake.sent_messages(CHAT)[-1]["text"]


async def test_a_private_chat_builds_a_profile_gets_the_match_and_deletes_it(channel, fake, engine, store):
    await ingest(store)
    engine.eligibility = EligibilityDesk(engine, FixedClock(TODAY))
    assert "同意" in await send(fake, engine, "帮我看看我们公司能申请哪些政策", 1)
    assert "区市" in await send(fake, engine, "同意", 2)
    reply = await send(fake, engine, "市南区，科技型中小企业，研发费用占比2%", 3)
    assert "成立" in reply  # the founding year is the one thing still needed
    result = await send(fake, engine, "2023年成立", 4)
    assert "✅ 符合条件（1项）" in result and "初创科技企业" in result and "10万元" in result
    assert "还差：研发费用占营业收入比例需≥3%" in result and "崂山区" not in result
    profile = await store.eligibility.profile("telegram", str(CHAT))
    assert profile.data["district"] == "市南区" and profile.data["founded_year"] == 2023
    assert "已删除" in await send(fake, engine, "删除我的资料", 5)
    assert await store.eligibility.profile("telegram", str(CHAT)) is None
