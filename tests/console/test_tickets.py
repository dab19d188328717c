"""Tickets from the console: the live queue, claim / reply / note / transfer / resolve / hand back through
the handoff desk while a web-chat user receives the replies, contact details by role, SLA figures."""
from __future__ import annotations

import asyncio
import json

from tests.console.conftest import say
from tests.console.seed import INTAKE

SESSION = "sess-ticket-0001"


async def _waiting_ticket(c, session: str = SESSION) -> int:
    await c.chat("/human", session)
    for answer in INTAKE:
        await c.chat(answer, session)
    [ticket] = await c.store.tickets.list(("waiting",))
    return ticket.id


async def test_the_queue_lists_waiting_tickets_with_their_card_and_waiting_time(console):
    tid = await _waiting_ticket(console)
    queue = await console.api("GET", "/api/admin/tickets", role="manager")
    [row] = queue["waiting"]
    assert row["id"] == tid and row["channel"] == "web" and row["waiting_seconds"] >= 0
    assert "海洋生物" in row["card"] and "青岛某某科技有限公司" in row["card"]
    assert "138****5678" in row["card"] and "13812345678" not in json.dumps(queue)  # not claimed: masked
    assert queue["active"] == []


async def test_a_manager_claims_replies_notes_and_resolves_while_the_web_user_receives_each_step(console):
    tid = await _waiting_ticket(console)
    base = f"/api/admin/tickets/{tid}"
    claimed = await console.api("POST", f"{base}/claim", role="manager", json={})
    assert claimed["ticket"]["state"] == "active" and claimed["ticket"]["manager_id"] == "alice"
    await console.api("POST", f"{base}/reply", role="manager", json={"text": "您好，我是张工，请问专利号是多少？"})
    await console.api("POST", f"{base}/note", role="manager", json={"text": "客户很急，优先处理"})
    history = await console.history(SESSION)
    texts = [m["text"] for m in history]
    assert "您好，我是张工，请问专利号是多少？" in texts and not any("优先处理" in t for t in texts)
    manager_turn = next(m for m in history if m["text"].startswith("您好，我是张工"))
    assert manager_turn["role"] == "manager"
    user = await console.chat("ZL2023XXXX", SESSION)  # the user answers: relayed, the assistant stays silent
    assert user["handoff"] is True
    detail = await console.api("GET", base, role="manager")
    assert "13812345678" in detail["ticket"]["card"]  # the manager holding the ticket sees the contact
    assert [e["action"] for e in detail["events"]][-2:] == ["claimed", "note"]
    done = await console.api("POST", f"{base}/resolve", role="manager", json={"outcome": "已对接专利受让方"})
    assert done["ticket"]["state"] == "resolved" and done["ticket"]["outcome"] == "已对接专利受让方"
    after = await console.chat("青岛计划建设多少家概念验证平台？", SESSION)
    assert "60家左右" in after["answer"]  # the assistant answers again
    actions = [a.action for a in await console.store.console.audit_log()]
    assert {"ticket_claim", "ticket_reply", "ticket_note", "ticket_resolve"} <= set(actions)


async def test_what_the_state_does_not_allow_is_refused_with_409(console):
    tid = await _waiting_ticket(console)
    base = f"/api/admin/tickets/{tid}"
    await console.api("POST", f"{base}/reply", role="manager", json={"text": "太早了"}, expect=409)
    await console.api("POST", f"{base}/claim", role="manager", json={})
    other = await console.account("manager", "bobby", manager_id="bob")
    resp = await console.client.post(f"{base}/claim", json={}, headers={"Authorization": f"Bearer {other}"})
    assert resp.status == 409 and "alice" in (await resp.json())["detail"]
    await console.api("POST", f"{base}/reply", role="manager", json={"text": ""}, expect=400)
    await console.api("POST", "/api/admin/tickets/4242/claim", role="manager", json={}, expect=404)


async def test_transfer_and_hand_back_run_as_the_manager_the_account_links_to(console):
    tid = await _waiting_ticket(console)
    base = f"/api/admin/tickets/{tid}"
    await console.api("POST", f"{base}/claim", role="manager", json={})
    moved = await console.api("POST", f"{base}/transfer", role="manager", json={"to": "bob"})
    assert moved["ticket"]["manager_id"] == "bob"
    bob = await console.account("manager", "bob1", manager_id="bob")
    detail = await console.client.get(base, headers={"Authorization": f"Bearer {bob}"})
    assert "13812345678" in (await detail.json())["ticket"]["card"]
    alice_view = await console.api("GET", base, role="manager")
    assert "13812345678" not in json.dumps(alice_view)  # no longer hers: masked
    back = await console.client.post(f"{base}/hand_back", json={}, headers={"Authorization": f"Bearer {bob}"})
    assert back.status == 200 and (await back.json())["ticket"]["outcome"] == "handed back"
    texts = [m["text"] for m in await console.history(SESSION)]
    assert any("李工" in t for t in texts)  # the user was told who took over


async def test_the_event_stream_announces_ticket_changes_without_personal_data(console):
    resp = await console.client.get("/api/admin/tickets/events",
                                    headers={"Authorization": f"Bearer {await console.token('manager')}"})
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    assert (await resp.content.readline()).startswith(b"retry:")
    tid = await _waiting_ticket(console)
    await console.api("POST", f"/api/admin/tickets/{tid}/claim", role="manager", json={})
    events = []
    while len(events) < 2:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
    assert events == [{"kind": "opened", "ticket_id": tid, "state": "waiting"},
                      {"kind": "claimed", "ticket_id": tid, "state": "active"}]
    resp.close()


async def test_the_history_reports_median_wait_first_response_and_resolution(console):
    for n in range(3):
        await say(console, "/human", f"h{n}")
        for answer in INTAKE:
            await say(console, answer, f"h{n}")
    for t in await console.store.tickets.list(("waiting",)):
        await console.app.engine.desk.claim(t.id, "alice")
        await console.app.engine.desk.reply(t.id, "alice", "您好")
        await console.app.engine.desk.resolve(t.id, "alice", "done")
    data = await console.api("GET", "/api/admin/tickets", role="operator", params={"view": "history"})
    sla = data["sla"]
    assert sla["tickets"] == 3 and sla["claimed"] == 3 and sla["resolved"] == 3
    assert 0 <= sla["median_wait_to_claim_s"] <= sla["median_first_response_s"] <= sla["median_resolution_s"] < 60
    assert [t["state"] for t in data["history"]] == ["resolved"] * 3


async def test_an_admin_claims_replies_and_resolves_and_an_operator_cancels_any_ticket(console):
    tid = await _waiting_ticket(console)
    base = f"/api/admin/tickets/{tid}"
    claimed = await console.api("POST", f"{base}/claim", role="admin", json={})
    assert claimed["ticket"]["state"] == "active" and claimed["ticket"]["manager_id"].startswith("console:")
    await console.api("POST", f"{base}/reply", role="admin", json={"text": "您好，我是运营人员"})
    await console.api("POST", f"{base}/reply", role="operator", json={"text": "我也在"})
    done = await console.api("POST", f"{base}/resolve", role="admin", json={"outcome": "已答复"})
    assert done["ticket"]["state"] == "resolved"
    texts = [m["text"] for m in await console.history(SESSION)]
    assert "您好，我是运营人员" in texts and "我也在" in texts

    other = await _waiting_ticket(console, "sess-ticket-0002")
    cancelled = await console.api("POST", f"/api/admin/tickets/{other}/cancel", role="operator", json={})
    assert cancelled["ticket"]["state"] == "cancelled"
    assert any(f"#{other}" in m["text"] and "工作人员" in m["text"]
               for m in await console.history("sess-ticket-0002"))
    await console.api("POST", f"/api/admin/tickets/{other}/cancel", role="operator", json={}, expect=409)


async def test_a_queue_card_shows_the_request_first_then_one_line_of_facts_and_loads_its_details_audited(sqlite_console):
    import re

    c = sqlite_console
    tid = await _waiting_ticket(c)
    await c.account("operator", "olga")
    await c.login("olga")
    html = await (await c.client.get("/console/tickets?partial=queue")).text()
    card = re.search(rf'<article class="ticket-card waiting" id="ticket-card-{tid}">(.*?)</article>', html, re.S).group(1)
    request = re.search(r'<p class="tc-request">(.*?)</p>', card, re.S).group(1)
    assert "专利许可 · 海洋生物：一项海藻提取专利想授权给企业" in request  # kind · field: the request in their words
    meta = re.search(r'<div class="tc-meta">(.*?)<details', card, re.S).group(1)
    assert "等待认领" in meta and "web" in meta and "已等待" in meta and "未认领" in meta and "认领</button>" in meta
    assert card.index("tc-request") < card.index("tc-meta") < card.index("<details")
    details = re.search(r"<details(.*?)</details>", card, re.S).group(0)
    assert "138****5678" in details and "13812345678" not in html  # the intake answers, masked, behind the toggle
    assert f'data-load="/console/tickets/{tid}?partial=preview"' in details

    preview = await (await c.client.get(f"/console/tickets/{tid}?partial=preview")).text()
    assert "<html" not in preview and preview.count('class="turn ') == 6 and "打开工单查看全部对话" in preview
    assert "13812345678" not in preview and "138****5678" in preview
    audit = await c.store.console.audit_log(action="view_ticket")
    assert audit[0].target == f"ticket:{tid}" and audit[0].detail == {"preview": True}


async def test_the_desks_own_outcomes_are_shown_in_the_consoles_language_and_typed_ones_as_typed(sqlite_console):
    c = sqlite_console
    cancelled = await _waiting_ticket(c)
    await c.app.engine.desk.cancel(cancelled, "console:ada")
    typed = await _waiting_ticket(c, "sess-ticket-0002")
    await c.app.engine.desk.claim(typed, "alice")
    await c.app.engine.desk.resolve(typed, "alice", "已对接受让方")
    await c.account("operator", "olga")
    await c.login("olga")
    zh = await (await c.client.get("/console/tickets")).text()
    assert "工作人员已取消" in zh and "cancelled by staff" not in zh and "已对接受让方" in zh
    en = await (await c.client.get("/console/tickets?lang=en")).text()
    assert "cancelled by staff" in en and "已对接受让方" in en
