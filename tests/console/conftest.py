"""The console on a real aiohttp server (composed by `bot.app.make_web_app` as `qdbot serve` does), a real
Engine on a real Store (SQLite and PostgreSQL), accounts of every role and the web chat beside it."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from adapters import console as console_pkg
from adapters import web as web_chat
from adapters.console.channel import ConsoleChannel
from adapters.console.settings import ConsoleSettings
from bot.app import App, make_web_app
from bot.store import Store
from bot.records import ManagerRecord
from bot.types import IncomingMessage
from tests.fakes.engine import make_engine

ALICE = ManagerRecord("alice", "张工", ("专利", "海洋"))
BOB = ManagerRecord("bob", "李工", ("人工智能",))
PASSWORD = "correct horse battery"
QUESTION = "青岛计划建设多少家概念验证平台？"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # argon2id, cheap for tests
_n = itertools.count(1)


@dataclass
class Console:
    """The running server and what tests need to drive it."""

    client: TestClient
    app: App
    channel: ConsoleChannel
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.app.store

    async def account(self, role: str, username: str | None = None, manager_id: str | None = None) -> str:
        """A new account of this role and an API token for it."""
        name = username or f"{role}{next(_n)}"
        account = await self.channel.accounts.create(name, role, PASSWORD, manager_id or ("alice" if role == "manager" else None))
        return await self.channel.accounts.issue_token(account)

    async def token(self, role: str) -> str:
        if role not in self.tokens:
            self.tokens[role] = await self.account(role)
        return self.tokens[role]

    async def api(self, method: str, path: str, role: str | None = "admin", *, expect: int | None = 200,
                  **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {await self.token(role)}"} if role else {}
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        body = await resp.read()
        if expect is not None:
            assert resp.status == expect, body.decode(errors="replace")
        if resp.content_type == "application/json":
            return await resp.json()
        return body.decode("utf-8-sig", errors="replace")

    def public(self, session: str = "sess-0001-abcd") -> str:
        """The id a web session's conversation is stored under (all that staff see)."""
        from adapters.web.session import public_id

        return public_id(self.app.settings.secret_key(), session)

    async def chat(self, text: str, session: str = "sess-0001-abcd") -> dict:
        resp = await self.client.post("/api/chat", json={"session_id": session, "text": text})
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def history(self, session: str = "sess-0001-abcd") -> list[dict]:
        resp = await self.client.get("/api/chat/history", headers={"X-Chat-Session": session})
        return (await resp.json())["messages"]

    async def login(self, username: str, password: str = PASSWORD) -> str:
        """Sign in with a session cookie; returns the CSRF token."""
        resp = await self.client.post("/api/admin/login", json={"username": username, "password": password})
        assert resp.status == 200, await resp.text()
        return (await resp.json())["csrf"]


async def start_console(app: App, config: ConsoleSettings | None = None) -> Console:
    """`make_web_app` with the web chat and the console, the channels started, on a test server."""
    factories = [web_chat.create, lambda engine, settings: console_pkg.create(engine, settings, config or ConsoleSettings())]
    web_app = make_web_app(app, factories)
    for channel in app.channels:
        await channel.start(app.engine.handle)
    channel = next(c for c in app.channels if c.name == "console")
    channel.accounts.hasher = FAST_HASHER
    client = TestClient(TestServer(web_app))
    await client.start_server()
    return Console(client, app, channel)


async def _console(store: Store, settings, llm: Any = None) -> Console:
    for m in (ALICE, BOB):
        await store.tickets.upsert_manager(m)
    engine = make_engine(store, settings, llm=llm)
    app = App(settings, store, kb=None, answerer=engine.answerer, engine=engine)  # type: ignore[arg-type]
    return await start_console(app)


@pytest.fixture
async def console(store, settings):
    """Extractive answers over the three test passages; managers Alice and Bob on the roster (SQLite and PostgreSQL)."""
    c = await _console(store, settings)
    yield c
    await c.client.close()


@pytest.fixture
async def fake_llm():
    from tests.fakes.openai_server import FakeOpenAI

    async with FakeOpenAI(api_key="k") as fake:
        yield fake


@pytest.fixture
async def sqlite_console(tmp_path, settings):
    """The same on SQLite only, for behaviour that does not depend on the database."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    c = await _console(store, settings)
    yield c
    await c.client.close()
    await store.close()


async def say(c: Console, text: str, chat: str = "u1", channel: str = "web", **kw: Any):
    """A user message through the real engine (any channel name)."""
    return await c.app.engine.handle(IncomingMessage(channel, chat, chat, text, channel_message_id=f"{chat}-{next(_n)}",
                                                     **kw))
