"""The self-check in headless Chromium against the real server: an operator reviews and publishes the
support items at /console/support, a web-chat user on a phone builds a profile in the chat and gets the
cited result, and the statistics chart shows the match. Screenshots go to /tmp/elig-shots/.
FICTIONAL TEST DATA (tests/bot/support_docs.py)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bot.clock import FixedClock
from bot.support import PUBLISHED
from tests.browser.conftest import PHONE, open_page
from tests.browser.test_console import server, signed_in  # noqa: F401  (the console server of that module)
from tests.bot.support_docs import ALL, TODAY, ingest

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/elig-shots")
LAST = ".msg:not(.user):not(.pending)"


def shot(pg, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    shutil.copy(path, Path("/tmp/qdbot-screenshots") / path.name) if Path("/tmp/qdbot-screenshots").is_dir() else None


def ask(pg, text: str, expected: str) -> None:
    """Send one message; the first reply after it must contain `expected`."""
    before = pg.locator(LAST).count()
    pg.get_by_label("输入您的问题").fill(text)
    pg.keyboard.press("Enter")
    expect(pg.locator(LAST).nth(before)).to_contain_text(expected, timeout=20_000)


async def _publish_rest(store) -> None:
    """The fixture documents' items (the bundled document's stay drafts)."""
    for item in await store.eligibility.items():
        if item.state != PUBLISHED and item.doc_id in {d[0] for d in ALL}:
            await store.eligibility.set_state(item.id, PUBLISHED)


def test_an_operator_publishes_items_and_a_web_user_gets_a_cited_match(signed_in, server, browser):  # noqa: F811
    server.call(ingest(server.app.store, publish=False))
    server.app.engine.eligibility.clock = FixedClock(TODAY)
    pg = signed_in("olga", "/console/support")
    expect(pg.get_by_role("heading", name="政策支持条目")).to_be_visible()
    row = pg.locator("tr", has_text="研发费用后补助")
    expect(row).to_contain_text("研发费用占营业收入比例需≥3%")
    shot(pg, "console-support-review")
    row.get_by_role("button", name="发布").click()
    expect(pg.locator("tr", has_text="研发费用后补助")).to_contain_text("已发布")
    server.call(_publish_rest(server.app.store))

    phone = open_page(browser, server, PHONE)
    try:
        phone.goto("/")
        ask(phone, "帮我看看我们公司能申请哪些政策", "同意")
        ask(phone, "同意", "注册在哪个区市")
        ask(phone, "崂山区，2024年成立，是高新技术企业和科技型中小企业", "研发费用占营业收入的比例")
        ask(phone, "4.5%", "符合条件")
        result = phone.locator(LAST).last
        expect(result).to_contain_text("还差：需为专精特新")
        shot(phone, "phone-eligibility-result")
        assert phone.problems == []
    finally:
        phone.context.close()

    pg.goto("/console/support")
    expect(pg.locator("#stats svg").first).to_be_visible()
    shot(pg, "console-support-stats")
