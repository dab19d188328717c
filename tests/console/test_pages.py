"""The server-rendered pages: Chinese by default and English on request, everything escaped, a strict
Content-Security-Policy, forms that post with their CSRF token and come back with a one-time message."""
from __future__ import annotations

import re

import pytest

from tests.console.conftest import PASSWORD, say
from tests.console.seed import INTAKE

PAGES = ["/console/dashboard", "/console/conversations", "/console/tickets", "/console/kb", "/console/gaps",
         "/console/curated", "/console/accounts", "/console/audit"]


def _csrf(html: str) -> str:
    return re.search(r'name="_csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
async def admin(sqlite_console):
    await sqlite_console.account("admin", "ada")
    await sqlite_console.login("ada")
    return sqlite_console


async def test_every_page_renders_in_chinese_with_a_strict_content_security_policy(admin):
    await say(admin, "青岛计划建设多少家概念验证平台？", "u1")
    for path in PAGES:
        resp = await admin.client.get(path)
        html = await resp.text()
        assert resp.status == 200, path
        assert '<html lang="zh-CN">' in html and "运营控制台" in html and "退出" in html, path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "<script>" not in html and " style=" not in html, path  # no inline script or style
    css = await admin.client.get("/console/static/console.css")
    assert css.status == 200 and css.content_type == "text/css"
    assert (await admin.client.get("/console/static/console.css", headers={"If-None-Match": css.headers["ETag"]})).status == 304
    assert (await admin.client.get("/console/static/nope.js")).status == 404
    palette = await admin.client.get("/console/static/palette.css")  # the colours the web chat uses too
    assert '@import url("palette.css")' in await css.text() and palette.status == 200
    assert "--blue: #0b5cad;" in await palette.text()


async def test_english_is_one_click_away_and_remembered(admin):
    resp = await admin.client.get("/console/tickets?lang=en")
    html = await resp.text()
    assert '<html lang="en">' in html and "Waiting for a manager" in html
    assert "等待认领" not in html
    again = await admin.client.get("/console/dashboard")
    assert "Messages per day by channel" in await again.text()


async def test_user_text_is_escaped_everywhere_it_is_shown(admin):
    out = await say(admin, '<script>alert("x")</script><img src=x onerror=alert(1)>', "xss")
    for path in ("/console/conversations", f"/console/conversations/{out.conversation_id}", "/console/gaps"):
        html = await (await admin.client.get(path)).text()
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html, path


async def test_the_transcript_page_shows_authors_passages_scores_and_latency(admin):
    out = await say(admin, "青岛计划建设多少家概念验证平台？", "u1")
    html = await (await admin.client.get(f"/console/conversations/{out.conversation_id}")).text()
    assert "用户" in html and "政策助手" in html and "检索到的段落" in html and "原文摘录" in html
    assert "60家左右" in html and re.search(r"<td>0\.\d+</td>", html) and " ms</dd>" in html


async def test_a_filter_form_and_the_pager_keep_the_filters(admin):
    for n in range(55):
        await say(admin, f"第{n}个：青岛计划建设多少家概念验证平台？", f"p{n}")
    html = await (await admin.client.get("/console/conversations?channel=web&q=概念验证")).text()
    assert html.count('href="/console/conversations/') == 50
    nxt = re.search(r'rel="next" href="\?([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "channel=web" in nxt and "q=" in nxt and "cursor=" in nxt
    page2 = await (await admin.client.get(f"/console/conversations?{nxt}")).text()
    assert page2.count('href="/console/conversations/') == 5
    assert 'href="/api/admin/export?channel=web&amp;q=' in page2 and "format=csv" in page2


async def test_a_wrong_password_on_the_login_page_comes_back_with_a_message_once(sqlite_console):
    c = sqlite_console
    await c.account("admin", "ada")
    page = await (await c.client.get("/console/login?next=/console/kb")).text()
    resp = await c.client.post("/api/admin/login", data={"username": "ada", "password": "wrong one", "_csrf": _csrf(page),
                                                         "next": "/console/kb"})
    html = await resp.text()
    assert resp.url.path == "/console/login" and "用户名或密码错误" in html
    assert "用户名或密码错误" not in await (await c.client.get("/console/login")).text()
    page = await (await c.client.get("/console/login?next=/console/kb")).text()
    ok = await c.client.post("/api/admin/login", data={"username": "ada", "password": PASSWORD, "_csrf": _csrf(page),
                                                       "next": "/console/kb"})
    assert ok.url.path == "/console/kb"
    evil = await c.client.post("/api/admin/logout", data={"_csrf": _csrf(await ok.text()), "next": "//evil.example/"},
                               allow_redirects=False)
    assert evil.headers["Location"] == "/console/login"  # never redirected off the console


async def test_a_manager_claims_and_replies_from_the_ticket_page_with_forms(sqlite_console):
    c = sqlite_console
    await c.chat("/human", "sess-form-00001")
    for answer in INTAKE:
        await c.chat(answer, "sess-form-00001")
    await c.account("manager", "mia")
    await c.login("mia")
    queue = await (await c.client.get("/console/tickets")).text()
    assert "海洋生物" in queue and "认领" in queue and "138****5678" in queue
    fragment = await (await c.client.get("/console/tickets?partial=queue")).text()
    assert fragment.startswith("<h2>") and "<html" not in fragment
    [ticket] = await c.store.tickets.list(("waiting",))
    claimed = await c.client.post(f"/api/admin/tickets/{ticket.id}/claim",
                                  data={"_csrf": _csrf(queue), "next": f"/console/tickets/{ticket.id}"})
    html = await claimed.text()
    assert claimed.url.path == f"/console/tickets/{ticket.id}" and "已认领工单" in html and "13812345678" in html
    replied = await c.client.post(f"/api/admin/tickets/{ticket.id}/reply",
                                  data={"_csrf": _csrf(html), "text": "您好，我是张工", "next": f"/console/tickets/{ticket.id}"})
    assert "已发送给用户" in await replied.text()
    assert any(m["text"] == "您好，我是张工" for m in await c.history("sess-form-00001"))
    again = await c.client.post(f"/api/admin/tickets/{ticket.id}/claim",
                                data={"_csrf": _csrf(html), "next": f"/console/tickets/{ticket.id}"})
    assert "当前状态下不能这样操作" in await again.text()


async def test_an_upload_form_without_a_knowledge_base_comes_back_with_the_error(admin):
    from aiohttp import FormData

    page = await (await admin.client.get("/console/kb")).text()
    form = FormData()
    form.add_field("_csrf", _csrf(page))
    form.add_field("next", "/console/kb")
    form.add_field("file", b"# t\n\ntext", filename="a.md")
    resp = await admin.client.post("/api/admin/documents", data=form)
    assert resp.url.path == "/console/kb" and "知识库暂不可用" in await resp.text()


async def test_an_issued_token_is_shown_once_on_its_own_page(admin):
    page = await (await admin.client.get("/console/accounts")).text()
    account_id = re.search(r'action="/api/admin/accounts/(\d+)/tokens"', page).group(1)
    resp = await admin.client.post(f"/api/admin/accounts/{account_id}/tokens", data={"_csrf": _csrf(page), "name": "ci"})
    html = await resp.text()
    token = re.search(r'<pre class="token">(qdb_[^<]+)</pre>', html).group(1)
    assert (await admin.client.get("/api/admin/me", headers={"Authorization": f"Bearer {token}"})).status == 200
    assert token not in await (await admin.client.get("/console/accounts")).text()
