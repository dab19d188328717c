"""The WeCom API client against the loopback fake: tokens, retries, back-off, operator errors."""
from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from adapters.wecom.api import WeComAPIError, WeComClient, WeComConfigError, WeComRateLimited
from tests.fakes.wecom_server import FakeWeCom

SEND = "/cgi-bin/message/send"
SECRET = "fake-secret"


def body(fake: FakeWeCom, text: str = "你好") -> dict:
    return {"touser": "zhangsan", "msgtype": "text", "agentid": fake.agent_id, "text": {"content": text}}


@pytest.fixture
async def client(fake):
    c = WeComClient(fake.base_url, fake.corp_id, backoff=(0.05, 0.1, 0.2))
    yield c
    await c.close()


async def test_the_access_token_is_fetched_once_and_reused(fake, client):
    for _ in range(3):
        await client.call(SEND, SECRET, body(fake))
    assert fake.token_calls == 1 and len(fake.sent("message")) == 3


async def test_concurrent_calls_with_a_cold_cache_fetch_the_token_once(fake, client):
    fake.slow["/cgi-bin/gettoken"] = 0.1
    await asyncio.gather(*(client.call(SEND, SECRET, body(fake)) for _ in range(20)))
    assert fake.token_calls == 1 and len(fake.sent("message")) == 20


async def test_the_token_is_refreshed_five_minutes_before_it_expires(fake):
    now = [1000.0]
    client = WeComClient(fake.base_url, fake.corp_id, clock=lambda: now[0])
    try:
        await client.token(SECRET)
        now[0] += 7200 - 300 - 1
        await client.token(SECRET)
        assert fake.token_calls == 1
        now[0] += 2
        await client.token(SECRET)
        assert fake.token_calls == 2
    finally:
        await client.close()


async def test_an_expired_token_is_refreshed_and_the_call_retried_once(fake, client):
    await client.call(SEND, SECRET, body(fake, "first"))
    fake.expire_tokens()
    await client.call(SEND, SECRET, body(fake, "second"))
    codes = [c.response["errcode"] for c in fake.calls_to(SEND)]
    assert codes == [0, 42001, 0]
    assert fake.token_calls == 2
    assert [d.text for d in fake.sent("message")] == ["first", "second"]


@pytest.mark.parametrize("errcode", [40014, 42001, 42007, 42009])
async def test_every_token_errcode_triggers_one_refresh(fake, client, errcode):
    fake.fail_next(SEND, errcode)
    await client.call(SEND, SECRET, body(fake))
    assert fake.token_calls == 2 and len(fake.sent("message")) == 1


async def test_a_token_error_right_after_a_refresh_is_not_retried_again(fake, client):
    fake.fail_next(SEND, 42001, n=2)
    with pytest.raises(WeComAPIError) as err:
        await client.call(SEND, SECRET, body(fake))
    assert err.value.errcode == 42001
    assert len(fake.calls_to(SEND)) == 2 and fake.sent("message") == []


async def test_rate_limiting_backs_off_and_then_succeeds(fake, client):
    fake.fail_next(SEND, 45009, n=2)
    started = time.perf_counter()
    await client.call(SEND, SECRET, body(fake))
    assert time.perf_counter() - started >= 0.05 + 0.1
    assert [c.response["errcode"] for c in fake.calls_to(SEND)] == [45009, 45009, 0]


async def test_rate_limiting_gives_up_after_a_bounded_back_off(fake, client):
    fake.fail_next(SEND, 45009, n=10)
    with pytest.raises(WeComRateLimited):
        await client.call(SEND, SECRET, body(fake))
    assert len(fake.calls_to(SEND)) == 4  # the call and three back-offs, no more


async def test_an_untrusted_ip_is_reported_for_operators_and_not_retried(fake, client):
    fake.fail_next(SEND, 60020)
    with capture_logs() as logs, pytest.raises(WeComConfigError) as err:
        await client.call(SEND, SECRET, body(fake))
    assert "calling IP not in the app's trusted IPs" in str(err.value)
    assert any(e["log_level"] == "error" and e["event"].startswith("WeCom: calling IP not in the app's trusted IPs")
               for e in logs)
    assert len(fake.calls_to(SEND)) == 1 and fake.token_calls == 1


async def test_a_rejected_secret_is_reported_and_not_looped(fake, client):
    with pytest.raises(WeComConfigError, match="secret was rejected"):
        await client.call(SEND, "not-the-secret", body(fake))
    assert fake.token_calls == 1 and fake.calls_to(SEND) == []


async def test_a_lost_response_is_retried_only_for_idempotent_calls(fake, client):
    fake.lose_response_next(SEND)
    with pytest.raises(WeComAPIError, match="HTTP 502"):
        await client.call(SEND, SECRET, body(fake))
    assert len(fake.calls_to(SEND)) == 1  # message/send has no idempotency key: never repeated
    fake.lose_response_next("/cgi-bin/kf/servicer/list")
    fake.set_servicers("wkKF", {"lisi": 0})
    data = await client.call("/cgi-bin/kf/servicer/list", SECRET, method="GET",
                             params={"open_kfid": "wkKF"}, idempotent=True)
    assert data["servicer_list"] == [{"userid": "lisi", "status": 0}]


async def test_every_call_goes_to_the_configured_base_url(fake, client):
    await client.call(SEND, SECRET, body(fake))
    assert client.base_url == fake.base_url and fake.calls  # the fake saw them all
    assert {c.path for c in fake.calls} == {"/cgi-bin/gettoken", SEND}
