"""The web chat's exactly-once delivery across two workers: the browser talks to worker A while the
technology manager's reply is stored by worker B (one PostgreSQL database), and the user writes in the
moment between two polls. The reply reaches the page once, before the user's message."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from bot.settings import load_settings
from tests.browser.conftest import PHONE, ServerThread, _free_port, _require_chromium, open_page
from tests.browser.test_handoff_chat import LAST, ask, open_ticket, queue_by_typing, reply_once_before_mine
from tests.conftest import create_pg_database, drop_pg_database, require_postgres

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, ServerThread]]:
    """Two servers in threads of their own, each with its own data dir, sharing one PostgreSQL database."""
    _require_chromium()
    require_postgres()
    name, url = asyncio.run(create_pg_database())
    home = tmp_path_factory.mktemp("two-workers")
    started: list[ServerThread] = []
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(home)
            for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "EMBEDDING_PROVIDER"):
                mp.delenv(var, raising=False)
            for n in ("a", "b"):
                srv = ServerThread(load_settings(qdbot_data_dir=home / n, qdbot_port=_free_port(), database_url=url))
                srv.start()
                started.append(srv)
            yield started[0], started[1]
    finally:
        for srv in started:
            srv.stop()
        asyncio.run(drop_pg_database(name))


@pytest.fixture(scope="module")
def two_browser(workers):
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def test_a_reply_stored_by_the_other_worker_just_before_the_user_writes_is_shown_once_and_in_order(two_browser, workers):
    a, b = workers
    page = open_page(two_browser, a, PHONE)
    page.goto("/")
    queue_by_typing(page)
    ticket = open_ticket(a, page)
    desk_b = b.app.engine.desk
    b.call(desk_b.claim(ticket.id, "console:ada", staff_name="ada"))
    expect(page.locator(LAST)).to_contain_text("已接入", timeout=10_000)  # stored by B, polled from A
    page.route("**/api/chat/history*", lambda route: route.abort())  # between two polls
    b.call(desk_b.reply(ticket.id, "console:ada", "请问专利号是多少？"))
    ask(page, "ZL2024 1234567.8")  # handled by worker A
    expect(page.locator(".msg.pending")).to_have_count(0)
    expect(page.get_by_role("button", name="新对话")).to_be_enabled()  # the send is over
    expect(page.locator(".msg.manager")).to_have_count(0)
    page.unroute("**/api/chat/history*")
    expect(page.locator(".msg.manager")).to_have_count(1, timeout=10_000)
    reply_once_before_mine(page, "ZL2024")
    page.context.close()
