"""Two `qdbot serve` workers sharing one PostgreSQL database and one `chroma run` server behave as
one: WeCom redeliveries answered once, kf messages answered once, one access token fetched for
both, one user's rate limit counted across both, a conversation never answered twice, and an
ingest by a third process seen by both."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.wecom.crypto import WeComCrypto
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


def worker_env(cli_env: dict, pg_url: str, chroma: ChromaProcess, fake: FakeWeCom, data_dir: Path) -> dict:
    return {**cli_env, "QDBOT_DATA_DIR": str(data_dir), "DATABASE_URL": pg_url, "CHROMA_HOST": chroma.host,
            "CHROMA_PORT": str(chroma.port), "QDBOT_SECRET_KEY": "shared-secret-of-the-deployment-0123456789",
            "RATE_LIMIT_PER_MINUTE": "4", "WECOM_CORP_ID": fake.corp_id, "WECOM_AGENT_ID": str(fake.agent_id),
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

    results = [await ask(i) for i in range(6)]
    assert [r["status"] for r in results] == ["answered"] * 4 + ["rate_limited"] * 2
    async with http.get(f"http://127.0.0.1:{ports[0]}/api/chat/history",
                        params={"session_id": "shared-session-1"}) as r:
        history = (await r.json())["messages"]
    users = [m for m in history if m["role"] == "user"]
    answers = [m for m in history if m["role"] == "assistant"]
    assert len(users) == 6 and len(answers) == 4


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
