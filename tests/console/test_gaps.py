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


# ---------------------------------------------------------------- gap states (open / answered / dismissed)

GAP_QUESTIONS = ["深圳的补贴标准是多少？", "北京有什么人才补贴？", "上海的孵化器怎么申请？"]


async def _open_groups(c, state: str = "open") -> dict[str, dict]:
    data = await c.api("GET", "/api/admin/gaps", role="operator", params={"state": state})
    assert data["state"] == state
    return {g["question"]: g for g in data["groups"]}


async def test_dismissing_groups_at_once_moves_them_off_the_open_list_audited_and_reopening_brings_them_back(console):
    for n, text in enumerate(GAP_QUESTIONS):
        await say(console, text, f"d{n}")
    groups = await _open_groups(console)
    assert sorted(groups) == sorted(GAP_QUESTIONS)
    picked = groups[GAP_QUESTIONS[0]]["keys"] + groups[GAP_QUESTIONS[1]]["keys"]
    out = await console.api("POST", "/api/admin/gaps/dismiss", role="operator", json={"keys": picked})
    assert out["dismissed"] == 2 and sorted(out["keys"]) == sorted(picked)
    assert list(await _open_groups(console)) == [GAP_QUESTIONS[2]]
    dismissed = await _open_groups(console, "dismissed")
    assert sorted(dismissed) == sorted(GAP_QUESTIONS[:2])
    assert all(g["decided_by"].startswith("operator") and g["decided_at"] for g in dismissed.values())
    data = await console.api("GET", "/api/admin/gaps", role="operator")
    assert data["counts"] == {"open": 1, "answered": 0, "dismissed": 2}
    audit = await console.store.console.audit_log(action="gaps_dismiss")
    assert len(audit) == 1 and audit[0].detail["count"] == 2 and audit[0].username.startswith("operator")

    await console.api("POST", "/api/admin/gaps/reopen", role="operator", json={"keys": picked[:1]})
    assert sorted(await _open_groups(console)) == sorted([GAP_QUESTIONS[0], GAP_QUESTIONS[2]])
    assert [a.detail["count"] for a in await console.store.console.audit_log(action="gaps_reopen")] == [1]


async def test_a_dismissed_question_stays_dismissed_when_it_is_asked_again_in_other_punctuation(console):
    await say(console, "深圳的补贴标准是多少？", "r1")
    (group,) = (await _open_groups(console)).values()
    await console.api("POST", "/api/admin/gaps/dismiss", role="admin", json={"keys": group["keys"]})
    await say(console, "深圳的补贴标准是多少", "r2")
    assert await _open_groups(console) == {}
    (dismissed,) = (await _open_groups(console, "dismissed")).values()
    assert dismissed["count"] == 2


async def test_a_curated_answer_written_for_a_gap_answers_it_until_it_is_retired(console):
    await say(console, "人才公寓怎么申请？", "a1")
    await say(console, "今天天气怎么样", "a2")
    group = (await _open_groups(console))["人才公寓怎么申请？"]
    created = await console.api("POST", "/api/admin/curated", role="operator", expect=201, json={
        "question": "人才公寓的申请方式", "answer": "请登录青岛人才平台在线申请。", "gap_keys": group["keys"]})
    curated_id = created["curated"]["id"]
    assert list(await _open_groups(console)) == ["今天天气怎么样"]
    answered = (await _open_groups(console, "answered"))["人才公寓怎么申请？"]
    assert answered["curated_id"] == curated_id
    await console.api("POST", f"/api/admin/curated/{curated_id}/retire", role="operator")
    assert sorted(await _open_groups(console)) == ["人才公寓怎么申请？", "今天天气怎么样"]


async def test_a_curated_answer_that_has_the_question_among_its_wordings_covers_the_gap(console):
    await say(console, "北京有什么人才补贴？", "w1")
    await console.api("POST", "/api/admin/curated", role="operator", expect=201, json={
        "question": "外地的人才补贴", "answer": "本助手只解答青岛的政策。", "examples": ["北京有什么人才补贴"]})
    assert await _open_groups(console) == {}
    assert list(await _open_groups(console, "answered")) == ["北京有什么人才补贴？"]


@pytest.mark.parametrize("body, detail", [({"keys": ["not-a-key"]}, "not a gap key"), ({"keys": "0" * 32}, "no gap has"),
                                          ({}, "keys"), ({"keys": [1, 2]}, "list of gap keys"),
                                          ({"questions": "x"}, "list of strings")])
async def test_a_dismissal_that_names_no_gap_or_a_malformed_key_is_refused_with_the_reason(sqlite_console, body, detail):
    resp = await sqlite_console.api("POST", "/api/admin/gaps/dismiss", role="operator", json=body, expect=400)
    assert detail in resp["detail"] and resp["error"]
    bad = await sqlite_console.api("GET", "/api/admin/gaps", role="operator", params={"state": "closed"}, expect=400)
    assert "open, answered, dismissed" in bad["detail"]


async def test_questions_can_be_dismissed_by_their_wording_and_managers_may_not(sqlite_console):
    c = sqlite_console
    await say(c, "上海的孵化器怎么申请？", "q1")
    await c.api("POST", "/api/admin/gaps/dismiss", role="manager", json={"questions": ["上海的孵化器怎么申请"]}, expect=403)
    out = await c.api("POST", "/api/admin/gaps/dismiss", role="operator", json={"questions": ["上海的孵化器怎么申请"]})
    assert out["dismissed"] == 1 and await _open_groups(c) == {}


async def test_the_gaps_page_dismisses_the_ticked_groups_with_one_form_and_shows_each_state_on_its_tab(sqlite_console):
    import re

    from aiohttp import FormData

    c = sqlite_console
    for n, text in enumerate(GAP_QUESTIONS):
        await say(c, text, f"p{n}")
    await c.account("operator", "olga")
    await c.login("olga")
    html = await (await c.client.get("/console/gaps")).text()
    assert 'id="gaps-bulk"' in html and "忽略所选" in html and "待处理 <span class=\"tab-count\">3</span>" in html
    boxes = re.findall(r'<input type="checkbox" form="gaps-bulk" name="keys" value="([0-9a-f ]+)"', html)
    assert len(boxes) == 3
    csrf = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
    form = FormData([("_csrf", csrf), ("next", "/console/gaps?days=30&state=open"), ("keys", boxes[0]), ("keys", boxes[1])])
    resp = await c.client.post("/api/admin/gaps/dismiss", data=form)
    page = await resp.text()
    assert resp.url.path == "/console/gaps" and resp.url.query["state"] == "open"
    assert "已忽略问题数： 2" in page and page.count('<article class="gap open"') == 1
    dismissed = await (await c.client.get("/console/gaps?state=dismissed")).text()
    assert dismissed.count('<article class="gap dismissed"') == 2 and "重新打开所选" in dismissed and "olga 于" in dismissed
    forged = await c.client.post("/api/admin/gaps/dismiss", data={"keys": boxes[2]}, allow_redirects=False)
    assert forged.status == 403  # no CSRF token
    english = await (await c.client.get("/console/gaps?state=dismissed&lang=en")).text()
    assert "Reopen selected" in english and "Dismissed" in english
