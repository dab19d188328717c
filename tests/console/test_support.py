"""The console's support-item review (issue 17): items per document, correcting and publishing them
(only published items are matched), and the match statistics chart. FICTIONAL TEST DATA
(tests/bot/support_docs.py)."""
from __future__ import annotations

from bot.clock import FixedClock
from bot.eligibility import EligibilityDesk
from tests.bot.support_docs import TODAY, by_what, ingest


async def test_an_operator_reviews_corrects_and_publishes_items_and_only_published_ones_match(console):
    store = console.store
    await ingest(store, publish=False)
    html = await console.api("GET", "/console/support", "operator")
    assert "崂山区技术转移奖励办法" in html and "研发费用后补助" in html and "待审" in html
    assert "研发费用占营业收入比例需≥3%" in html and "按其研发费用增量的10%给予补助，最高50万元" in html
    desk = EligibilityDesk(console.app.engine, FixedClock(TODAY))
    profile = {"district": "崂山区", "certifications": ["高新技术企业"], "rd_ratio": 2.5}
    assert (await desk.match(profile)).all() == []
    items = by_what(await store.eligibility.items(doc_id="city"))
    rd = items["研发费用后补助"]
    await console.api("POST", f"/api/admin/support/{rd.id}", "operator",
                      json={"what": "研发费用后补助", "ratio": "10", "cap": "50", "conditions": "rd_ratio >= 2",
                            "state": "published"})
    await console.api("POST", f"/api/admin/support/{items['高新技术企业奖励'].id}/state", "operator",
                      json={"state": "published"})
    result = await desk.match(profile)
    assert {m.item.what for m in result.eligible} == {"研发费用后补助", "高新技术企业奖励"}
    corrected = await store.eligibility.get_item(rd.id)
    assert corrected.origin == "operator" and [(c.field, c.value) for c in corrected.conditions] == [("rd_ratio", 2)]
    await ingest(store, publish=False)  # a re-ingest keeps the correction and the publication
    again = by_what(await store.eligibility.items(doc_id="city"))
    assert again["研发费用后补助"].conditions == corrected.conditions and again["高新技术企业奖励"].state == "published"
    bad = await console.api("POST", f"/api/admin/support/{rd.id}", "operator", expect=400,
                            json={"conditions": "rd_ratio about 3"})
    assert "rd_ratio about 3" in str(bad)


async def test_the_statistics_chart_shows_the_items_qualified_for_and_the_conditions_failed(console):
    store = console.store
    await ingest(store)
    desk = EligibilityDesk(console.app.engine, FixedClock(TODAY))
    for rd in (4.0, 2.0, 1.0):
        result = await desk.match({"district": "崂山区", "certifications": ["高新技术企业"], "rd_ratio": rd})
        await store.eligibility.record_matches([(m.item.id, m.outcome, m.failed[0].field if m.failed else "")
                                                for m in result.all()])
    stats = await store.eligibility.stats()
    assert dict((i.what, n) for i, n in stats.eligible)["高新技术企业奖励"] == 3
    assert dict(stats.failed)["rd_ratio"] == 2
    html = await console.api("GET", "/console/support", "operator")
    assert "<svg" in html and "差一个条件时最常差的条件" in html and "研发费用占营业收入比例" in html
