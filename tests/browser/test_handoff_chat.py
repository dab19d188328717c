"""The handoff as a web-chat user lives it, in headless Chromium against the real server (no roster:
a fresh install): intake by buttons, the honest queued notice, the ticket banner, cancelling, asking
while queued, a new chat, the manager's reply racing the user's own message, rating by button, and
answers rendered as safe Markdown."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from adapters.web.session import COOKIE, public_id

pytestmark = pytest.mark.browser

QUESTION = "青岛计划建设多少家概念验证平台？"
UX_SHOTS = Path("/tmp/ux-shots")
LAST = ".msg.system >> nth=-1"


def ask(page, text: str) -> None:
    expect(page.get_by_role("button", name="新对话")).to_be_enabled()  # the previous send is over
    page.get_by_label("输入您的问题").fill(text)
    page.keyboard.press("Enter")


def shot(shots, page, name: str) -> None:
    UX_SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shots(page, name), UX_SHOTS / f"{name}.png")


def session_of(server, page) -> str:
    """The id the page's conversation is stored under: derived from the HttpOnly session cookie."""
    secret = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    return public_id(server.app.settings.secret_key(), secret)


def open_ticket(server, page):
    conv = server.call(server.app.store.find_conversation("web", session_of(server, page)))
    return server.call(server.app.store.tickets.open_for(conv.id))


def reply_once_before_mine(page, mine: str) -> None:
    """After the race: the manager's reply is on the page once (another poll changes nothing), before
    the user's own message that was sent meanwhile."""
    with page.expect_response("**/api/chat/history*"):  # one more poll changes nothing
        pass
    expect(page.locator(".msg.manager")).to_have_count(1)
    roles = page.locator(".msg").evaluate_all("ns => ns.map(n => n.classList[1] + ':' + n.innerText)")
    reply_at = next(i for i, r in enumerate(roles) if r.startswith("manager:"))
    mine_at = next(i for i, r in enumerate(roles) if r.startswith("user:") and mine in r)
    assert reply_at < mine_at, roles


def queue_by_typing(page) -> None:
    """Ask for a manager and answer the intake by typing (every answer is checked before the next)."""
    page.get_by_role("button", name="联系技术经理人").first.click()
    expect(page.locator(LAST)).to_contain_text("您需要哪类服务")
    for answer, next_question in (("2", "技术领域"), ("海洋生物", "单位"), ("青岛某某科技有限公司", "称呼"),
                                  ("王先生", "手机号"), ("13812345678", "描述"), ("一项海藻提取专利想授权给企业", "工单")):
        ask(page, answer)
        expect(page.locator(LAST)).to_contain_text(next_question)


def test_with_no_roster_intake_runs_on_buttons_and_the_queued_notice_says_when_staff_will_look(page, desktop, server, shots):
    page.goto("/")
    page.get_by_role("button", name="联系技术经理人").first.click()
    question = page.locator(LAST)
    expect(question).to_contain_text("您需要哪类服务")
    expect(question.locator(".who")).to_have_text("政策助手")  # an assistant bubble, not a status line
    expect(question.get_by_role("button")).to_have_count(9)  # 1-7, skip, cancel
    expect(page.locator("#ticket-banner")).to_contain_text("正在登记您的需求")
    shot(shots, page, "phone-intake")
    question.get_by_role("button", name="2 专利许可").click()
    expect(page.locator(LAST)).to_contain_text("技术领域")
    expect(page.locator(".msg.user .text").last).to_have_text("2")
    page.locator(LAST).get_by_role("button", name="跳过").click()
    expect(page.locator(LAST)).to_contain_text("单位或企业名称")
    for answer, next_question in (("青岛某某科技有限公司", "称呼"), ("王先生", "手机号"), ("13812345678", "描述")):
        ask(page, answer)
        expect(page.locator(LAST)).to_contain_text(next_question)
    page.locator(LAST).get_by_role("button", name="跳过").click()
    queued = page.locator(LAST)
    expect(queued).to_contain_text("目前没有技术经理人在线值守")
    expect(queued).to_contain_text("周一至周五")
    expect(queued).not_to_contain_text("正在联系")
    expect(page.locator("#ticket-banner")).to_contain_text("工作时间内会有人联系您")
    ticket = open_ticket(server, page)
    assert ticket.state == "waiting" and ticket.meta["unstaffed"] == "no_roster"
    assert ticket.fields["kind"] == "licence" and ticket.fields["field"] is None
    shot(shots, page, "phone-queued")
    wide = desktop(page)
    wide.goto("/")
    expect(wide.locator(LAST)).to_contain_text("目前没有技术经理人在线值守")
    expect(wide.locator("#ticket-banner")).to_be_visible()
    shot(shots, wide, "desktop-queued")
    assert page.problems == [] and wide.problems == []


def test_a_queued_user_asks_a_policy_question_cancels_and_starts_a_new_chat(page, server, shots):
    page.goto("/")
    queue_by_typing(page)
    ticket = open_ticket(server, page)
    ask(page, QUESTION)
    answer = page.locator(".msg.assistant:not(.pending)").last
    expect(answer).to_contain_text("60家", timeout=20_000)
    expect(page.locator(".msg.system").last).to_contain_text(f"工单 #{ticket.id} 仍在排队")
    expect(page.locator("#ticket-banner")).to_be_visible()
    page.locator("#ticket-cancel").click()
    expect(page.locator(LAST)).to_contain_text(f"工单 #{ticket.id} 已取消")
    expect(page.locator("#ticket-banner")).to_be_hidden()
    assert server.call(server.app.store.tickets.get(ticket.id)).state == "cancelled"

    queue_by_typing(page)
    second = open_ticket(server, page)
    page.get_by_role("button", name="新对话").click()
    expect(page.locator(".msg.system").last).to_contain_text("重新开始")
    expect(page.locator("#ticket-banner")).to_be_hidden()
    expect(page.locator(".msg.user")).to_have_count(0)
    assert server.call(server.app.store.tickets.get(second.id)).state == "cancelled"
    assert page.problems == []


def test_a_manager_reply_pushed_just_before_the_user_writes_is_shown_once_and_in_order(page, server):
    """The race of issue 13: the reply is stored while the page is between polls, then the user sends a
    message (its stream ends before the next poll). The page must still show the reply, once, before it."""
    page.goto("/")
    queue_by_typing(page)
    ticket = open_ticket(server, page)
    desk = server.app.engine.desk
    server.call(desk.claim(ticket.id, "console:ada", staff_name="ada"))
    expect(page.locator(LAST)).to_contain_text("已接入", timeout=10_000)
    page.route("**/api/chat/history*", lambda route: route.abort())  # the page is between two polls
    server.call(desk.reply(ticket.id, "console:ada", "请问专利号是多少？"))
    ask(page, "ZL2024 1234567.8")
    expect(page.locator(".msg.pending")).to_have_count(0)
    expect(page.get_by_role("button", name="新对话")).to_be_enabled()  # the send is over
    expect(page.locator(".msg.manager")).to_have_count(0)
    page.unroute("**/api/chat/history*")
    with page.expect_response("**/api/chat/history*"):
        pass
    expect(page.locator(".msg.manager")).to_have_count(1, timeout=10_000)
    reply_once_before_mine(page, "ZL2024")
    ids = [int(i) for i in page.locator(".msg").evaluate_all("ns => ns.map(n => n.dataset.id)") if i]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert page.problems == [] or all("history" in p for p in page.problems)


def test_after_the_service_the_user_rates_it_with_a_star_button(page, desktop, server, shots):
    page.goto("/")
    queue_by_typing(page)
    ticket = open_ticket(server, page)
    desk = server.app.engine.desk
    server.call(desk.claim(ticket.id, "console:ada", staff_name="ada"))
    server.call(desk.reply(ticket.id, "console:ada", "已为您对接受让方。"))
    server.call(desk.resolve(ticket.id, "console:ada", "done"))
    rating = page.locator(LAST)
    expect(rating).to_contain_text("打分", timeout=10_000)
    expect(rating.get_by_role("button")).to_have_count(5)
    expect(page.locator("#ticket-banner")).to_be_hidden()
    shot(shots, page, "phone-rating")
    wide = desktop(page)
    wide.goto("/")
    expect(wide.locator(LAST).get_by_role("button")).to_have_count(5)
    shot(shots, wide, "desktop-rating")
    rating.get_by_role("button", name="★★★★★", exact=True).click()
    expect(page.locator(LAST)).to_contain_text("感谢您的评价", timeout=10_000)
    assert server.call(server.app.store.tickets.get(ticket.id)).rating == 5
    expect(page.locator(".quick-reply:visible")).to_have_count(0)  # the stars are gone once answered
    assert page.problems == [] and wide.problems == []


def test_an_answer_is_rendered_as_markdown_and_html_in_it_never_runs(page, desktop, streaming_llm, shots):
    streaming_llm.stream_delay = 0.0
    streaming_llm.responder = lambda messages, body: (
        "**概念验证平台**的建设目标：\n\n- 建设概念验证平台60家左右[1]\n- 详见[青岛市科技局](https://kjj.qingdao.gov.cn/)\n\n"
        "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">")
    page.goto("/")
    ask(page, QUESTION)
    answer = page.locator(".msg.assistant:not(.pending)").last
    expect(answer.locator("strong")).to_have_text("概念验证平台", timeout=20_000)
    expect(answer.locator(".text li")).to_have_count(2)
    expect(answer.locator(".text a")).to_have_attribute("href", "https://kjj.qingdao.gov.cn/")
    expect(answer.locator(".text a")).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(answer.locator(".text li .cite")).to_have_count(1)
    expect(answer).to_contain_text("<script>window.__pwned = 1</script>")  # shown as text
    assert answer.locator("script, img").count() == 0
    assert page.evaluate("window.__pwned") is None
    follow = answer.locator(".follow-ups .quick-reply")
    expect(follow.first).to_contain_text("还有哪些具体规定")  # from the cited section
    shot(shots, page, "phone-answer")
    page.emulate_media(color_scheme="dark")  # follows the system setting
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(15, 20, 26)"
    shot(shots, page, "phone-answer-dark")
    wide = desktop(page)
    wide.goto("/")
    expect(wide.locator(".msg.assistant strong").last).to_have_text("概念验证平台")
    assert wide.evaluate("window.__pwned") is None
    shot(shots, wide, "desktop-answer")
    assert page.problems == [] and wide.problems == []
