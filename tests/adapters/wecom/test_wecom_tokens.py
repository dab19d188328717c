"""WeCom access tokens shared by several workers through the database (`StoreTokens`): fetched once
for the deployment, a rejected token dropped for everyone, and each worker on its own when the
database is unreachable."""
from __future__ import annotations

import asyncio

from sqlalchemy import text

from adapters.wecom.api import WeComClient
from adapters.wecom.tokens import StoreTokens, token_key
from bot.store import Store
from tests.fakes.engine import make_engine
from tests.fakes.wecom_server import FakeWeCom

SEND = "/cgi-bin/message/send"
SECRET = "fake-secret"


def body(fake: FakeWeCom, text_: str = "你好") -> dict:
    return {"touser": "zhangsan", "msgtype": "text", "agentid": fake.agent_id, "text": {"content": text_}}


KEY = b"shared-secret-of-the-deployment-0123456789"


def worker(fake: FakeWeCom, store: Store, key: bytes = KEY) -> WeComClient:
    """One worker's client: its own engine and in-memory cache, the shared store behind them."""
    return WeComClient(fake.base_url, fake.corp_id, backoff=(0.05, 0.1, 0.2),
                       shared=StoreTokens(make_engine(store), key))


async def test_two_workers_with_cold_caches_fetch_the_token_once(fake, store):
    fake.slow["/cgi-bin/gettoken"] = 0.2  # both ask while the first fetch is under way
    a, b = worker(fake, store), worker(fake, store)
    try:
        await asyncio.gather(*(c.call(SEND, SECRET, body(fake)) for c in (a, b) for _ in range(5)))
        assert fake.token_calls == 1 and len(fake.sent("message")) == 10
        raw = await store.get_state(token_key(fake.corp_id, SECRET))
        token = fake.calls_to(SEND)[0].query["access_token"]
        assert raw and SECRET not in raw and token not in raw  # kept encrypted; the secret never is
    finally:
        await a.close()
        await b.close()


async def test_a_token_rejected_by_wecom_is_refreshed_once_for_every_worker(fake, store):
    a, b = worker(fake, store), worker(fake, store)
    try:
        await a.call(SEND, SECRET, body(fake, "1"))
        await b.call(SEND, SECRET, body(fake, "2"))  # b takes a's token from the database
        assert fake.token_calls == 1
        fake.expire_tokens()
        await a.call(SEND, SECRET, body(fake, "3"))  # 42001, refresh, retry
        await b.call(SEND, SECRET, body(fake, "4"))  # 42001 with its cached copy, then a's new token
        assert fake.token_calls == 2
        assert [d.text for d in fake.sent("message")] == ["1", "2", "3", "4"]
    finally:
        await a.close()
        await b.close()


async def test_a_restarted_worker_uses_the_token_in_the_database(fake, store):
    first = worker(fake, store)
    await first.call(SEND, SECRET, body(fake))
    await first.close()
    again = worker(fake, store)
    try:
        await again.call(SEND, SECRET, body(fake))
        assert fake.token_calls == 1
    finally:
        await again.close()


async def test_with_the_database_unusable_each_worker_fetches_its_own_token(fake, lite_store):
    async with lite_store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE channel_state"))  # every read and write now fails
    a = worker(fake, lite_store)
    try:
        await a.call(SEND, SECRET, body(fake))
        await a.call(SEND, SECRET, body(fake))
        fake.expire_tokens()
        await a.call(SEND, SECRET, body(fake))
        assert fake.token_calls == 2 and len(fake.sent("message")) == 3
    finally:
        await a.close()


async def test_a_worker_with_another_secret_key_cannot_read_the_token_and_fetches_its_own(fake, store):
    a, stranger = worker(fake, store), worker(fake, store, b"another-deployment-key-0123456789abcdef")
    try:
        await a.call(SEND, SECRET, body(fake))
        await stranger.call(SEND, SECRET, body(fake))
        assert fake.token_calls == 2
    finally:
        await a.close()
        await stranger.close()
