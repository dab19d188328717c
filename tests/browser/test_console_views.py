"""The console's finishing touches in headless Chromium (issue 13): gap states with bulk dismiss, readable chart
axes, the chunk viewer of a document, compact ticket cards; at 390x844 and 1280x800, screenshots in
/tmp/shots13/ for people to look at."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, open_page
from tests.browser.test_console import INTAKE, PASSWORD, server, signed_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots13")


def shot(shots, pg, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shots(pg, name, full_page=full_page), SHOTS / f"{name}.png")


def phone_of(browser, server, pg):  # noqa: F811
    """The same signed-in session on a 390x844 phone."""
    return open_page(browser, server, PHONE, storage_state=pg.context.storage_state())


def boxes(pg, selector: str) -> list[dict]:
    """Bounding boxes of the visible elements matching `selector`, left to right."""
    found = pg.locator(selector).evaluate_all(
        "els => els.filter(e => e.getClientRects().length).map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height, text: e.textContent}; })")
    return sorted(found, key=lambda b: b["x"])


def assert_axes_readable(pg) -> None:
    xs, ys = boxes(pg, "figure.bars text.tick.x"), boxes(pg, "figure.bars text.tick.y")
    assert len(xs) >= 3 and 5 <= len(ys) <= 6, (xs, ys)
    assert all(a["x"] + a["w"] <= b["x"] for a, b in zip(xs, xs[1:])), xs  # no two day labels overlap
    (chart,) = boxes(pg, "figure.bars > svg")
    assert chart["x"] <= xs[0]["x"] and xs[-1]["x"] + xs[-1]["w"] <= chart["x"] + chart["w"]  # none cut off
    assert min(b["h"] for b in xs + ys) >= 9  # drawn at a readable size
    values = [int(b["text"]) for b in sorted(ys, key=lambda b: -b["y"])]
    assert values[0] == 0 and len({b - a for a, b in zip(values, values[1:])}) == 1


@pytest.mark.parametrize("days", ["7", "30", "90"])
def test_the_dashboard_chart_has_round_labelled_y_ticks_and_day_labels_that_never_overlap(browser, signed_in, server,
                                                                                           shots, days):
    for n in range(3):
        server.chat(f"sess-chart-{days}-{n}", "青岛计划建设多少家概念验证平台？")
    pg = signed_in("olga", f"/console/dashboard?days={days}")
    assert_axes_readable(pg)
    phone = phone_of(browser, server, pg)
    phone.goto(f"/console/dashboard?days={days}")
    assert_axes_readable(phone)
    if days == "30":
        shot(shots, pg, "dashboard-1280", full_page=True)
        shot(shots, phone, "dashboard-390", full_page=True)
    phone.context.close()
    assert pg.problems == []


RULES = ("# 青岛市海洋科技成果转化条例（虚构测试数据）\n\n## 第一章 总则\n\n"
         "第一条 为促进海洋科技成果转化<script>window.__xss = 1</script>，制定本条例。\n\n"
         "第二条 本条例适用于本市行政区域内的海洋科技成果转化活动。<img src=x onerror=\"window.__xss = 2\">\n\n"
         "## 第二章 支持措施\n\n第三条 对转化成效突出的单位给予最高100万元奖励。\n\n"
         "第四条 对技术经理人按技术合同成交额给予奖励，每年评选一次优秀技术经理人并予以通报表扬。\n")


def test_the_kb_page_opens_a_documents_chunk_viewer_where_a_script_in_the_text_is_shown_and_never_run(
        browser, signed_in, server, shots):
    server.call(server.app.kb.ingest_bytes("rules-fixture.md", RULES.encode()))
    pg = signed_in("olga", "/console/kb")
    pg.on("dialog", lambda d: d.dismiss())
    pg.get_by_role("link", name="青岛市海洋科技成果转化条例（虚构测试数据）").click()
    expect(pg.get_by_role("heading", name="青岛市海洋科技成果转化条例（虚构测试数据）")).to_be_visible()
    chunks = pg.locator("li.chunk")
    expect(chunks.first).to_contain_text("<script>window.__xss = 1</script>")
    third = chunks.filter(has_text="100万元")
    expect(third.locator("header")).to_contain_text("第三条")
    expect(third.locator("header")).to_contain_text("青岛市")
    assert pg.evaluate("window.__xss") is None and pg.locator("li.chunk img").count() == 0
    shot(shots, pg, "chunks-1280", full_page=True)
    phone = phone_of(browser, server, pg)
    phone.goto(pg.url)
    expect(phone.locator("li.chunk").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    shot(shots, phone, "chunks-390", full_page=True)
    assert phone.evaluate("window.__xss") is None
    phone.context.close()
    assert pg.problems == []


def test_an_operator_ticks_two_gap_groups_dismisses_them_at_once_and_reopens_one(browser, signed_in, server, shots):
    asked = ["深圳的人工智能补贴标准是多少？", "北京有什么人才公寓？", "上海的孵化器怎么申请？"]
    for n, question in enumerate(asked):
        assert server.chat(f"sess-gapstate-{n}", question)["no_answer"] is True
    pg = signed_in("olga", "/console/gaps")
    groups = {q: pg.locator("article.gap", has_text=q) for q in asked}
    for q in asked:
        expect(groups[q]).to_be_visible()
    shot(shots, pg, "gaps-1280", full_page=True)
    phone = phone_of(browser, server, pg)
    phone.goto("/console/gaps")
    expect(phone.locator("article.gap").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(shots, phone, "gaps-390", full_page=True)
    phone.context.close()

    groups[asked[0]].get_by_role("checkbox").check()
    groups[asked[1]].get_by_role("checkbox").check()
    pg.get_by_role("button", name="忽略所选").click()
    expect(pg.locator(".flash")).to_contain_text("已忽略问题数： 2")
    expect(pg.locator("article.gap", has_text=asked[2])).to_be_visible()
    for q in asked[:2]:
        expect(pg.locator("article.gap", has_text=q)).to_have_count(0)
    pg.get_by_role("link", name="已忽略").click()
    dismissed = pg.locator("article.gap.dismissed")
    expect(dismissed.filter(has_text=asked[0])).to_contain_text("olga 于")
    shot(shots, pg, "gaps-dismissed-1280", full_page=True)
    dismissed.filter(has_text=asked[1]).get_by_role("button", name="重新打开").click()
    expect(pg.locator(".flash")).to_contain_text("已重新打开问题数： 1")
    pg.get_by_role("link", name="待处理").click()
    expect(pg.locator("article.gap.open", has_text=asked[1])).to_be_visible()
    audit = server.call(server.app.store.console.audit_log(action="gaps_dismiss"))
    assert audit[0].username == "olga" and audit[0].detail["count"] == 2
    assert pg.problems == []


def test_ticket_cards_show_the_request_first_in_at_most_160_px_and_open_their_details_in_place(browser, signed_in,
                                                                                                server, shots):
    for n in range(3):
        server.chat(f"sess-cards-{n}", "/human")
        for answer in INTAKE:
            server.chat(f"sess-cards-{n}", answer)
    waiting = server.call(server.app.store.tickets.list(("waiting",)))
    server.call(server.app.engine.desk.claim(waiting[0].id, "alice"))
    pg = signed_in("ada", "/console/tickets")
    cards = pg.locator("#queue article.ticket-card")
    expect(cards.first).to_be_visible()
    assert len(boxes(pg, "#queue article.ticket-card")) >= 3
    assert max(b["h"] for b in boxes(pg, "#queue article.ticket-card")) <= 160
    first = pg.locator("#queue article.ticket-card.waiting").first
    expect(first.locator(".tc-request")).to_contain_text("专利许可 · 海洋生物：一项海藻提取专利想授权给企业")
    expect(pg.locator("#queue article.ticket-card.active").first.locator(".tc-meta")).to_contain_text("alice")
    shot(shots, pg, "tickets-1280", full_page=True)
    phone = phone_of(browser, server, pg)
    phone.goto("/console/tickets")
    expect(phone.locator("#queue article.ticket-card").first).to_be_visible()
    assert max(b["h"] for b in boxes(phone, "#queue article.ticket-card")) <= 200
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(shots, phone, "tickets-390", full_page=True)
    phone.context.close()

    first.locator("summary").click()
    expect(first.locator(".tc-details .turn").first).to_be_visible()  # the conversation, loaded when opened
    expect(first.locator(".tc-details")).to_contain_text("青岛某某科技有限公司")  # the intake answers
    shot(shots, pg, "tickets-details-1280")
    pg.evaluate("document.querySelector('#queue').setAttribute('data-refreshed', '')")
    for text in ("/human", *INTAKE):  # a new ticket waits: the queue is redrawn live
        server.chat("sess-cards-new", text)
    expect(pg.locator("#queue")).not_to_have_attribute("data-refreshed", "", timeout=10_000)
    expect(first.locator(".tc-details .turn").first).to_be_visible()  # what was open stays open
    assert pg.problems == []
