"""The per-address limit of the web chat (WEB_RATE_LIMIT_PER_IP) on a real server, Engine and Store."""
from __future__ import annotations

import pytest

from adapters.web import pages
from adapters.web.limit import AddressLimit
from bot.settings import load_settings
from bot.store import Store
from tests.adapters.web.conftest import QUESTION, serve
from tests.fakes.engine import make_engine

A, B = "203.0.113.7", "198.51.100.23"  # client addresses a trusted proxy (the loopback peer) forwards


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def web_with(settings, tmp_path):
    """A factory: the web chat with the given setting overrides on a fresh SQLite store."""
    opened = []

    async def make(**overrides):
        overrides.setdefault("web_trusted_proxies", "127.0.0.1,::1")  # the test client is the proxy
        s = load_settings(qdbot_data_dir=settings.qdbot_data_dir, **overrides)
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / f'limit{len(opened)}.db'}")
        w = await serve(make_engine(store, s), s)
        opened.append((w, store))
        return w

    yield make
    for w, store in opened:
        await w.client.close()
        await store.close()


async def post(w, n: int, address: str | None = A, path: str = "/api/chat", text: str = "/help", query: str = ""):
    """Message number `n` (each in a new session) from `address` (via X-Forwarded-For when given)."""
    headers = {"X-Forwarded-For": address} if address else {}
    return await w.client.post(path + query, json={"session_id": f"rotating-{n:04d}", "text": text},
                               headers=headers)


async def test_one_address_rotating_sessions_is_refused_after_the_limit_while_another_is_still_answered(web_with):
    w = await web_with(web_rate_limit_per_ip=3)
    paths = ["/api/chat", "/api/chat/stream", "/api/chat"]  # both chat routes share one budget
    assert [(await post(w, n, A, path)).status for n, path in enumerate(paths)] == [200, 200, 200]
    refused = await post(w, 3, A, "/api/chat/stream")
    body = await refused.json()
    assert (refused.status, refused.content_type, body["code"]) == (429, "application/json", "rate_limited")
    seconds = int(refused.headers["Retry-After"])
    assert 1 <= seconds <= 60 and body["error"] == pages.say("zh", "error_rate_limited", seconds=seconds)
    answered = await post(w, 4, B, text=QUESTION)
    assert answered.status == 200 and "60家左右" in (await answered.json())["answer"]


async def test_the_refusal_speaks_the_language_the_page_asks_for(web_with):
    w = await web_with(web_rate_limit_per_ip=1)
    assert (await post(w, 0)).status == 200
    refused = await post(w, 1, query="?lang=en")
    seconds = int(refused.headers["Retry-After"])
    assert (await refused.json())["error"] == f"Too many messages from your network; please try again in {seconds} s."


@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream"])
async def test_a_refused_message_is_not_stored_and_never_reaches_the_engine(web_with, path):
    w = await web_with(web_rate_limit_per_ip=2)
    for n in range(2):
        assert (await post(w, n, text=QUESTION)).status == 200
    stored = await w.engine.store.count_messages()
    assert (await post(w, 99, path=path, text=QUESTION)).status == 429
    assert await w.engine.store.count_messages() == stored
    assert await w.engine.store.find_conversation("web", w.public("rotating-0099")) is None  # the engine never saw it


async def test_the_window_slides_a_message_is_admitted_once_the_oldest_is_a_minute_old(web_with):
    w = await web_with(web_rate_limit_per_ip=3)
    w.channel.per_address.clock = clock = Clock()
    for n, at in enumerate((0, 10, 20)):
        clock.now = 1000 + at
        assert (await post(w, n)).status == 200
    clock.now = 1030
    refused = await post(w, 3)
    assert (refused.status, refused.headers["Retry-After"]) == (429, "30")  # the message at 0 leaves at 60
    clock.now = 1060
    assert (await post(w, 4)).status == 200
    clock.now = 1061
    refused = await post(w, 5)
    assert (refused.status, refused.headers["Retry-After"]) == (429, "9")  # now the one at 10 is the oldest


async def test_the_default_is_60_a_minute_and_0_turns_the_limit_off(web_with):
    default, off = await web_with(), await web_with(web_rate_limit_per_ip=0)
    assert [(await post(default, n)).status for n in range(61)] == [200] * 60 + [429]
    assert [(await post(off, n)).status for n in range(70)] == [200] * 70


async def test_an_untrusted_peer_cannot_dodge_the_limit_by_sending_x_forwarded_for(web_with):
    w = await web_with(web_rate_limit_per_ip=3, web_trusted_proxies="10.0.0.1")  # the loopback peer is not a proxy
    statuses = [(await post(w, n, f"192.0.2.{n}")).status for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


async def test_a_trusted_proxy_counts_the_last_forwarded_hop_not_what_the_client_wrote_before_it(web_with):
    w = await web_with(web_rate_limit_per_ip=2)
    statuses = [(await post(w, n, f"192.0.2.{n}, {A}")).status for n in range(3)]
    assert statuses == [200, 200, 429]


async def test_feedback_and_history_are_not_counted(web_with):
    w = await web_with(web_rate_limit_per_ip=2)
    answer = await (await post(w, 0, text=QUESTION)).json()
    for _ in range(3):
        fb = await w.client.post("/api/feedback", json={"session_id": "rotating-0000", "value": "up",
                                                        "message_id": answer["message_id"]},
                                 headers={"X-Forwarded-For": A})
        history = await w.client.get("/api/chat/history", headers={"X-Forwarded-For": A,
                                                                   "X-Chat-Session": "rotating-0000"})
        assert (fb.status, history.status) == (200, 200)
    assert [(await post(w, n)).status for n in (1, 2)] == [200, 429]


# ---------------------------------------------------------------- the limiter's memory

def test_an_address_idle_for_a_whole_window_is_forgotten():
    clock = Clock()
    limit = AddressLimit(2, window=60, clock=clock)
    for address in ("a", "b", "b"):
        assert limit.take(address) == 0
    clock.now += 59
    assert (len(limit), limit.take("b")) == (2, 1.0)  # b is full for one more second
    clock.now += 1
    assert limit.take("c") == 0 and len(limit) == 1  # a and b were idle for a minute: only c is left


def test_beyond_the_cap_the_least_recently_active_address_is_dropped():
    clock = Clock()
    limit = AddressLimit(1, window=60, max_addresses=3, clock=clock)
    for address in ("a", "b", "c", "d"):
        clock.now += 1
        assert limit.take(address) == 0
    assert len(limit) == 3 and limit.take("a") == 0  # a was dropped, so it starts afresh
    assert limit.take("d") > 0  # d, still tracked, is full
