"""The Answerer against a loopback OpenAI-compatible server, and in extractive mode."""
from __future__ import annotations

import pytest

import prompts
from bot.answerer import Answerer, Delta
from bot.llm import make_chat_model
from bot.settings import load_settings
from bot.types import AnswerMode, Role, Turn, utcnow

QUESTION = "青岛计划建设多少家概念验证平台？"


def llm_settings(fake, **kw):
    return load_settings(openai_base_url=fake.base_url, openai_api_key="sk-test", llm_model="fake-model",
                         llm_max_retries=0, llm_timeout=1.5, **kw)


def answerer_for(fake, retriever):
    s = llm_settings(fake)
    return Answerer(retriever, s, llm=make_chat_model(s))


async def test_extractive_mode_quotes_the_matching_sentence_with_a_citation(retriever):
    a = await Answerer(retriever, load_settings()).answer(QUESTION)
    assert a.mode is AnswerMode.EXTRACTIVE and not a.no_answer
    assert "60家左右" in a.text and "[1]" in a.text
    assert prompts.text("zh", "extractive_intro") in a.text
    assert "60家左右" in a.citations[0].snippet


async def test_an_english_question_gets_an_english_frame_around_chinese_excerpts(retriever):
    a = await Answerer(retriever, load_settings(retrieval_min_score=0.0)).answer("概念验证平台 how many?", lang="en")
    assert a.text.startswith(prompts.text("en", "extractive_intro"))


async def test_nothing_relevant_gives_a_plain_no_answer_that_offers_a_human(retriever):
    a = await Answerer(retriever, load_settings()).answer("深圳的人工智能企业补贴标准是多少？")
    assert a.no_answer and prompts.text("zh", "no_answer") in a.text and prompts.text("zh", "offer_human") in a.text
    assert a.citations == ()


async def test_llm_answers_cite_the_passages_they_use(fake_llm, retriever):
    fake_llm.responder = lambda messages, body: "青岛计划三年内建设概念验证平台60家左右[1]。"
    a = await answerer_for(fake_llm, retriever).answer(QUESTION)
    assert a.mode is AnswerMode.LLM and a.text == "青岛计划三年内建设概念验证平台60家左右[1]。"
    assert "60家左右" in a.citations[0].snippet
    system, user = fake_llm.requests[-1].body["messages"]
    assert "只能依据" in system["content"] and "[1]" in user["content"] and QUESTION in user["content"]


async def test_citation_numbers_are_renumbered_and_invalid_ones_dropped(fake_llm, retriever):
    fake_llm.responder = lambda m, b: "人才总量突破300万人[2]，建设概念验证平台60家左右[1][9]。"
    a = await answerer_for(fake_llm, retriever).answer("青岛人才总量和概念验证平台数量")
    assert a.text == "人才总量突破300万人[1]，建设概念验证平台60家左右[2]。"
    assert len(a.citations) == 2 and "300万" in a.citations[0].snippet


async def test_the_answer_streams_as_it_is_generated(fake_llm, retriever):
    fake_llm.responder = lambda m, b: "青岛计划三年内建设概念验证平台60家左右[1]。这是政策目标。"
    events = [e async for e in answerer_for(fake_llm, retriever).stream(QUESTION)]
    deltas = [e.text for e in events if isinstance(e, Delta)]
    assert len(deltas) > 2 and "".join(deltas) == "青岛计划三年内建设概念验证平台60家左右[1]。这是政策目标。"
    assert not isinstance(events[-1], Delta) and events[-1].mode is AnswerMode.LLM


async def test_a_model_that_finds_no_answer_yields_the_no_answer_reply(fake_llm, retriever):
    fake_llm.responder = lambda m, b: "NO_ANSWER"
    a = await answerer_for(fake_llm, retriever).answer(QUESTION)
    assert a.no_answer and "NO_ANSWER" not in a.text


async def test_invented_figures_fall_back_to_excerpts(fake_llm, retriever):
    fake_llm.responder = lambda m, b: "青岛将建设概念验证平台120家[1]。"
    a = await answerer_for(fake_llm, retriever).answer(QUESTION)
    assert a.mode is AnswerMode.EXTRACTIVE and "120" not in a.text and "60家左右" in a.text
    assert prompts.text("zh", "llm_fallback_notice") in a.text


@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout", "garbage", "malformed", "stream_cut"])
async def test_every_llm_failure_falls_back_to_excerpts_with_a_notice(fake_llm, retriever, fault):
    fake_llm.hang_seconds = 5
    fake_llm.fail_next(5, fault)
    a = await answerer_for(fake_llm, retriever).answer(QUESTION)
    assert a.mode is AnswerMode.EXTRACTIVE and "60家左右" in a.text
    assert a.text.startswith(prompts.text("zh", "llm_fallback_notice"))


async def test_a_follow_up_is_rewritten_into_a_standalone_query_from_recent_turns(fake_llm, retriever):
    fake_llm.script(["青岛计划建设多少家中试验证平台？", "省级以上中试验证平台15家左右[1]。"])
    history = [Turn(1, 1, Role.USER, QUESTION, utcnow()), Turn(2, 1, Role.ASSISTANT, "60家左右[1]", utcnow())]
    a = await answerer_for(fake_llm, retriever).answer("那中试验证平台呢？", history)
    assert a.rewritten_query == "青岛计划建设多少家中试验证平台？"
    assert retriever.queries[-1] == "青岛计划建设多少家中试验证平台？"
    assert "15家左右" in a.text


async def test_ambiguous_transfer_messages_are_classified_by_the_model(fake_llm, retriever):
    answerer = answerer_for(fake_llm, retriever)
    fake_llm.script(["HANDOFF"])
    assert await answerer.wants_human("我想了解一下青岛的专利政策") is True
    fake_llm.script(["QUESTION"])
    assert await answerer.wants_human("我想了解一下青岛的专利政策") is False
    assert await answerer.wants_human("转人工") is True  # rules decide without the model
    assert len(fake_llm.requests) == 2
