"""A real `qdbot serve` worker SIGKILLed while a burst of 200 WeCom callbacks and 50 Telegram
webhook updates is being processed: after a restart every acknowledged message is answered
exactly once (stored before the 200, recovered from the inbox at start)."""
from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter

import aiohttp
import pytest

from adapters.wecom.crypto import WeComCrypto
from tests.adapters.wecom.harness import AES_KEY, QUESTION, TOKEN, text_xml
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.wecom_server import FakeWeCom, callback_request
from tests.test_process_faults import free_port, rows, start_server

pytestmark = pytest.mark.slow
WECOM_BURST, TELEGRAM_BURST = 200, 50
ANSWER = "青岛计划三年内建设概念验证平台60家左右[1]。"
SECRET = "inbox_kill_secret"


def responder(messages: list[dict], body: dict) -> str:
    system = str(messages[0].get("content", "")) if messages else ""
    return "QUESTION" if "意图" in system or "intent" in system.lower() else ANSWER


def worker_env(cli_env: dict, llm: FakeOpenAI, wecom: FakeWeCom, tg: FakeTelegram, port: int) -> dict:
    return {**cli_env, "OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "k", "LLM_MAX_RETRIES": "0",
            "LLM_TIMEOUT": "120", "RATE_LIMIT_PER_MINUTE": "0",
            "WECOM_CORP_ID": wecom.corp_id, "WECOM_AGENT_ID": str(wecom.agent_id), "WECOM_SECRET": "fake-secret",
            "WECOM_TOKEN": TOKEN, "WECOM_ENCODING_AES_KEY": AES_KEY, "WECOM_API_BASE_URL": wecom.base_url,
            "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.base_url,
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": SECRET}


async def burst(port: int, wecom: FakeWeCom, tg: FakeTelegram) -> tuple[set[str], set[int]]:
    """Fire every callback and update at once; the WeCom members and Telegram chats acknowledged."""
    crypto = WeComCrypto(TOKEN, AES_KEY, wecom.corp_id)
    callbacks = {f"member{i:03d}": callback_request(crypto, text_xml(wecom, QUESTION, f"9{i:05d}",
                                                                     user=f"member{i:03d}"))
                 for i in range(WECOM_BURST)}
    updates = {7_000_000 + i: tg.user_message(7_000_000 + i, 7_000_000 + i, QUESTION) for i in range(TELEGRAM_BURST)}
    url = f"http://127.0.0.1:{port}/wecom/callback"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def post(user: str, query: dict, body: bytes) -> str | None:
            async with http.post(url, params=query, data=body) as r:
                return user if r.status == 200 and await r.read() == b"" else None

        wecom_acks = await asyncio.gather(*(post(u, q, b) for u, (q, b) in callbacks.items()),
                                          *(tg.deliver_webhook(u) for u in updates.values()))
    acked_users = {u for u in wecom_acks[:WECOM_BURST] if u}
    acked_chats = {chat for chat, status in zip(updates, wecom_acks[WECOM_BURST:]) if status == 200}
    return acked_users, acked_chats


def answers(wecom: FakeWeCom, tg: FakeTelegram) -> tuple[Counter, Counter]:
    by_member = Counter(d.body["touser"] for d in wecom.sent("message") if "60家" in d.text)
    by_chat = Counter(m["chat_id"] for m in tg.sent_messages() if "60家" in str(m.get("text", "")))
    return by_member, by_chat


async def until(check, timeout: float) -> None:
    for _ in range(int(timeout / 0.2)):
        if check():
            return
        await asyncio.sleep(0.2)
    assert check()


async def test_a_worker_killed_during_a_burst_answers_every_acknowledged_message_once_after_restart(
        cli_env, app_data_dir, tmp_path):
    async with FakeOpenAI(api_key="k") as llm, FakeWeCom() as wecom, FakeTelegram() as tg:
        llm.responder, llm.delay = responder, 600.0  # nothing is answered before the kill
        port = free_port()
        env = worker_env(cli_env, llm, wecom, tg, port)
        proc = await start_server(env, port, tmp_path)
        acked_users, acked_chats = await burst(port, wecom, tg)
        await until(lambda: sum(r.path.endswith("/chat/completions") for r in llm.requests) >= 10, 60)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        assert answers(wecom, tg) == (Counter(), Counter())
        unfinished = rows(app_data_dir, "SELECT count(*) FROM inbox WHERE status != 'done'")[0][0]
        assert unfinished > 0  # killed in the middle, not after the work was done

        llm.delay = 0.0
        proc = await start_server(env, port, tmp_path)  # the inbox and the engine recover at start
        try:
            def all_done() -> bool:
                left = rows(app_data_dir, "SELECT (SELECT count(*) FROM inbox WHERE status != 'done') + "
                                          "(SELECT count(*) FROM messages WHERE role = 'user' AND status != 'processed')"
                                          " + (SELECT count(*) FROM messages WHERE role != 'user' AND status = 'pending')")
                return left[0][0] == 0
            await until(all_done, 120)
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
        by_member, by_chat = answers(wecom, tg)
    assert len(acked_users) == WECOM_BURST and len(acked_chats) == TELEGRAM_BURST
    assert by_member == Counter({u: 1 for u in acked_users})  # every one, once
    assert by_chat == Counter({c: 1 for c in acked_chats})
