"""Two `qdbot serve` workers sharing one PostgreSQL database and one `chroma run` server behave as
one: WeCom redeliveries answered once, kf messages answered once, one access token fetched for
both, one user's rate limit counted across both, a conversation never answered twice nor while
another process holds it, one of two managers claiming a ticket on different workers wins and the
consoles on both hear of it live, and an ingest by a third process seen by both."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.web.session import public_id
from adapters.wecom.crypto import WeComCrypto
from bot.accounts import Accounts
from bot.store import Store
from tests.adapters.wecom.harness import AES_KEY, KF, TOKEN, text_xml
from tests.fakes.wecom_server import FakeWeCom, callback_request
from tests.knowledge.conftest import ChromaProcess
from tests.test_process_faults import free_port, start_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.chroma_server]


@pytest.fixture
def chroma(tmp_path):
    server = ChromaProcess(tmp_path / "chroma").start()
    yield server
    server.stop()


SECRET_KEY = "shared-secret-of-the-deployment-0123456789"
ROSTER = """managers:
  - id: zhang
    name: 张工
    specialties: [专利, 海洋]
  - id: li
    name: 李工
    specialties: [中试, 新材料]
"""
INTAKE = ("2", "海洋生物", "青岛某某科技有限公司", "王先生", "13812345678", "一项海藻提取专利想授权给企业")


def worker_env(cli_env: dict, pg_url: str, chroma: ChromaProcess, fake: FakeWeCom, data_dir: Path) -> dict:
    roster = data_dir.parent / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    return {**cli_env, "QDBOT_DATA_DIR": str(data_dir), "DATABASE_URL": pg_url, "CHROMA_HOST": chroma.host,
            "CHROMA_PORT": str(chroma.port), "QDBOT_SECRET_KEY": SECRET_KEY, "HANDOFF_ROSTER_FILE": str(roster),
            "RATE_LIMIT_PER_MINUTE": "8", "WECOM_CORP_ID": fake.corp_id, "WECOM_AGENT_ID": str(fake.agent_id),
            "WECOM_SECRET": "fake-secret", "WECOM_TOKEN": TOKEN, "WECOM_ENCODING_AES_KEY": AES_KEY,
            "WECOM_API_BASE_URL": fake.base_url, "WECOM_KF_OPEN_KFIDS": KF}


async def post_callback(http: aiohttp.ClientSession, port: int, query: dict, body: bytes) -> int:
    async with http.post(f"http://127.0.0.1:{port}/wecom/callback", params=query, data=body) as r:
        return r.status


async def eventually(check, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.2)):
        if check():
            return
        await asyncio.sleep(0.2)
    assert check()


async def test_two_workers_share_dedupe_cursors_limits_order_and_the_knowledge_base(
        cli_env, pg_url, chroma, tmp_path):
    async with FakeWeCom() as fake:
        envs = [worker_env(cli_env, pg_url, chroma, fake, tmp_path / f"w{i}") for i in (1, 2)]
        ports = [free_port(), free_port()]
        workers = [await start_server(envs[0], ports[0], tmp_path)]  # the first start ingests the bundled document
        workers.append(await start_server(envs[1], ports[1], tmp_path))
        crypto = WeComCrypto(TOKEN, AES_KEY, fake.corp_id)
        try:
            async with aiohttp.ClientSession() as http:
                await _wecom_redelivered_to_both_is_answered_once(http, ports, fake, crypto)
                await _kf_triggered_on_both_answers_each_message_once(http, ports, fake, crypto)
                _the_access_token_was_fetched_once_for_both(fake)
                await _one_user_across_both_is_limited_and_answered_once_each(http, ports)
                await _a_conversation_held_by_another_process_waits_for_it(http, ports, pg_url)
                await _two_managers_on_two_workers_claim_one_ticket_once(http, ports, pg_url)
                await _an_ingest_by_another_process_is_seen_by_both(http, ports, envs[0], tmp_path)
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            for w in workers:
                assert await asyncio.wait_for(w.wait(), 60) == 0


async def _wecom_redelivered_to_both_is_answered_once(http, ports, fake, crypto) -> None:
    query, body = callback_request(crypto, text_xml(fake, "青岛计划建设多少家概念验证平台？", "7001"))
    statuses = await asyncio.gather(*(post_callback(http, p, query, body) for p in ports + ports))
    assert statuses == [200, 200, 200, 200]
    await eventually(lambda: len(fake.sent("message")) >= 1)
    await asyncio.sleep(2)
    answers = [d for d in fake.sent("message") if "60家" in d.text]
    assert len(answers) == 1


async def _kf_triggered_on_both_answers_each_message_once(http, ports, fake, crypto) -> None:
    for i, q in enumerate(["市级财政科技资金每年增长多少？", "青岛现在的人才总量有多少？", "青岛有哪些国际科技合作平台？"]):
        fake.add_kf_message(KF, f"wm-customer-{i}", q)
    triggers = [callback_request(crypto, fake.kf_event_xml(KF), nonce=str(n)) for n in range(2)]
    await asyncio.gather(*(post_callback(http, p, *t) for p, t in zip(ports, triggers)))
    await eventually(lambda: len(fake.sent("kf")) >= 3)
    await asyncio.sleep(2)
    per_customer = [[d for d in fake.sent("kf") if f"wm-customer-{i}" in json.dumps(d.body)] for i in range(3)]
    assert [len(x) for x in per_customer] == [1, 1, 1]


def _the_access_token_was_fetched_once_for_both(fake) -> None:
    pulls = fake.calls_to("/cgi-bin/kf/sync_msg")
    assert len({c.query.get("access_token") for c in pulls}) == 1 and len(pulls) >= 2  # each worker pulled on its trigger
    assert fake.token_calls == 1


async def _one_user_across_both_is_limited_and_answered_once_each(http, ports) -> None:
    async def ask(i: int) -> dict:
        async with http.post(f"http://127.0.0.1:{ports[i % 2]}/api/chat",
                             json={"session_id": "shared-session-1", "text": f"青岛计划建设多少家概念验证平台？{i}"}) as r:
            return await r.json()

    results = [await ask(i) for i in range(10)]
    assert [r["status"] for r in results] == ["answered"] * 8 + ["rate_limited"] * 2
    async with http.get(f"http://127.0.0.1:{ports[0]}/api/chat/history",
                        headers={"X-Chat-Session": "shared-session-1"}) as r:
        history = (await r.json())["messages"]
    users = [m for m in history if m["role"] == "user"]
    answers = [m for m in history if m["role"] == "assistant"]
    assert len(users) == 10 and len(answers) == 8


async def chat(http, port: int, session: str, text: str) -> dict:
    async with http.post(f"http://127.0.0.1:{port}/api/chat", json={"session_id": session, "text": text}) as r:
        assert r.status == 200
        return await r.json()


async def _a_conversation_held_by_another_process_waits_for_it(http, ports, pg_url) -> None:
    """The per-conversation lease is the database's: while this process holds it (as a worker does
    while answering), a worker does not answer that conversation, and does at once after."""
    await chat(http, ports[0], "order-session", "青岛计划建设多少家概念验证平台？")
    store = await Store.open(pg_url, migrate_schema=False)
    try:
        conv = await store.find_conversation("web", public_id(SECRET_KEY.encode(), "order-session"))
        async with store.locks.lease(f"conversation:{conv.id}"):
            second = asyncio.create_task(chat(http, ports[1], "order-session", "市级财政科技资金每年增长多少？"))
            await asyncio.sleep(2)
            assert not second.done()
        answer = await asyncio.wait_for(second, 10)
        assert "15%" in answer["answer"]
    finally:
        await store.close()


async def _two_managers_on_two_workers_claim_one_ticket_once(http, ports, pg_url) -> None:
    for i, text in enumerate(("/human", *INTAKE)):  # the intake's answers reach either worker
        await chat(http, ports[i % 2], "handoff-session", text)
    store = await Store.open(pg_url, migrate_schema=False)
    try:
        accounts = Accounts(store, SECRET_KEY.encode())
        tokens = [await accounts.issue_token(await accounts.create(m, "manager", "long-enough-password", m))
                  for m in ("zhang", "li")]
        (ticket,) = [t for t in await store.tickets.list() if t.state == "waiting"]

        async def claim(port: int, token: str) -> int:
            async with http.post(f"http://127.0.0.1:{port}/api/admin/tickets/{ticket.id}/claim",
                                 headers={"Authorization": f"Bearer {token}"}, json={}) as r:
                return r.status

        async def watch(port: int, token: str, ready: asyncio.Event) -> dict:
            """The console's live ticket stream on one worker, until a ticket is claimed."""
            async with http.get(f"http://127.0.0.1:{port}/api/admin/tickets/events",
                                headers={"Authorization": f"Bearer {token}"}) as r:
                ready.set()
                async for line in r.content:
                    if line.startswith(b"data: ") and json.loads(line[6:])["kind"] == "claimed":
                        return json.loads(line[6:])
            raise AssertionError("the stream ended")

        readies = [asyncio.Event(), asyncio.Event()]
        watchers = [asyncio.create_task(watch(p, t, e)) for p, t, e in zip(ports, tokens, readies)]
        await asyncio.gather(*(e.wait() for e in readies))
        statuses = await asyncio.gather(*(claim(p, t) for p, t in zip(ports, tokens)))
        assert sorted(statuses) == [200, 409]
        heard = await asyncio.wait_for(asyncio.gather(*watchers), 10)  # on both workers, whichever won
        assert heard == [{"kind": "claimed", "ticket_id": ticket.id, "state": "active"}] * 2
        claimed = await store.tickets.get(ticket.id)
        assert claimed.state == "active" and claimed.manager_id == ("zhang", "li")[statuses.index(200)]
        events = [e.action for e in await store.tickets.events(ticket.id)]
        assert events.count("claimed") == 1
    finally:
        await store.close()


async def _an_ingest_by_another_process_is_seen_by_both(http, ports, env, tmp_path) -> None:
    docs = tmp_path / "new-docs"
    docs.mkdir()
    (docs / "voucher.txt").write_text("一、总则\n青岛市设立海洋创新券，每家企业每年最高50万元。", encoding="utf-8")
    ingest_env = {**env, "QDBOT_DATA_DIR": str(tmp_path / "ingester")}
    done = subprocess.run([sys.executable, "-m", "bot", "ingest", "--quiet", str(docs)], env=ingest_env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "1 added" in done.stdout, done.stderr
    await asyncio.sleep(2)
    for i, port in enumerate(ports):
        async with http.post(f"http://127.0.0.1:{port}/api/chat",
                             json={"session_id": f"ingest-check-{i}", "text": "海洋创新券每家企业最高多少钱？"}) as r:
            assert "50万元" in (await r.json())["answer"]
