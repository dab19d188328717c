"""Real `qdbot serve` processes: SIGTERM lets in-flight answers finish; a worker killed mid-answer
loses no message and answers none twice (the next start finishes it; on PostgreSQL once the dead
worker's conversation lease has run out)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.store import Store
from tests.fakes.openai_server import FakeOpenAI

QUESTION = "青岛计划建设多少家概念验证平台？"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_server(env: dict, port: int, cwd: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", "--port", str(port), env=env,
                                                cwd=cwd, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=open(cwd / f"serve-{port}.log", "ab"))
    return await serving(proc, port, cwd / f"serve-{port}.log")


async def serving(proc: asyncio.subprocess.Process, port: int, log: Path,
                  timeout: float = 60.0) -> asyncio.subprocess.Process:
    """Wait until the worker answers /healthz; its log in the error when it exits or never does."""
    async with aiohttp.ClientSession() as http:
        for _ in range(int(timeout / 0.25)):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            if proc.returncode is not None:
                raise AssertionError(log.read_text())
            await asyncio.sleep(0.25)
    raise AssertionError("server did not start: " + log.read_text()[-2000:])


async def wait_for_llm_call(fake: FakeOpenAI) -> None:
    for _ in range(400):
        if any(r.path.endswith("/chat/completions") for r in fake.requests):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the LLM was never called")


def rows(data_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "qdbot.db") as db:
        return db.execute(sql).fetchall()


@pytest.fixture
async def slow_llm():
    async with FakeOpenAI(api_key="k") as fake:
        fake.responder = lambda m, b: "青岛计划三年内建设概念验证平台60家左右[1]。"
        fake.delay = 3.0
        yield fake


def llm_env(cli_env: dict, fake: FakeOpenAI, **extra: str) -> dict:
    return {**cli_env, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "k", "LLM_MAX_RETRIES": "0", **extra}


async def test_sigterm_lets_an_in_flight_answer_finish_then_exits(cli_env, app_data_dir, slow_llm, tmp_path):
    port = free_port()
    proc = await start_server(llm_env(cli_env, slow_llm), port, tmp_path)
    async with aiohttp.ClientSession() as http:
        ask = asyncio.create_task(http.post(f"http://127.0.0.1:{port}/api/chat",
                                            json={"session_id": "sigterm-test-1", "text": QUESTION}))
        await wait_for_llm_call(slow_llm)
        proc.send_signal(signal.SIGTERM)
        response = await ask
        body = await response.json()
    assert response.status == 200 and "60家" in body["answer"]
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    statuses = rows(app_data_dir, "SELECT role, status FROM messages ORDER BY id")
    assert statuses == [("user", "processed"), ("assistant", "sent")]


async def kill_mid_answer(proc: asyncio.subprocess.Process, port: int, llm: FakeOpenAI, session: str) -> None:
    """Ask, and SIGKILL the worker while the LLM is working on the answer."""
    async with aiohttp.ClientSession() as http:
        ask = asyncio.create_task(http.post(f"http://127.0.0.1:{port}/api/chat",
                                            json={"session_id": session, "text": QUESTION}))
        await wait_for_llm_call(llm)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        with pytest.raises(aiohttp.ClientError):
            await ask


async def test_a_worker_killed_mid_answer_loses_nothing_and_the_next_start_answers_once(
        cli_env, app_data_dir, slow_llm, tmp_path):
    env = llm_env(cli_env, slow_llm)  # the default grace (120 s): on SQLite the next start knows it is alone
    port = free_port()
    await kill_mid_answer(await start_server(env, port, tmp_path), port, slow_llm, "killed-test-1")
    assert rows(app_data_dir, "SELECT role, status FROM messages") == [("user", "processing")]
    slow_llm.delay = 0
    proc = await start_server(env, port, tmp_path)  # recovery runs at start
    try:
        for _ in range(100):
            answers = rows(app_data_dir, "SELECT text FROM messages WHERE role = 'assistant'")
            if answers:
                break
            await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/api/chat/history",
                                headers={"X-Chat-Session": "killed-test-1"}) as r:
                history = await r.json()
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    assert len(answers) == 1 and "60家" in answers[0][0]
    assert rows(app_data_dir, "SELECT status FROM messages WHERE role = 'user'") == [("processed",)]
    assert any("60家" in m["text"] for m in history["messages"])


@pytest.mark.postgres
async def test_on_postgresql_a_killed_workers_lease_runs_out_and_the_next_start_answers_once(
        cli_env, slow_llm, pg_url, tmp_path):
    env = llm_env(cli_env, slow_llm, DATABASE_URL=pg_url, RECOVERY_GRACE_SECONDS="1",
                  CONVERSATION_LEASE_SECONDS="3")
    port = free_port()
    await kill_mid_answer(await start_server(env, port, tmp_path), port, slow_llm, "killed-pg-1")
    store = await Store.open(pg_url, migrate_schema=False)

    async def pg_rows(sql: str) -> list[tuple]:
        async with store.engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(text(sql))]

    try:
        assert await pg_rows("SELECT role, status FROM messages") == [("user", "processing")]
        assert len(await pg_rows("SELECT name FROM leases")) == 1  # still held by the dead worker
        await asyncio.sleep(1.2)  # its claim is older than RECOVERY_GRACE_SECONDS, whatever the start takes
        slow_llm.delay = 0
        proc = await start_server(env, port, tmp_path)  # recovery waits for the lease, then answers
        try:
            for _ in range(200):
                answers = await pg_rows("SELECT text FROM messages WHERE role = 'assistant'")
                if answers:
                    break
                await asyncio.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
        assert len(answers) == 1 and "60家" in answers[0][0]
        assert await pg_rows("SELECT status FROM messages WHERE role = 'user'") == [("processed",)]
        assert await pg_rows("SELECT name FROM leases") == []
    finally:
        await store.close()
