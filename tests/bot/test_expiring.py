"""bot.expiring.Expiring: one read for many concurrent callers; a new key or forget() reads again."""
from __future__ import annotations

import asyncio

from bot.expiring import Expiring


async def test_concurrent_callers_share_one_read_and_a_new_key_or_forget_reads_again():
    reads: list[int] = []
    release = asyncio.Event()

    async def read() -> int:
        reads.append(len(reads))
        await release.wait()  # every caller arrives while the first read is still running
        return len(reads)

    kept = Expiring(3600.0, read)
    callers = [asyncio.create_task(kept.get("day-1")) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*callers) == [1] * 20 and len(reads) == 1
    assert await kept.get("day-1") == 1 and len(reads) == 1
    assert await kept.get("day-2") == 2  # another day, another version: read again
    kept.forget()
    assert await kept.get("day-2") == 3


async def test_a_value_older_than_its_ttl_is_read_again():
    values = iter(range(10))

    async def read() -> int:
        return next(values)

    kept = Expiring(0.0, read)
    assert [await kept.get(), await kept.get()] == [0, 1]
