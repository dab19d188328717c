"""Fuzzing (hypothesis) of hostile input at every edge: the web chat API, the Telegram update
translation, and the WeCom callback parser. No crash, no server error, nothing stored twice."""
from __future__ import annotations

import asyncio
import json
import threading

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings, strategies as st
from telegram import Bot, Update, User

from adapters.telegram.translate import incoming
from adapters.web import create as create_web
from adapters.wecom.translate import app_message, kf_item
from adapters.wecom.xml import parse_xml
from bot.errors import BadRequestError
from bot.settings import load_settings
from bot.store import Store
from bot.types import IncomingMessage
from tests.fakes.engine import make_engine

ACCEPTED: list = []
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


class LoopThread:
    """One event loop in a thread, so synchronous hypothesis examples can drive an async server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def web_chat(tmp_path_factory):
    runner = LoopThread()
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"

    async def start():
        store = await Store.open(f"sqlite+aiosqlite:///{path}")
        s = load_settings(qdbot_data_dir=path.parent, rate_limit_per_minute=0, web_rate_limit_per_ip=0,
                          max_message_chars=500)
        engine = make_engine(store, settings=s)
        channel = create_web(engine, s)
        engine.register(channel)
        app = web.Application(client_max_size=64 * 1024)
        app.add_routes(channel.routes())
        await channel.start(engine.handle)
        client = TestClient(TestServer(app))
        await client.start_server()
        return store, client

    store, client = runner.run(start())
    yield runner, store, client
    runner.run(client.close())
    runner.run(store.close())
    runner.close()


async def _post(client: TestClient, body: bytes) -> tuple[int, str]:
    async with client.post("/api/chat", data=body, headers={"Content-Type": "application/json"}) as r:
        return r.status, await r.text()


@FUZZ
@given(payload=json_values | st.fixed_dictionaries(
    {"session_id": st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True) | st.text(max_size=70),
     "text": st.text(max_size=600)}, optional={"lang": st.sampled_from(["zh", "en"]) | st.text(max_size=4)}))
def test_any_json_to_the_chat_api_is_answered_or_refused_clearly_and_stored_at_most_once(web_chat, payload):
    runner, store, client = web_chat
    before = runner.run(store.count_messages())
    status, text = runner.run(_post(client, json.dumps(payload).encode()))
    after = runner.run(store.count_messages())
    assert status in (200, 400), text
    body = json.loads(text)
    if status == 400:
        assert body["error"] and after == before  # refused: nothing stored
    else:
        assert len(body["replies"]) >= 1 and after - before == 1 + len(body["replies"])
        ACCEPTED.append(payload)


def test_the_fuzzer_reached_the_engine_with_accepted_messages():
    assert len(ACCEPTED) >= 10  # the valid-looking half of the payloads really went through


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_to_the_chat_api_never_cause_a_server_error(web_chat, raw):
    runner, _, client = web_chat
    status, _ = runner.run(_post(client, raw))
    assert status in (200, 400, 413)


ME = User(id=123456789, first_name="bot", is_bot=True, username="fake_qd_bot")
BOT = Bot("123456789:FAKE-telegram-token")
entities = st.lists(st.fixed_dictionaries({"type": st.sampled_from(["mention", "bot_command", "bold", "url", "text_mention"]),
                                           "offset": st.integers(-5, 80), "length": st.integers(-5, 80)}), max_size=4)
messages = st.fixed_dictionaries(
    {"message_id": st.integers(1, 2**31), "date": st.integers(0, 2**31),
     "chat": st.fixed_dictionaries({"id": st.integers(-2**40, 2**40),
                                    "type": st.sampled_from(["private", "group", "supergroup", "channel"])})},
    optional={"text": st.text(max_size=300), "caption": st.text(max_size=100), "entities": entities,
              "from": st.fixed_dictionaries({"id": st.integers(1, 2**40), "is_bot": st.booleans(),
                                             "first_name": st.text(max_size=20)},
                                            optional={"language_code": st.text(max_size=8)}),
              "sticker": st.just({"file_id": "s", "file_unique_id": "u", "width": 1, "height": 1,
                                  "is_animated": False, "is_video": False, "type": "regular"}),
              "message_thread_id": st.integers(1, 100), "is_topic_message": st.booleans()})


@FUZZ
@given(update_id=st.integers(0, 2**31), message=messages)
@example(update_id=0, message={  # found by hypothesis: an entity cutting a surrogate pair in half
    "message_id": 1, "date": 0, "chat": {"id": 0, "type": "group"}, "text": "𐀀",
    "entities": [{"type": "mention", "offset": 0, "length": 1}]})
def test_any_telegram_message_translates_to_a_message_or_nothing(update_id, message):
    update = Update.de_json({"update_id": update_id, "message": message}, BOT)
    out = incoming(update, ME)
    assert out is None or (isinstance(out, IncomingMessage) and isinstance(out.text, str) and out.channel == "telegram")


@FUZZ
@given(raw=st.binary(max_size=3000) | st.text(max_size=1000).map(lambda t: f"<xml>{t}</xml>".encode()))
def test_the_wecom_parser_returns_fields_or_a_clear_bad_request(raw):
    try:
        fields = parse_xml(raw)
    except BadRequestError:
        return
    assert isinstance(fields, dict)
    app_message(fields)  # any parsed fields translate without an exception


@FUZZ
@given(item=st.dictionaries(st.sampled_from(["msgid", "open_kfid", "external_userid", "send_time", "origin",
                                             "servicer_userid", "msgtype", "text", "event"]), json_values))
def test_any_kf_sync_item_translates_or_is_skipped_without_an_exception(item):
    kf_item(item)
