"""PostgreSQL restarting under a running assistant: requests fail cleanly (a clear error, a 503 on
the web API, nothing half-stored) and everything works again once the server is back."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.web import create as create_web
from adapters.web.session import public_id
from bot.errors import StorageError
from bot.settings import load_settings
from bot.store import Store
from bot.types import IncomingMessage
from tests.conftest import _pg_reachable
from tests.fakes.engine import make_engine

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
QUESTION = "青岛计划建设多少家概念验证平台？"


def cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True, timeout=120, capture_output=True)


async def wait_until_up() -> None:
    for _ in range(120):
        if _pg_reachable():
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.5)
    raise AssertionError("PostgreSQL did not come back")


@pytest.fixture
def restartable():
    if shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"):
        if os.environ.get("CI"):
            pytest.fail("CI must be able to restart the local PostgreSQL (pg_ctlcluster)")
        pytest.skip("no local PostgreSQL cluster to restart here")


async def test_requests_fail_cleanly_while_postgres_restarts_and_recover_after(restartable, pg_url, tmp_path):
    store = await Store.open(pg_url)
    s = load_settings(qdbot_data_dir=tmp_path)
    engine = make_engine(store, settings=s)
    channel = create_web(engine, s)
    engine.register(channel)
    app = web.Application()
    app.add_routes(channel.routes())
    await channel.start(engine.handle)
    async with TestClient(TestServer(app)) as client:
        ok = await client.post("/api/chat", json={"session_id": "restart-test", "text": QUESTION})
        assert ok.status == 200
        cluster("stop")
        try:
            with pytest.raises(StorageError):
                await engine.handle(IncomingMessage("web", "down-1", "down-1", QUESTION))
            down = await client.post("/api/chat", json={"session_id": "restart-test", "text": QUESTION})
            assert down.status == 503 and (await down.json())["code"] == "unavailable"
        finally:
            cluster("start")
            await wait_until_up()
        again = await client.post("/api/chat", json={"session_id": "restart-test", "text": QUESTION})
        assert again.status == 200 and "60家" in (await again.json())["answer"]
    conv = await store.find_conversation("web", public_id(s.secret_key(), "restart-test"))
    roles = [m.role for m in await store.messages(conv.id)]
    assert roles == ["user", "assistant", "user", "assistant"]  # the refused request left nothing behind
    await store.close()
