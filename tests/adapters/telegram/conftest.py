"""Fixtures for the Telegram channel: real PTB against FakeTelegram, a real Engine on a real Store."""
from __future__ import annotations

import socket

import pytest
from aiohttp import web
from sqlalchemy import select

from adapters.telegram import TelegramChannel, TelegramSettings
from bot.store.models import ConversationRow
from bot.text import query_terms
from tests.fakes.engine import make_engine
from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_server import FakeTelegram

SECRET = "s3cret_Token-for-tests"


@pytest.fixture(scope="session", autouse=True)
def _warm_jieba() -> None:
    """Load jieba's dictionary once, before any clock starts (it blocks for seconds on first use)."""
    query_terms("青岛概念验证平台")


@pytest.fixture
async def fake():
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def engine(store, settings):
    return make_engine(store, settings)


def _settings(fake: FakeTelegram, **overrides) -> TelegramSettings:
    """Settings pointing PTB at the fake, isolated from the environment and any `.env`."""
    values = dict(telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
                  telegram_proxy_url=None, telegram_webhook_url=None, telegram_webhook_secret=None,
                  telegram_rate_limit_retries=1)
    return TelegramSettings(_env_file=None, **(values | overrides))


@pytest.fixture
def tg_settings(fake):
    """tg_settings(**overrides) -> TelegramSettings for the fake."""
    return lambda **overrides: _settings(fake, **overrides)


async def _started(engine, config: TelegramSettings) -> TelegramChannel:
    channel = TelegramChannel(engine, config)
    engine.register(channel)
    await channel.start(engine.handle)
    return channel


@pytest.fixture
async def channel(fake, engine):
    """A polling channel, started."""
    ch = await _started(engine, _settings(fake))
    yield ch
    await ch.stop()


STAFF_CHAT = -1002000000001


@pytest.fixture
async def staff_channel(fake, engine):
    """A polling channel with the staff forum supergroup configured, the desk's staff channel (as
    `bot.app` wires it), started."""
    ch = TelegramChannel(engine, _settings(fake, telegram_staff_chat_id=STAFF_CHAT))
    engine.register(ch)
    engine.desk.add_staff(ch)
    await ch.start(engine.handle)
    yield ch
    await ch.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port()


@pytest.fixture
async def webhook_channel(fake, engine):
    """A webhook channel whose route is served by a small aiohttp server, started."""
    port = _free_port()
    config = _settings(fake, telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
                       telegram_webhook_secret=SECRET)
    ch = TelegramChannel(engine, config)
    app = web.Application()
    app.add_routes(ch.routes())
    async with LoopbackServer(app, port=port, handler_cancellation=False):  # as bot.app serves it
        engine.register(ch)
        await ch.start(engine.handle)
        yield ch
        await ch.stop()


class Records:
    """What the store holds about a Telegram chat."""

    def __init__(self, store):
        self.store = store

    async def blocked(self, chat_id: int) -> bool:
        conversation = await self.store.find_conversation("telegram", str(chat_id))
        async with self.store.engine.connect() as conn:
            return bool(await conn.scalar(select(ConversationRow.blocked)
                                          .where(ConversationRow.id == conversation.id)))

    async def messages(self, chat_id: int, role: str | None = None) -> list:
        conversation = await self.store.find_conversation("telegram", str(chat_id))
        if conversation is None:
            return []
        return [m for m in await self.store.messages(conversation.id) if role in (None, m.role)]


@pytest.fixture
def records(store) -> Records:
    return Records(store)
