"""The Telegram channel inside `qdbot serve`'s server (bot.app.run_server), polling and webhook."""
from __future__ import annotations

import asyncio

import pytest

from adapters.telegram import create
from bot.app import GC_YOUNG_THRESHOLD, App, make_web_app, run_server
from bot.settings import load_settings
from tests.fakes.engine import make_engine

# The server wiring does not depend on the database backend.
pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
USER = 4242
QUESTION = "青岛计划建设多少家概念验证平台？"


async def _serving(store, settings, telegram, port: int):
    """run_server (knowledge base left out) with only the Telegram channel: (task, stop event, app)."""
    s = load_settings(qdbot_data_dir=settings.qdbot_data_dir, qdbot_port=port, qdbot_host="127.0.0.1")
    engine = make_engine(store, s)
    app = App(s, store, None, engine.answerer, engine)
    web_app = make_web_app(app, [lambda e, st: create(e, st, telegram)])
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_server(app, web_app, stop, started))
    await asyncio.wait_for(started.wait(), 10)
    return task, stop, app


async def test_serve_answers_over_long_polling_and_stops_cleanly(store, settings, fake, tg_settings, free_port):
    task, stop, app = await _serving(store, settings, tg_settings(), free_port)
    assert [c.name for c in app.channels] == ["telegram"]
    fake.user_message(USER, USER, QUESTION)
    [answer] = await fake.wait_for("sendMessage")
    stop.set()
    await asyncio.wait_for(task, 10)
    assert "60家左右" in answer.params["text"]
    assert not app.channels[0].application.running


async def test_serve_mounts_the_webhook_on_its_own_server_and_answers(store, settings, fake, tg_settings, free_port):
    port = free_port
    config = tg_settings(telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
                         telegram_webhook_secret="serve_secret")
    task, stop, _ = await _serving(store, settings, config, port)
    try:
        update = fake.user_message(USER, USER, QUESTION)
        assert await fake.deliver_webhook(update) == 200
        assert await fake.deliver_webhook(update, secret="nope") == 403
        [answer] = await fake.wait_for("sendMessage")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert "60家左右" in answer.params["text"] and len(fake.sent_messages(USER)) == 1


async def test_serve_freezes_the_heap_it_started_with_out_of_the_cyclic_collectors_reach(
        store, settings, tg_settings, free_port):
    """The first full collection must not walk the models and dictionaries loaded at start in the middle
    of the first burst (bot.app.freeze_startup_heap)."""
    import gc

    threshold = gc.get_threshold()
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    task, stop, _ = await _serving(store, settings, tg_settings(), free_port)
    try:
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        gc.unfreeze()
        gc.set_threshold(*threshold)
