"""The web chat in headless Chromium against the real server and the bundled knowledge base."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

QUESTION = "青岛计划建设多少家概念验证平台？"
ANSWER = ".msg.assistant:not(.pending)"


def ask(page, text: str) -> None:
    page.get_by_label("输入您的问题").fill(text)
    page.keyboard.press("Enter")


def test_a_question_gets_a_streamed_cited_answer_whose_citation_opens_and_feedback_is_stored(page, server, shots):
    page.goto("/")
    expect(page.get_by_role("heading", name="青岛科技创新政策助手")).to_be_visible()
    expect(page.locator(".chip").first).to_be_visible()
    shots(page, "phone-zh-welcome")
    ask(page, QUESTION)
    answer = page.locator(ANSWER).last
    expect(answer).to_contain_text("60家", timeout=20_000)
    expect(page.get_by_label("输入您的问题")).to_have_value("")
    expect(answer.locator(".sources")).to_contain_text("来源")
    shots(page, "phone-zh-answer")

    answer.locator(".text .cite").first.click()
    dialog = page.locator("#source-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#source-text")).to_contain_text("概念验证平台60家左右")
    expect(dialog.locator("#source-section")).to_contain_text("优化市场服务")
    shots(page, "phone-zh-citation")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    up = answer.get_by_role("button", name="有帮助")
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    message_id = int(answer.get_attribute("data-id"))
    stored = server.call(server.app.store.get_message(message_id))
    assert stored.feedback == "up" and "60家" in stored.text
    assert page.problems == []


def test_history_survives_a_reload_and_the_page_switches_to_english_on_phone_and_desktop(page, desktop, shots):
    page.goto("/")
    ask(page, QUESTION)
    expect(page.locator(ANSWER).last).to_contain_text("60家", timeout=20_000)
    page.reload()
    expect(page.locator(".msg.user .text")).to_have_text([QUESTION])
    expect(page.locator(ANSWER).last.locator(".cite").first).to_be_visible()

    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("heading", name="Qingdao Innovation Policy Assistant")).to_be_visible()
    expect(page.locator(ANSWER).last.locator(".sources h3")).to_have_text("Sources")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shots(page, "phone-en")

    wide = desktop(page)  # same session and language, restored from the server
    wide.goto("/")
    expect(wide.get_by_role("heading", name="Qingdao Innovation Policy Assistant")).to_be_visible()
    expect(wide.locator(ANSWER).last.locator(".cite").first).to_be_visible()
    shots(wide, "desktop-en")
    wide.get_by_role("button", name="切换到中文").click()
    expect(wide.get_by_role("heading", name="青岛科技创新政策助手")).to_be_visible()
    shots(wide, "desktop-zh")
    assert page.problems == [] and wide.problems == []


def test_the_shared_palette_colours_the_chat_and_its_dark_values_follow_the_system_setting(page):
    page.goto("/")
    expect(page.locator(".top")).to_be_visible()
    root = "getComputedStyle(document.documentElement)"
    assert page.evaluate(f"{root}.getPropertyValue('--blue').trim()") == "#0b5cad"  # from palette.css
    assert page.evaluate(f"{root}.backgroundColor") == "rgb(244, 246, 249)"  # --bg
    assert page.evaluate(f"{root}.color") == "rgb(28, 36, 48)"  # --ink
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(f"{root}.backgroundColor") == "rgb(15, 20, 26)"  # the dark --bg
    assert page.evaluate(f"{root}.getPropertyValue('--blue').trim()") == "#4c9be8"
    assert page.problems == []


def test_new_chat_clears_the_view_and_the_human_button_asks_for_a_technology_manager(page):
    page.goto("/")
    ask(page, QUESTION)
    expect(page.locator(ANSWER).last).to_contain_text("60家", timeout=20_000)
    page.get_by_role("button", name="新对话").click()
    expect(page.locator(".msg.system")).to_contain_text("重新开始")
    expect(page.get_by_role("button", name="新对话")).to_be_enabled()  # the answer is complete
    expect(page.locator(".msg")).to_have_count(1)
    page.reload()
    expect(page.locator(".msg.system")).to_contain_text("重新开始")
    expect(page.locator(".msg.user")).to_have_count(0)
    page.get_by_role("button", name="联系技术经理人").first.click()
    expect(page.locator(".msg.user .text").last).to_have_text("联系技术经理人")
    expect(page.get_by_role("button", name="新对话")).to_be_enabled()
    expect(page.locator(".msg").last).to_have_class("msg system")  # the handoff desk's reply
    assert page.problems == []


def test_a_network_error_is_shown_inline_and_the_typed_text_is_kept(page):
    page.goto("/")
    page.route("**/api/chat/stream*", lambda route: route.abort())
    ask(page, "市级财政科技资金每年增长多少？")
    expect(page.get_by_role("alert")).to_contain_text("网络")
    expect(page.get_by_label("输入您的问题")).to_have_value("市级财政科技资金每年增长多少？")
    expect(page.locator(".msg")).to_have_count(0)


def test_an_llm_answer_streams_into_the_page_then_becomes_a_cited_answer(page, streaming_llm):
    streaming_llm.responder = lambda messages, body: "青岛计划三年内建设概念验证平台60家左右[1]，省级以上中试验证平台15家左右[1]。"
    page.goto("/")
    ask(page, QUESTION)
    expect(page.locator(".msg.pending .text")).to_contain_text("青岛计划三年内")  # part of it, while it streams
    answer = page.locator(ANSWER).last
    expect(answer).to_contain_text("中试验证平台15家左右", timeout=20_000)
    expect(answer.locator(".text .cite")).to_have_count(2)
    expect(page.locator(".msg.pending")).to_have_count(0)
    assert page.problems == []


def test_the_alerts_button_subscribes_and_a_new_document_is_noticed_on_the_next_visit(page, server):
    """The web chat's subscribe control: one click subscribes; an ingested document matching it is
    shown once when the page is opened again."""
    page.goto("/")
    page.get_by_role("button", name="订阅政策提醒").click()
    expect(page.locator(".msg.user .text").last).to_have_text("订阅政策提醒")
    expect(page.locator(".msg").last).to_contain_text("已订阅", timeout=10_000)
    doc = "# 青岛市概念验证中心资助办法（虚构测试数据）\n\n## 一、资助标准\n\n对新认定的概念验证中心给予一次性资助。\n"
    server.call(server.app.kb.ingest_bytes("alerts-fixture.md", doc.encode()))
    assert server.call(server.app.engine.notices.tick()) >= 1
    page.reload()
    expect(page.locator(".msg").filter(has_text="青岛市概念验证中心资助办法（虚构测试数据）")).to_have_count(1)
    server.call(server.app.kb.remove_document(
        next(d.id for d in server.call(server.app.store.kb.list_documents()) if d.source.endswith("alerts-fixture.md"))))


STOP_ANSWER = "青岛计划三年内建设概念验证平台60家左右[1]，省级以上中试验证平台15家左右[1]。"


def test_the_send_button_stops_a_streaming_answer_which_is_stored_as_stopped_and_the_next_question_works(
        page, desktop, server, held_llm, shots):
    import asyncio

    held_llm.responder = lambda messages, body: STOP_ANSWER
    held_llm.chunk_chars = 16  # the first chunk shows, then the model holds its stream
    page.goto("/")
    ask(page, QUESTION)
    expect(page.locator(".msg.pending .text")).to_have_text("青岛计划三年内建设概念验证平台6")
    stop = page.get_by_role("button", name="停止生成回答")
    expect(stop).to_be_enabled()
    expect(stop).to_have_text("停止")
    _copy(shots(page, "chat-streaming-390"))
    stop.click()
    stopped = page.locator(".msg.assistant.stopped")
    expect(stopped).to_contain_text("青岛计划三年内建设概念验证平台6")
    expect(stopped.locator(".stopped-label")).to_have_text("已停止生成。")
    expect(page.locator(".msg.pending")).to_have_count(0)
    expect(page.get_by_role("button", name="发送")).to_be_visible()
    server.call(asyncio.wait_for(held_llm.abandoned.wait(), 10))  # the model's stream was closed by the server
    stored = server.call(server.app.store.get_message(int(stopped.get_attribute("data-id"))))
    assert stored.meta.get("stopped") is True and stored.text == "青岛计划三年内建设概念验证平台6"

    page.reload()  # history shows it as stopped, nothing streams again
    expect(page.locator(".msg.assistant.stopped .stopped-label")).to_have_count(1)
    expect(page.locator(".msg.pending")).to_have_count(0)
    expect(page.locator(".msg.assistant.stopped .feedback")).to_have_count(0)
    _copy(shots(page, "chat-stopped-390"))
    wide = desktop(page)
    wide.goto("/")
    expect(wide.locator(".msg.assistant.stopped")).to_be_visible()
    _copy(shots(wide, "chat-stopped-1280"))

    wide.get_by_role("button", name="新对话").click()  # a fresh context: no follow-up rewrite asks the model first
    expect(wide.locator(".msg.system")).to_contain_text("重新开始")
    ask(wide, "青岛计划建设多少家中试验证平台？")  # the next question, on the desktop: held, then let go
    expect(wide.locator(".msg.pending .text")).to_have_text("青岛计划三年内建设概念验证平台6")
    expect(wide.get_by_role("button", name="停止生成回答")).to_be_enabled()
    _copy(shots(wide, "chat-streaming-1280"))
    server.loop.call_soon_threadsafe(held_llm.release.set)
    answer = wide.locator(ANSWER).last
    expect(answer).to_contain_text("中试验证平台15家左右", timeout=20_000)
    expect(answer.locator(".text .cite")).to_have_count(2)
    expect(answer.locator(".stopped-label")).to_have_count(0)
    expect(answer.locator(".feedback")).to_have_count(1)
    expect(wide.get_by_role("button", name="发送")).to_be_visible()
    assert page.problems == [] and wide.problems == []


def _copy(path) -> None:
    import shutil
    from pathlib import Path

    Path("/tmp/shots13").mkdir(exist_ok=True)
    shutil.copy(path, Path("/tmp/shots13") / path.name)
