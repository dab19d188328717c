"""Named locks shared by workers: two holders of the same name never overlap."""
from __future__ import annotations

import asyncio

from bot.store import Store


async def test_a_named_lock_serialises_holders_and_different_names_do_not_block(store: Store):
    inside, overlaps = [], []

    async def hold(name: str, tag: str) -> None:
        async with store.locks.hold(name):
            if any(n == name for n, _ in inside):
                overlaps.append(tag)
            inside.append((name, tag))
            await asyncio.sleep(0.05)
            inside.remove((name, tag))

    await asyncio.gather(*(hold("conversation:1", str(i)) for i in range(4)), hold("conversation:2", "other"))
    assert overlaps == []


async def test_two_stores_on_one_postgres_database_share_the_lock(pg_url):
    a, b = await Store.open(pg_url), await Store.open(pg_url)
    order: list[str] = []

    async def hold(store: Store, tag: str) -> None:
        async with store.locks.hold("kf:wk1"):
            order.append(f"{tag}-in")
            await asyncio.sleep(0.1)
            order.append(f"{tag}-out")

    await asyncio.gather(hold(a, "a"), hold(b, "b"))
    await a.close()
    await b.close()
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
