"""Knowledge gaps: unanswered, low-confidence and thumbs-down questions collected from what the engine
stored, grouped by similarity (local embedder, or bigram overlap without one), with counts."""
from __future__ import annotations

import pytest

from bot.gaps import GapGrouper, GapItem, collect
from tests.console.conftest import say

QUESTIONS = ["人才公寓怎么申请", "人才公寓如何申请？", "人才公寓申请流程", "深圳的人工智能企业补贴标准是多少？",
             "深圳人工智能企业有什么补贴", "今天天气怎么样", "明天青岛天气如何", "专利转让要交税吗", "转让专利需要缴纳什么税"]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from bot.settings import load_settings
    from knowledge.embeddings import make_embedder

    return make_embedder(load_settings(qdbot_data_dir=tmp_path_factory.mktemp("emb")))


async def test_similar_questions_fall_into_one_group_each_with_the_local_embedder(embedder):
    groups = await GapGrouper(embedder).group([GapItem(q, "no_answer") for q in QUESTIONS])
    assert sorted(sorted(g.questions) for g in groups) == sorted(sorted(g) for g in [
        QUESTIONS[0:3], QUESTIONS[3:5], QUESTIONS[5:7], QUESTIONS[7:9]])
    assert [g.count for g in groups] == [3, 2, 2, 2]  # biggest first


async def test_without_an_embedder_close_wordings_still_group_and_unrelated_ones_stay_apart():
    items = [GapItem(q, "thumbs_down") for q in QUESTIONS] + [GapItem("人才公寓 怎么申请!", "no_answer")]
    groups = await GapGrouper().group(items)
    first = groups[0]
    assert first.count == 4 and first.reasons == {"thumbs_down": 3, "no_answer": 1}
    assert first.questions[0] in QUESTIONS[0:3]
    assert all(not ({"今天天气怎么样", "专利转让要交税吗"} <= set(g.questions)) for g in groups)


async def test_gaps_come_from_no_answers_thumbs_down_and_weak_answers_one_item_per_answer(console):
    await say(console, "深圳的人工智能企业补贴标准是多少？", "g1")
    await say(console, "深圳人工智能企业有什么补贴？", "g2")
    out = await say(console, "市级财政科技资金每年增长多少？", "g3")
    await console.app.engine.feedback("web", "g3", out.replies[-1].message_id, "down")
    await say(console, "青岛人才总量有多少", "g4")  # answered from a weak passage (calibrated score 0.375)
    await say(console, "青岛计划建设多少家概念验证平台？", "g5")  # answered well: not a gap
    items = await collect(console.store, console.app.settings.retrieval_min_score)
    reasons = sorted((i.reason, i.question) for i in items)
    assert reasons == [("low_confidence", "青岛人才总量有多少"), ("no_answer", "深圳人工智能企业有什么补贴？"),
                       ("no_answer", "深圳的人工智能企业补贴标准是多少？"), ("thumbs_down", "市级财政科技资金每年增长多少？")]


async def test_the_gaps_api_groups_with_counts_and_masks_contact_details(console):
    for n, text in enumerate(["深圳的补贴标准是多少？我的电话13812345678", "深圳的补贴标准是多少？", "北京有什么补贴？"]):
        await say(console, text, f"m{n}")
    data = await console.api("GET", "/api/admin/gaps", role="operator")
    assert data["items"] == 3 and sum(g["count"] for g in data["groups"]) == 3
    assert all(g["reasons"] == {"no_answer": g["count"]} for g in data["groups"])
    assert "13812345678" not in str(data) and "138****5678" in str(data)
    assert sorted(c for g in data["groups"] for c in g["conversations"]) == [1, 2, 3]
