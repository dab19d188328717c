"""The operator console in headless Chromium against the real server (web chat and console on one aiohttp
server, the seeded knowledge base, the local embedder), while web-chat users talk to it over its API."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from bot.app import build_app, channel_factories, make_web_app, run_server
from bot.settings import load_settings
from bot.records import ManagerRecord
from tests.browser.conftest import DESKTOP, ServerThread, _free_port, _require_chromium, open_page

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
INTAKE = ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678", "一项海藻提取专利想授权给企业")
FACT = "# 青岛市海洋牧场建设扶持办法\n\n## 一、补助标准\n\n对新建的海洋牧场示范区，每个项目给予最高300万元建设补助。\n"


class ConsoleServer(ServerThread):
    """`qdbot serve` with the console among the channels (added here until bot.app lists it)."""

    async def _main(self) -> None:
        import asyncio

        from adapters import console

        self._stop = asyncio.Event()
        self.app = await build_app(self.settings)
        factories = channel_factories()
        if not any(getattr(f, "__module__", "").startswith("adapters.console") for f in factories):
            factories.append(console.create)
        try:
            await run_server(self.app, make_web_app(self.app, factories), self._stop)
        finally:
            await self.app.close()

    @property
    def console(self):
        return next(c for c in self.app.channels if c.name == "console")

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def chat(self, session: str, text: str) -> dict:
        return self.post("/api/chat", {"session_id": session, "text": text})

    def history(self, session: str) -> list[dict]:
        req = urllib.request.Request(f"{self.url}/api/chat/history", headers={"X-Chat-Session": session})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["messages"]


async def _accounts(srv: ConsoleServer) -> None:
    await srv.app.store.tickets.upsert_manager(ManagerRecord("alice", "张工", ("专利", "海洋")))
    for username, role in (("ada", "admin"), ("olga", "operator"), ("mia", "manager")):
        await srv.console.accounts.create(username, role, PASSWORD, "alice" if role == "manager" else None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seeded_dir) -> Iterator[ConsoleServer]:
    """One server for the module, on a copy of the seeded data dir, with an admin, an operator and a manager."""
    _require_chromium()
    home = tmp_path_factory.mktemp("console-serve")
    shutil.copytree(seeded_dir, home / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL", "CHROMA_HOST", "EMBEDDING_PROVIDER"):
            mp.delenv(var, raising=False)
        srv = ConsoleServer(load_settings(qdbot_data_dir=home / "data", qdbot_port=_free_port()))
        srv.start()
        srv.call(_accounts(srv))
        yield srv
        srv.stop()


@pytest.fixture
def signed_in(browser, server):
    """`signed_in(username)`: a desktop page signed in through the login form."""
    pages = []

    def open_as(username: str, path: str = "/console"):
        pg = open_page(browser, server, DESKTOP, accept_downloads=True)
        pages.append(pg)
        pg.goto(path)
        expect(pg).to_have_url(re.compile(r"/console/login"))
        pg.get_by_label("用户名").fill(username)
        pg.get_by_label("密码").fill(PASSWORD)
        pg.get_by_role("button", name="登录").click()
        expect(pg.get_by_role("button", name="退出")).to_be_visible()
        return pg
    yield open_as
    for pg in pages:
        pg.context.close()


def test_an_operator_signs_in_filters_conversations_opens_a_transcript_and_exports_csv(signed_in, server, shots):
    server.chat("sess-browser-a1", "青岛计划建设多少家概念验证平台？")
    server.chat("sess-browser-a2", "我的电话13912345678，市级财政科技资金每年增长多少？")
    pg = signed_in("olga")
    expect(pg.get_by_role("heading", name="仪表盘")).to_be_visible()
    expect(pg.locator("svg[role=img]").first).to_be_visible()
    root = "getComputedStyle(document.documentElement)"
    assert pg.evaluate(f"{root}.backgroundColor") == "rgb(244, 246, 249)"  # --bg of the shared palette.css
    assert pg.evaluate(f"{root}.getPropertyValue('--red-soft').trim()") == "#fdecea"
    pg.emulate_media(color_scheme="dark")
    assert pg.evaluate(f"{root}.backgroundColor") == "rgb(244, 246, 249)"  # the console has no dark mode
    pg.emulate_media(color_scheme="light")
    shots(pg, "console-dashboard", full_page=True)
    pg.get_by_role("link", name="会话").click()
    pg.get_by_label("关键词").fill("财政科技资金")
    pg.get_by_role("button", name="筛选").click()
    rows = pg.locator("table.grid tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("139****5678")
    shots(pg, "console-conversations")
    rows.first.get_by_role("link").click()
    expect(pg.locator(".turn.assistant")).to_contain_text("15%")
    pg.locator(".turn.assistant details summary").first.click()
    expect(pg.locator(".answer-details").first).to_contain_text("检索到的段落")
    shots(pg, "console-transcript", full_page=True)
    pg.go_back()
    with pg.expect_download() as download:
        pg.get_by_role("link", name="导出 CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert {r["role"] for r in rows} == {"user", "assistant"} and "139****5678" in rows[0]["text"]
    assert all("13912345678" not in r["text"] for r in rows) and all("财政" in r["text"] or r["role"] == "assistant"
                                                                    for r in rows if r["role"] == "user")
    assert pg.problems == []


def test_a_manager_claims_replies_and_resolves_while_the_web_user_receives_the_reply(signed_in, server, shots):
    session = "sess-browser-ticket"
    pg = signed_in("mia")
    expect(pg).to_have_url(re.compile(r"/console/tickets$"))
    expect(pg.locator("body")).to_have_attribute("data-live", "on")  # listening for ticket events
    server.chat(session, "/human")
    for answer in INTAKE:
        server.chat(session, answer)
    queue = pg.locator("#queue")
    expect(queue).to_contain_text("海洋生物", timeout=10_000)  # arrived live, no reload
    expect(queue).to_contain_text("138****5678")
    shots(pg, "console-tickets")
    queue.get_by_role("button", name="认领").click()
    expect(pg.locator(".flash")).to_contain_text("已认领工单")
    expect(pg.locator(".card-text").first).to_contain_text("13812345678")  # the holder sees the contact
    pg.get_by_label("回复用户").fill("您好，我是张工，请问专利号是多少？")
    pg.get_by_role("button", name="发送").click()
    expect(pg.locator(".flash")).to_contain_text("已发送给用户")
    assert any(m["role"] == "manager" and m["text"] == "您好，我是张工，请问专利号是多少？" for m in server.history(session))
    server.chat(session, "ZL2023 1234567.8")
    expect(pg.locator("#ticket-transcript .turn.user").last).to_contain_text("ZL2023", timeout=10_000)  # live
    shots(pg, "console-ticket", full_page=True)
    pg.get_by_placeholder("处理结果").fill("已对接受让方")
    pg.get_by_role("button", name="结束工单").click()
    expect(pg.locator(".flash")).to_contain_text("工单已结束")
    assert server.chat(session, "青岛计划建设多少家概念验证平台？")["handoff"] is False
    assert pg.problems == []


def test_an_operator_uploads_a_document_and_the_assistant_answers_from_it(signed_in, server, tmp_path, shots):
    doc = tmp_path / "海洋牧场扶持办法.md"
    doc.write_text(FACT, encoding="utf-8")
    pg = signed_in("olga", "/console/kb")
    pg.locator("form.upload input[type=file]").set_input_files(str(doc))
    pg.locator("form.upload").get_by_role("button", name="上传文档").click()
    expect(pg.locator(".flash")).to_contain_text("文档已入库", timeout=30_000)
    expect(pg.locator("table.grid")).to_contain_text("青岛市海洋牧场建设扶持办法")
    pg.get_by_label("问题").fill("海洋牧场示范区建设补助最高多少钱？")
    pg.get_by_role("button", name="提问").click()
    expect(pg.locator(".try-result")).to_contain_text("300万元", timeout=20_000)
    expect(pg.locator(".try-result .sources")).to_contain_text("青岛市海洋牧场建设扶持办法")
    shots(pg, "console-kb", full_page=True)
    answer = server.chat("sess-browser-kb01", "海洋牧场示范区建设补助最高多少钱？")
    assert "300万元" in answer["answer"] and answer["sources"][0]["title"] == "青岛市海洋牧场建设扶持办法"
    assert pg.problems == []



def test_an_operator_answers_a_gap_and_the_assistant_uses_the_curated_answer(signed_in, server, shots):
    from bot.curated import CuratedAnswers

    gap = server.chat("sess-browser-gap1", "人才公寓怎么申请？")
    assert gap["no_answer"] is True
    pg = signed_in("olga", "/console/gaps")
    group = pg.locator("article.gap", has_text="人才公寓怎么申请？")
    expect(group).to_be_visible()
    expect(group.locator(".count")).to_have_text("1")
    shots(pg, "console-gaps")
    group.get_by_text("为这组问题撰写精选答复").click()
    group.get_by_label("同义问法（每行一个）").fill("人才公寓如何申请\n人才公寓申请流程")
    group.get_by_label("答复内容").fill("人才公寓请登录“青岛人才”平台在线申请，审核通过后签约入住。")
    group.get_by_role("button", name="保存精选答复").click()
    expect(pg.locator(".flash")).to_contain_text("精选答复已保存")
    expect(pg.locator("article.curated").first).to_contain_text("青岛人才")
    shots(pg, "console-curated", full_page=True)
    matcher = CuratedAnswers(server.app.store, server.app.answerer.embedder)
    match = server.call(matcher.match("人才公寓如何申请？"))
    assert match is not None and "青岛人才" in match.answer
    reply = server.chat("sess-browser-gap2", "人才公寓如何申请？")
    assert "青岛人才" in reply["answer"] and reply["sources"][0]["title"] == "运营人员审核的答复"


def _ux_shot(shots, pg, name: str, full_page: bool = False) -> None:
    from pathlib import Path
    target = Path("/tmp/ux-shots")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(shots(pg, name, full_page=full_page), target / f"{name}.png")


def test_an_admin_claims_replies_and_closes_a_ticket_and_cancels_another_from_the_console(signed_in, server, shots):
    session, other = "sess-browser-admin1", "sess-browser-admin2"
    for s in (session, other):
        server.chat(s, "/human")
        for answer in INTAKE:
            server.chat(s, answer)
    pg = signed_in("ada", "/console/tickets")
    queue = pg.locator("#queue")
    expect(queue.get_by_role("button", name="认领")).to_have_count(2)
    _ux_shot(shots, pg, "console-tickets-admin")
    ticket = next(t for t in server.call(server.app.store.tickets.list(("waiting",))) if t.fields.get("contact"))
    pg.goto(f"/console/tickets/{ticket.id}")
    pg.get_by_role("button", name="认领").click()
    expect(pg.locator(".flash")).to_contain_text("已认领工单")
    pg.get_by_label("回复用户").fill("您好，我是运营人员，马上为您安排。")
    pg.get_by_role("button", name="发送").click()
    expect(pg.locator(".flash")).to_contain_text("已发送给用户")
    _ux_shot(shots, pg, "console-ticket-admin", full_page=True)
    pg.get_by_placeholder("处理结果").fill("运营已答复")
    pg.get_by_role("button", name="结束工单").click()
    expect(pg.locator(".flash")).to_contain_text("工单已结束")
    closed = server.call(server.app.store.tickets.get(ticket.id))
    assert closed.state == "resolved" and closed.manager_id == "console:ada"
    conv_id = closed.conversation_id
    texts = [m.text for m in server.call(server.app.store.messages(conv_id))]
    assert "技术经理人ada已接入，将为您服务。" in texts and "您好，我是运营人员，马上为您安排。" in texts

    second = next(t for t in server.call(server.app.store.tickets.list(("waiting",))))
    pg.goto(f"/console/tickets/{second.id}")
    pg.once("dialog", lambda d: d.accept())
    pg.get_by_role("button", name="取消工单").click()
    expect(pg.locator(".flash")).to_contain_text("工单已取消")
    assert server.call(server.app.store.tickets.get(second.id)).state == "cancelled"
    assert pg.problems == []


@pytest.mark.parametrize("path, name", [("/console/dashboard", "dashboard"), ("/console/conversations", "conversations"),
                                        ("/console/kb", "kb"), ("/console/gaps", "gaps"), ("/console/curated", "curated"),
                                        ("/console/accounts", "accounts"), ("/console/audit", "audit"),
                                        ("/console/tickets", "tickets")])
def test_every_console_page_renders_for_an_admin_on_a_phone_and_a_desktop(browser, signed_in, server, shots, path, name):
    pg = signed_in("ada", path)
    expect(pg.locator("main, body").first).to_be_visible()
    _ux_shot(shots, pg, f"console-{name}-1280", full_page=True)
    phone = open_page(browser, server, {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
                                        "is_mobile": True, "has_touch": True},
                      storage_state=pg.context.storage_state())
    phone.goto(path)
    expect(phone.locator("nav.nav")).to_be_visible()
    _ux_shot(shots, phone, f"console-{name}-390")
    phone.context.close()
    assert pg.problems == [] and phone.problems == []
