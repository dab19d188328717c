"""A real WeCom deployment in miniature: the channels' routes on an aiohttp test server, the
loopback FakeWeCom as the API, a real Engine and Store (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.wecom.api import WeComClient
from adapters.wecom.app_channel import WeComAppChannel
from adapters.wecom.crypto import WeComCrypto
from adapters.wecom.kf_channel import WeComKfChannel
from adapters.wecom.settings import WeComSettings
from adapters.wecom.xml import build_xml
from bot.engine import Engine
from bot.settings import Settings
from bot.store import Store
from tests.fakes.engine import make_engine
from tests.fakes.wecom_server import FakeWeCom, callback_request

TOKEN = "QdbotWeComToken1"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
KF = "wkQingdaoKF"
QUESTION = "青岛计划建设多少家概念验证平台？"
PATH = "/wecom/callback"


def wecom_settings(fake: FakeWeCom, **overrides: object) -> WeComSettings:
    values: dict[str, object] = dict(
        wecom_corp_id=fake.corp_id, wecom_agent_id=fake.agent_id, wecom_secret="fake-secret",
        wecom_token=TOKEN, wecom_encoding_aes_key=AES_KEY, wecom_api_base_url=fake.base_url,
        wecom_kf_open_kfids=KF)
    values.update(overrides)
    return WeComSettings(_env_file=None, **values)  # type: ignore[call-arg]


def fast_client(wecom: WeComSettings, **kwargs: object) -> WeComClient:
    """The real client with a short back-off, so rate-limit tests take milliseconds."""
    return WeComClient(wecom.wecom_api_base_url, wecom.wecom_corp_id, backoff=(0.05, 0.1, 0.2), **kwargs)


def text_xml(fake: FakeWeCom, content: str, msg_id: str, user: str = "zhangsan",
             msg_type: str = "text") -> str:
    fields: dict[str, str | int] = {"ToUserName": fake.corp_id, "FromUserName": user,
                                    "CreateTime": int(time.time()), "MsgType": msg_type}
    fields.update({"Content": content} if msg_type == "text" else {"PicUrl": "http://x/p.jpg"})
    fields.update({"MsgId": msg_id, "AgentID": fake.agent_id})
    return build_xml(fields)


@dataclass
class Deployment:
    fake: FakeWeCom
    engine: Engine
    store: Store
    wecom: WeComSettings
    client: TestClient
    app: WeComAppChannel | None
    kf: WeComKfChannel | None

    @property
    def crypto(self) -> WeComCrypto:
        return WeComCrypto(TOKEN, AES_KEY, self.fake.corp_id)

    async def post(self, inner_xml: str, crypto: WeComCrypto | None = None):
        query, body = callback_request(crypto or self.crypto, inner_xml)
        return await self.client.post(PATH, params=query, data=body)

    async def ask(self, content: str, msg_id: str, user: str = "zhangsan"):
        return await self.post(text_xml(self.fake, content, msg_id, user))

    async def trigger_kf(self, open_kfid: str = KF):
        response = await self.post(self.fake.kf_event_xml(open_kfid))
        assert response.status == 200
        return response

    async def settle(self) -> None:
        """Wait until every callback and pull in flight has been handled."""
        if self.app is not None:
            await self.app.inbox.join(20)
        if self.kf is not None:
            await self.kf.inbox.join(20)
            await self.kf.tasks.drain(20)
        if self.app is not None:  # a kf pull may have queued nothing, but be sure
            await self.app.inbox.join(20)

    async def stop(self) -> None:
        for channel in (self.kf, self.app):
            if channel is not None:
                await channel.stop()


@asynccontextmanager
async def deployment(fake: FakeWeCom, store: Store, settings: Settings,
                     **overrides: object) -> AsyncIterator[Deployment]:
    """Both channels (as configured) mounted on one aiohttp test server and started."""
    wecom = wecom_settings(fake, **overrides)
    engine = make_engine(store, settings=settings)
    app = WeComAppChannel(engine, settings, wecom, fast_client(wecom)) if wecom.app_enabled() else None
    kf = WeComKfChannel(engine, settings, wecom, fast_client(wecom)) if wecom.kf_enabled() else None
    web_app = web.Application()
    for channel in (app, kf):
        if channel is not None:
            web_app.add_routes(channel.routes())
            engine.register(channel)
            if hasattr(channel, "on_ticket_event"):  # as the composition root does
                engine.desk.add_staff(channel)
    async with TestClient(TestServer(web_app)) as client:
        for channel in (app, kf):
            if channel is not None:
                await channel.start(engine.handle)
        dep = Deployment(fake, engine, store, wecom, client, app, kf)
        try:
            yield dep
        finally:
            await dep.stop()


async def eventually(check: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll an (async or plain) check until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
