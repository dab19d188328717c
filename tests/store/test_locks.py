"""Named locks shared by workers (advisory locks and leases): two holders of the same name never
overlap; a lease holds no connection, is renewed while held and runs out when its holder died."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.store import Store


@pytest.mark.parametrize("kind", ["hold", "lease"])
async def test_a_named_lock_serialises_holders_and_different_names_do_not_block(store: Store, kind: str):
    inside, overlaps = [], []

    async def hold(name: str, tag: str) -> None:
        async with getattr(store.locks, kind)(name):
            if any(n == name for n, _ in inside):
                overlaps.append(tag)
            inside.append((name, tag))
            await asyncio.sleep(0.05)
            inside.remove((name, tag))

    await asyncio.gather(*(hold("conversation:1", str(i)) for i in range(4)), hold("conversation:2", "other"))
    assert overlaps == []


async def test_a_held_lease_keeps_no_connection(store: Store):
    async with store.locks.lease("conversation:3"):
        if store.dialect == "postgresql":
            assert store.engine.pool.checkedout() == 0  # held, yet no connection is out of the pool


@pytest.mark.parametrize("kind", ["hold", "lease"])
async def test_two_stores_on_one_postgres_database_share_the_lock(pg_url, kind: str):
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    order: list[str] = []

    async def hold(store: Store, tag: str) -> None:
        async with getattr(store.locks, kind)("kf:wk1"):
            order.append(f"{tag}-in")
            await asyncio.sleep(0.1)
            order.append(f"{tag}-out")

    await asyncio.gather(hold(a, "a"), hold(b, "b"))
    await a.close()
    await b.close()
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])


async def test_a_dead_holders_lease_runs_out_and_old_leases_are_pruned(pg_url):
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    async with a.engine.begin() as conn:  # a worker that died holding it, its lease 1 s from running out
        await conn.execute(text("INSERT INTO leases (name, holder, expires_at) "
                                "VALUES ('conversation:7', 'dead-worker', now() + interval '1 second')"))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with b.locks.lease("conversation:7"):
        waited = loop.time() - t0
    assert 0.5 < waited < 5
    async with a.engine.begin() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM leases"))).scalar() == 0  # released
        await conn.execute(text("INSERT INTO leases VALUES ('old', 'dead', now() - interval '2 hours')"))
    assert await a.locks.prune(3600) == 1
    await a.close()
    await b.close()


async def test_a_held_lease_is_renewed_so_it_does_not_run_out_under_its_holder(pg_url):
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    got_in = asyncio.Event()

    async def long_holder() -> None:
        async with a.locks.lease("conversation:9", ttl=0.6):
            got_in.set()
            await asyncio.sleep(1.5)  # well past the ttl: renewals keep it

    task = asyncio.create_task(long_holder())
    await got_in.wait()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with b.locks.lease("conversation:9", ttl=0.6):
        waited = loop.time() - t0
    await task
    assert waited > 1.2
    await a.close()
    await b.close()
