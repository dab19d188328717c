"""Fixtures for the web chat: its routes on an aiohttp test server, a real Engine on a real Store."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.web import WebChannel, create
from adapters.web.session import public_id
from bot.engine import Engine
from bot.llm import make_chat_model
from bot.settings import Settings, load_settings
from bot.store import Store
from tests.fakes.engine import make_engine
from tests.fakes.openai_server import FakeOpenAI

SESSION = "sess-0001-abcd"
QUESTION = "青岛计划建设多少家概念验证平台？"
LLM_ANSWER = "青岛计划三年内建设概念验证平台60家左右[1]。这是政策目标。"


@dataclass
class Web:
    client: TestClient
    engine: Engine
    channel: WebChannel

    async def chat(self, text: str, session: str = SESSION, path: str = "/api/chat", **extra) -> dict:
        resp = await self.client.post(path, json={"session_id": session, "text": text, **extra})
        assert resp.status == 200, await resp.text()
        return await resp.json()

    def public(self, session: str = SESSION) -> str:
        """The id the session's conversation is stored under (all that staff see)."""
        return public_id(self.engine.settings.secret_key(), session)

    async def history(self, session: str = SESSION, **params) -> list[dict]:
        resp = await self.client.get("/api/chat/history", params=params, headers={"X-Chat-Session": session})
        assert resp.status == 200, await resp.text()
        return (await resp.json())["messages"]

    async def stream(self, text: str, session: str = SESSION) -> list[tuple[str, dict]]:
        resp = await self.client.post("/api/chat/stream", json={"session_id": session, "text": text})
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        return parse_sse(await resp.text())


def parse_sse(raw: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a text/event-stream body; comments are skipped."""
    events = []
    for block in raw.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


async def serve(engine: Engine, settings: Settings):
    """The channel's routes on a test server, registered with the engine and started, as `serve` does."""
    channel = create(engine, settings)
    engine.register(channel)
    app = web.Application()
    app.add_routes(channel.routes())
    await channel.start(engine.handle)
    client = TestClient(TestServer(app))
    await client.start_server()
    return Web(client, engine, channel)


@pytest.fixture
async def webchat(store, settings):
    """Extractive mode over the three test passages."""
    w = await serve(make_engine(store, settings), settings)
    yield w
    await w.client.close()


@pytest.fixture
async def lite(settings, tmp_path):
    """The same on SQLite only: for requests refused or served before anything reaches the store."""
    st = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'lite.db'}")
    w = await serve(make_engine(st, settings), settings)
    yield w
    await w.client.close()
    await st.close()


@pytest.fixture
async def fake_llm():
    async with FakeOpenAI(api_key="k") as fake:
        fake.responder = lambda messages, body: LLM_ANSWER
        yield fake


@pytest.fixture
async def llm_webchat(store, settings, fake_llm):
    """LLM mode against the loopback OpenAI-compatible server (answers stream in 4-character chunks)."""
    s = load_settings(qdbot_data_dir=settings.qdbot_data_dir, openai_base_url=fake_llm.base_url,
                      openai_api_key="k", llm_max_retries=0, llm_classify_intent=False)
    w = await serve(make_engine(store, s, llm=make_chat_model(s)), s)
    yield w
    await w.client.close()
