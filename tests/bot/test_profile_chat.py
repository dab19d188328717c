"""The self-check in a conversation, through the real web chat (aiohttp test client against the web
channel): consent first, only the questions the published items need, skipping, leaving the flow with
a question, the cited result, deletion; profile answers hidden in logs and exports.
FICTIONAL TEST DATA (tests/bot/support_docs.py)."""
from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from bot.clock import FixedClock
from bot.eligibility import EligibilityDesk
from bot.export import PROFILE_HIDDEN, conversation_json
from bot.records import ConversationFilter
from bot.store.eligibility import REDACTED
from tests.adapters.web.conftest import serve
from tests.bot.support_docs import TODAY, ingest
from tests.fakes.engine import make_engine

START = "帮我看看我们公司能申请哪些政策"


@pytest.fixture
async def web(store, settings):
    await ingest(store)
    engine = make_engine(store, settings)
    engine.eligibility = EligibilityDesk(engine, FixedClock(TODAY))
    w = await serve(engine, settings)
    yield w
    await w.client.close()


async def test_consent_then_questions_then_a_cited_result_through_the_web_chat(web, store):
    asked = (await web.chat(START))["answer"]
    assert "同意" in asked and "删除我的资料" in asked
    assert (await store.eligibility.profile("web", web.public())).consent_at is None  # nothing stored yet
    first = (await web.chat("同意"))["answer"]
    assert first.startswith("贵公司注册在哪个区市")
    second = (await web.chat("崂山区，2024年成立，是高新技术企业和科技型中小企业"))["answer"]
    assert second.startswith("贵公司上年度研发费用")  # district, founding year and certifications were all given
    out = await web.chat("跳过")  # nothing else could make an item eligible: the result comes at once
    text = out["answer"]
    assert "✅ 符合条件（3项）" in text and "20万元" in text and "最高100万元" in text
    assert "⚠️ 差一个条件（1项）" in text and "还差：需为专精特新" in text and "需要：职工人数、发明专利" in text
    assert "❓ 还需补充资料（1项）" in text and "需要：研发费用占营业收入比例" in text and "按10%" in text
    assert "申报时间：每年6月1日至6月30日" in text
    titles = {s["title"] for s in out["sources"]}
    assert any(t.startswith("崂山区技术转移奖励办法") for t in titles)
    assert not any(t.startswith("济南市") or "旧版" in t for t in titles)
    stored = await store.eligibility.profile("web", web.public())
    assert stored.data == {"district": "崂山区", "founded_year": 2024,
                           "certifications": ["高新技术企业", "科技型中小企业"]}  # nothing skipped is stored


async def test_declining_consent_stores_nothing_and_a_question_leaves_the_flow(web, store):
    await web.chat(START)
    assert "不记录" in (await web.chat("不同意"))["answer"]
    assert await store.eligibility.profile("web", web.public()) is None
    await web.chat(START)
    await web.chat("同意")
    out = await web.chat("青岛计划建设多少家概念验证平台？")  # not an answer: the question is answered
    assert "60家" in out["answer"] and out["mode"] == "extractive"
    assert (await store.eligibility.profile("web", web.public())).flow == {}


async def test_deleting_my_data_removes_the_profile_and_blanks_the_stored_answers(web, store):
    await web.chat(START)
    await web.chat("同意")
    await web.chat("崂山区，2024年成立，营收8000万")
    assert "已删除" in (await web.chat("删除我的资料"))["answer"]
    assert await store.eligibility.profile("web", web.public()) is None
    texts = [m["text"] for m in await web.history()]
    assert not any("8000" in t for t in texts) and REDACTED in texts
    assert "没有找到" in (await web.chat("删除我的资料"))["answer"]


async def test_profile_answers_are_hidden_in_exports_and_logs(web, store):
    with capture_logs() as logs:
        await web.chat(START)
        await web.chat("同意")
        await web.chat("崂山区，营收8000万元，职工120人")
    conv = await store.find_conversation("web", web.public())
    page = await store.console.search.page(ConversationFilter(), None, limit=10)
    summary = next(c for c in page.rows if c.id == conv.id)
    exported = json.dumps(conversation_json(summary, await store.messages(conv.id), []), ensure_ascii=False)
    assert "8000" not in exported and PROFILE_HIDDEN in exported
    lines = [e for e in logs if e["event"] == "message"]
    assert len(lines) == 3 and {e["text"] for e in lines} == {"[profile]"} and "8000" not in repr(logs)


async def _llm_result(store, settings, reply):
    from bot.llm import close_chat_model, make_chat_model
    from bot.settings import load_settings
    from tests.fakes.openai_server import FakeOpenAI

    await ingest(store)
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.responder = reply
        llm = make_chat_model(load_settings(openai_base_url=fake.base_url, openai_api_key="sk-test", llm_max_retries=0))
        engine = make_engine(store, settings)
        engine.eligibility = EligibilityDesk(engine, FixedClock(TODAY), llm=llm)
        w = await serve(engine, settings)
        try:
            for text in (START, "同意", "崂山区，2024年成立，是高新技术企业和科技型中小企业"):
                await w.chat(text)
            out = (await w.chat("跳过"))["answer"]
        finally:
            await w.client.close()
            await close_chat_model(llm)
        return out, [r.body["messages"] for r in fake.requests if r.path.endswith("/chat/completions")]


async def test_in_llm_mode_the_model_summarises_only_the_matched_items(store, settings):
    out, calls = await _llm_result(store, settings, lambda messages, body: "贵公司可申请3项支持，其中最高100万元。")
    assert out.startswith("贵公司可申请3项支持，其中最高100万元。") and "✅ 符合条件（3项）" in out
    given = calls[-1][-1]["content"]
    assert "✅ 符合条件（3项）" in given and "济南市" not in given  # the model sees the matched list, nothing else


async def test_a_summary_with_a_figure_the_items_do_not_have_is_dropped(store, settings):
    out, _ = await _llm_result(store, settings, lambda messages, body: "贵公司可获得999万元补助。")
    assert "999万元" not in out and out.startswith("根据知识库中已发布的政策条目")
