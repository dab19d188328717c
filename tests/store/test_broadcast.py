"""Notices to every worker through PostgreSQL LISTEN/NOTIFY: heard by the others, not echoed to the
sender, heard again after the listening connection was cut; nothing to do on SQLite."""
from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.store import Store


async def _heard(store: Store, channel: str) -> list[dict]:
    got: list[dict] = []
    store.broadcast.subscribe(channel, got.append)
    await asyncio.wait_for(store.broadcast.connected.wait(), 10)
    return got


async def _until(check, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


async def test_a_notice_reaches_the_other_worker_and_not_its_sender(pg_url):
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    try:
        heard_a, heard_b = await _heard(a, "qdbot_tickets"), await _heard(b, "qdbot_tickets")
        await a.broadcast.publish("qdbot_tickets", {"kind": "claimed", "ticket_id": 12, "state": "active"})
        await _until(lambda: heard_b)
        await asyncio.sleep(0.3)
        assert heard_b == [{"kind": "claimed", "ticket_id": 12, "state": "active"}] and heard_a == []
    finally:
        await a.close()
        await b.close()


async def test_the_listener_comes_back_after_its_connection_was_cut(pg_url, monkeypatch):
    monkeypatch.setattr("bot.store.broadcast.CHECK_EVERY", 0.2)
    monkeypatch.setattr("bot.store.broadcast.RETRY_AFTER", 0.2)
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    try:
        heard = await _heard(b, "qdbot_tickets")
        async with a.engine.connect() as conn:  # as when the server restarts: its sessions end
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": b.broadcast.backend_pid})
            await conn.commit()
        await _until(lambda: not b.broadcast.connected.is_set(), 5)
        await asyncio.wait_for(b.broadcast.connected.wait(), 10)
        await a.broadcast.publish("qdbot_tickets", {"ticket_id": 3})
        await _until(lambda: heard == [{"ticket_id": 3}])
    finally:
        await a.close()
        await b.close()


async def test_on_sqlite_publishing_is_a_no_op(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    heard: list[dict] = []
    store.broadcast.subscribe("qdbot_tickets", heard.append)
    await store.broadcast.publish("qdbot_tickets", {"ticket_id": 1})
    await store.close()
    assert heard == [] and not store.broadcast.shared
