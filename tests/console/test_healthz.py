"""/healthz writes to the database (issue 12, finding 12): it is not ok when no message could be stored."""
from __future__ import annotations

from sqlalchemy import text


async def test_healthz_is_ok_when_the_database_takes_writes(sqlite_console):
    resp = await sqlite_console.client.get("/healthz")
    assert resp.status == 200 and (await resp.json())["storage"] == "ok"
    assert await sqlite_console.store.get_state("healthz:probe")


async def test_healthz_says_unavailable_with_503_when_every_write_fails(sqlite_console):
    store = sqlite_console.store
    async with store.engine.begin() as conn:  # the database refuses writes, as a full disk or a read-only mount does
        for event in ("INSERT", "UPDATE"):
            await conn.execute(text(f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON channel_state "
                                    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))
    resp = await sqlite_console.client.get("/healthz")
    data = await resp.json()
    assert resp.status == 503 and data["status"] == "unavailable" and "failed" in data["storage"]


async def test_healthz_says_starting_with_503_until_every_channel_has_started(sqlite_console):
    """`run_server` listens before the channels start (webhooks stored from the first second), but a probe
    must not report ready before, e.g., the Telegram webhook is registered."""
    sqlite_console.app.starting = True
    resp = await sqlite_console.client.get("/healthz")
    assert resp.status == 503 and (await resp.json())["status"] == "starting"
    sqlite_console.app.starting = False
    assert (await sqlite_console.client.get("/healthz")).status == 200
