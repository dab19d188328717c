"""The one bounded wait of a shutdown: give in-flight work (the engine's messages, an inbox's queue, a
channel's background tasks) at most so many seconds to finish."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def within(work: Awaitable[object], timeout: float) -> bool:
    """Await ``work`` for at most ``timeout`` seconds; True when it finished in time (it is cancelled
    when it did not)."""
    try:
        await asyncio.wait_for(work, timeout)
        return True
    except asyncio.TimeoutError:
        return False
