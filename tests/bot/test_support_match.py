"""Support items read from fictional policy documents, and three company profiles matched against them:
eligible, near misses ("还差：…"), unknowns; other places, other districts and expired documents never
offered. FICTIONAL TEST DATA (tests/bot/support_docs.py)."""
from __future__ import annotations

import pytest

from bot.clock import FixedClock
from bot.eligibility import EligibilityDesk
from bot.eligibility_render import render
from bot.support import DRAFT, PUBLISHED
from tests.bot.support_docs import TODAY, by_what, ingest
from tests.fakes.engine import make_engine


@pytest.fixture
async def desk(store, settings):
    await ingest(store)
    return EligibilityDesk(make_engine(store, settings), FixedClock(TODAY))


def names(group) -> set[str]:
    return {m.item.what for m in group}


async def test_items_are_read_with_amounts_ratios_caps_conditions_and_clauses(store):
    await ingest(store, publish=False)
    items = by_what(await store.eligibility.items(doc_id="city"))
    assert set(items) == {"高新技术企业奖励", "研发费用后补助", "专精特新培育", "初创科技企业"}
    award = items["高新技术企业奖励"]
    assert award.amount == 20 and award.ratio is None and award.state == DRAFT
    assert [(c.field, c.op, c.value) for c in award.conditions] == [("certifications", "has", "高新技术企业")]
    rd = items["研发费用后补助"]
    assert (rd.amount, rd.ratio, rd.cap) == (None, 10, 50)
    assert [(c.field, c.op, c.value) for c in rd.conditions] == [("rd_ratio", ">=", 3)]
    assert "按其研发费用增量的10%给予补助，最高50万元" in rd.clause and rd.section.endswith("研发费用后补助")
    sme = items["专精特新培育"]
    assert {(c.field, c.op, c.value) for c in sme.conditions} == {
        ("certifications", "has", "专精特新"), ("employees", "<=", 200), ("ip_count", ">=", 2)}
    young = items["初创科技企业"]
    assert {(c.field, c.op, c.value) for c in young.conditions} == {
        ("certifications", "has", "科技型中小企业"), ("age", "<", 5)}
    district = (await store.eligibility.items(doc_id="laoshan"))[0]
    assert (district.ratio, district.cap, district.district) == (5, 100, "崂山区")
    assert district.citation().title.startswith("崂山区技术转移奖励办法")


async def test_only_published_items_are_matched(store, settings):
    await ingest(store, publish=False)
    desk = EligibilityDesk(make_engine(store, settings), FixedClock(TODAY))
    profile = {"district": "崂山区", "certifications": ["高新技术企业"]}
    assert (await desk.match(profile)).all() == []
    award = by_what(await store.eligibility.items(doc_id="city"))["高新技术企业奖励"]
    assert await store.eligibility.set_state(award.id, PUBLISHED)
    assert names((await desk.match(profile)).eligible) == {"高新技术企业奖励"}


async def test_a_full_laoshan_profile_qualifies_for_four_items_and_misses_one_by_a_certification(desk):
    profile = {"district": "崂山区", "certifications": ["高新技术企业", "科技型中小企业"], "founded_year": 2024,
               "revenue": 8000, "employees": 120, "rd_ratio": 4.5, "ip_count": 3}
    result = await desk.match(profile)
    assert names(result.eligible) == {"高新技术企业奖励", "研发费用后补助", "初创科技企业", "奖励措施"}
    assert names(result.near_miss) == {"专精特新培育"} and result.unknown == []
    assert [c.value for c in result.near_miss[0].failed] == ["专精特新"]
    rd = next(m for m in result.eligible if m.item.what == "研发费用后补助")
    assert rd.window is not None and (rd.window.opens, rd.window.closes) == ("06-01", "06-30")


async def test_a_partial_shinan_profile_gets_near_misses_and_the_question_it_could_answer(desk):
    profile = {"district": "市南区", "certifications": ["科技型中小企业"], "rd_ratio": 2.0}
    result = await desk.match(profile)
    assert result.eligible == []
    assert names(result.near_miss) == {"高新技术企业奖励", "研发费用后补助", "专精特新培育"}
    sme = next(m for m in result.near_miss if m.item.what == "专精特新培育")
    assert [c.value for c in sme.failed] == ["专精特新"] and set(sme.missing) == {"employees", "ip_count"}
    assert names(result.unknown) == {"初创科技企业"} and result.unknown[0].missing == ("founded_year",)
    text = render(result, profile, TODAY.date(), "zh")
    assert "还差：研发费用占营业收入比例需≥3%（您的资料：2%）" in text
    assert "需要：成立年份" in text and "崂山区" not in text  # the district item is not offered at all


async def test_a_jinan_company_sees_only_jinan_items_and_never_an_expired_one(desk):
    result = await desk.match({"district": "济南", "certifications": ["高新技术企业"]})
    assert [m.item.doc_id for m in result.all()] == ["jinan"]
    qingdao = await desk.match({"district": "即墨区", "certifications": ["高新技术企业"]})
    assert "old" not in {m.item.doc_id for m in qingdao.all()} and "jinan" not in {m.item.doc_id for m in qingdao.all()}


async def test_a_company_of_another_district_is_never_offered_a_district_only_item(desk):
    for district in ("市南区", "西海岸新区", "胶州"):
        assert "laoshan" not in {m.item.doc_id for m in (await desk.match({"district": district})).all()}
    unknown = await desk.match({})  # no district yet: the item is an unknown that asks for it
    laoshan = next(m for m in unknown.unknown if m.item.doc_id == "laoshan")
    assert laoshan.missing == ("district",)


async def test_only_the_fields_that_could_make_an_item_eligible_are_asked(desk):
    from bot.matching import needed_fields
    from bot.profile import ASK_ORDER

    items = await desk.store.eligibility.items(state="published")
    today = TODAY.date()
    assert needed_fields({}, items, today, "青岛市", ASK_ORDER)[0] == "district"
    known = {"district": "市南区", "certifications": ["科技型中小企业"], "rd_ratio": 2.0}
    assert needed_fields(known, items, today, "青岛市", ASK_ORDER) == ["founded_year"]  # not 专精特新's employees


def test_facts_are_read_from_free_text_and_from_bare_answers_to_the_question_asked():
    from bot.profile import parse

    today = TODAY.date()
    assert parse("2019年成立，在崂山区，营收5000万，80人，研发投入占4%，有3件发明专利，是高新技术企业", None, today) == {
        "certifications": ["高新技术企业"], "district": "崂山区", "founded_year": 2019, "revenue": 5000.0,
        "rd_ratio": 4.0, "ip_count": 3, "employees": 80}
    assert parse("1.2亿", "revenue", today) == {"revenue": 12000.0}
    assert parse("80", "employees", today) == {"employees": 80}
    assert parse("没有", "certifications", today) == {"certifications": []}
    assert parse("成立3年", "founded_year", today) == {"founded_year": 2024}
    assert parse("我们在济南", "district", today) == {"district": "济南市"}
    assert parse("研发费用300万", None, today) == {"rd_spend": 300.0}


def test_a_model_item_is_kept_only_when_its_clause_is_verbatim_and_holds_every_figure():
    from knowledge.support_llm import checked

    text = "对首次认定的高新技术企业，给予20万元奖励。对研发费用占比不低于3%的企业，按研发费用的10%给予补助，最高50万元。"
    where = dict(doc_id="d", title="t（虚构）", source="s", region="青岛市")
    good = {"what": "研发补助", "ratio": 10, "cap": 50, "clause": "对研发费用占比不低于3%的企业，按研发费用的10%给予补助，最高50万元。",
            "conditions": [{"field": "rd_ratio", "op": ">=", "value": 3}]}
    invented_cap = {**good, "cap": 80}
    invented_threshold = {**good, "conditions": [{"field": "rd_ratio", "op": ">=", "value": 5}]}
    paraphrased = {**good, "clause": "研发费用占比3%以上的企业按10%补助，最高50万元。"}
    unknown_field = {**good, "conditions": [{"field": "tax", "op": ">=", "value": 3}]}
    kept = checked([good, invented_cap, invented_threshold, paraphrased, unknown_field, "junk"], text, {}, **where)
    assert [(i.what, i.ratio, i.cap, i.origin) for i in kept] == [("研发补助", 10, 50, "llm")]
