"""Curated answers: which questions match (calibrated on labelled pairs with the real local embedder and
without one), how operators write, edit and retire them, and how the assistant cites them."""
from __future__ import annotations

import pytest

from bot.curated import THRESHOLDS, CuratedAnswers, same_words
from bot.settings import load_settings
from bot.types import AnswerMode

# (curated question, asked question, same meaning?)
PAIRS = [
    ("人才公寓怎么申请", "人才公寓如何申请？", True),
    ("概念验证平台有多少家", "青岛建了多少个概念验证平台", True),
    ("专利转让需要交税吗", "转让专利要缴纳什么税", True),
    ("青岛计划建设多少家概念验证平台？", "青岛要建多少个概念验证平台", True),
    ("青岛对高新技术企业有什么奖励？", "高新技术企业认定后青岛给多少补贴？", True),
    ("怎么申请科技型中小企业认定？", "科技型中小企业如何申报？", True),
    ("人才公寓怎么申请", "青岛人才住房申请流程", True),
    ("研发费用加计扣除比例是多少", "研发费用加计扣除能扣多少", True),
    ("人才公寓怎么申请", "人才补贴怎么申请", False),
    ("高新技术企业认定后青岛给多少补贴？", "高新技术企业认定需要什么条件", False),
    ("概念验证平台有多少家", "中试平台有多少家", False),
    ("概念验证平台有多少家", "研发费用加计扣除比例是多少", False),
    ("青岛对高新技术企业有什么奖励？", "今天天气怎么样", False),
    ("专利转让需要交税吗", "商标转让需要交税吗", False),
    ("青岛计划建设多少家概念验证平台？", "济南计划建设多少家概念验证平台？", False),
    ("科技型中小企业如何申报？", "科技型中小企业有什么税收优惠？", False),
]


# a curated answer with the wordings of its gap group, and a new wording of the same question
GROUPS = [
    ("怎么申请科技型中小企业认定？", ["科技型中小企业如何申报？", "科技型中小企业评价怎么申报"], "科技型中小企业怎么申报？"),
    ("青岛对高新技术企业有什么奖励？", ["高新技术企业有什么补贴", "高新技术企业认定奖励多少钱"], "高新技术企业能拿多少补贴？"),
    ("人才公寓怎么申请", ["人才住房怎么申请", "人才公寓申请流程"], "青岛人才住房如何申请？"),
    ("研发费用加计扣除比例是多少", ["研发费用加计扣除能扣多少"], "研发费用加计扣除可以扣多少？"),
]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    from knowledge.embeddings import make_embedder

    return make_embedder(load_settings(qdbot_data_dir=tmp_path_factory.mktemp("emb")))


async def _only(store, question: str, examples: list[str] | None = None):
    for record in await store.console.curated_list("active"):
        await store.console.update_curated(record.id, "t", status="retired")
    return await store.console.add_curated(question, f"关于“{question}”的答复", examples or [], "zh", "t")


async def _score(store, matcher: CuratedAnswers) -> tuple[list, list]:
    """(false matches, missed paraphrases) over the labelled pairs."""
    wrong, missed = [], []
    for curated, asked, same in PAIRS:
        await _only(store, curated)
        matched = await matcher.match(asked) is not None
        if matched and not same:
            wrong.append((curated, asked))
        if same and not matched:
            missed.append((curated, asked))
    return wrong, missed


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_with_the_local_embedder_no_different_question_matches_and_half_the_paraphrases_do(store, embedder):
    matcher = CuratedAnswers(store, embedder)
    assert matcher.threshold == THRESHOLDS[embedder.model_id]
    wrong, missed = await _score(store, matcher)
    assert wrong == [] and len(missed) <= 4, missed


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_the_group_wordings_stored_with_the_answer_bring_new_wordings_in(store, embedder):
    for matcher in (CuratedAnswers(store, embedder), CuratedAnswers(store)):
        for question, examples, asked in GROUPS:
            record = await _only(store, question, examples)
            match = await matcher.match(asked)
            assert match is not None and match.curated_id == record.id, (asked, matcher.embedder)
        wrong, _ = await _score(store, matcher)
        assert wrong == []


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_without_an_embedder_bigram_overlap_and_the_word_rule_still_refuse_every_different_question(store):
    wrong, missed = await _score(store, CuratedAnswers(store))
    assert wrong == [] and len(missed) <= 5


def test_the_word_rule_wants_the_question_s_words_and_places_in_the_wording():
    assert same_words("青岛要建多少个概念验证平台", "青岛计划建设多少家概念验证平台？")
    assert not same_words("济南计划建设多少家概念验证平台", "青岛计划建设多少家概念验证平台？")
    assert not same_words("中试平台有多少家", "概念验证平台有多少家")
    assert not same_words("怎么样", "概念验证平台有多少家")


async def test_a_match_becomes_an_answer_cited_as_reviewed_by_the_operators(store):
    record = await _only(store, "人才公寓怎么申请", ["人才公寓申请流程"])
    match = await CuratedAnswers(store).match("人才公寓如何申请？")
    assert match is not None and match.curated_id == record.id and match.answer == record.answer
    answer = match.to_answer("zh")
    assert answer.mode is AnswerMode.CURATED and answer.text == record.answer
    assert answer.citations[0].title == "运营人员审核的答复" and answer.citations[0].source == f"curated:{record.id}"
    assert match.to_answer("en").citations[0].title == "Answer reviewed by the operators"
    await store.console.update_curated(record.id, "t", status="retired")
    assert await CuratedAnswers(store).match("人才公寓如何申请？") is None  # retired answers are not used


async def test_operators_write_edit_list_and_retire_curated_answers_and_each_change_is_audited(console):
    created = await console.api("POST", "/api/admin/curated", role="operator", expect=201, json={
        "question": "人才公寓怎么申请", "answer": "请登录青岛人才服务平台申请。",
        "examples": "人才公寓如何申请？\n人才公寓如何申请？\n\n人才公寓申请流程"})
    cid = created["curated"]["id"]
    assert created["curated"]["examples"] == ["人才公寓如何申请？", "人才公寓申请流程"] and created["curated"]["lang"] == "zh"
    edited = await console.api("POST", f"/api/admin/curated/{cid}", role="operator",
                               json={"answer": "请登录“青岛人才”平台在线申请。"})
    assert edited["curated"]["answer"] == "请登录“青岛人才”平台在线申请。" and edited["curated"]["question"] == "人才公寓怎么申请"
    assert (await CuratedAnswers(console.store).match("人才公寓如何申请？")).answer == "请登录“青岛人才”平台在线申请。"
    await console.api("POST", f"/api/admin/curated/{cid}/retire", role="operator", json={})
    listed = await console.api("GET", "/api/admin/curated", role="operator", params={"status": "retired"})
    assert [c["id"] for c in listed["curated"]] == [cid]
    await console.api("POST", "/api/admin/curated", role="operator", expect=400, json={"question": "只有问题"})
    await console.api("POST", "/api/admin/curated/999/retire", role="operator", expect=404, json={})
    actions = [a.action for a in await console.store.console.audit_log()][:3]
    assert actions == ["curated_retire", "curated_update", "curated_create"]
