"""A value read from the store and kept for a few seconds, for every message that needs it.

`Expiring(ttl, read)`: `get(key)` returns the kept value while it is younger than `ttl` and was read for
the same `key` (a day, a version number); otherwise it is read again, once: concurrent callers wait
for that one read instead of each reading. `forget()` makes the next `get` read.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Expiring(Generic[V]):
    def __init__(self, ttl: float, read: Callable[[], Awaitable[V]]):
        self.ttl, self._read = ttl, read
        self._kept: tuple[float, Hashable, V] | None = None  # (read at, key, value)
        self._reading = asyncio.Lock()

    def forget(self) -> None:
        self._kept = None

    def _fresh(self, key: Hashable) -> tuple[float, Hashable, V] | None:
        kept = self._kept
        return kept if kept is not None and kept[1] == key and time.monotonic() - kept[0] < self.ttl else None

    async def get(self, key: Hashable = None) -> V:
        if (kept := self._fresh(key)) is None:
            async with self._reading:
                if (kept := self._fresh(key)) is None:
                    kept = self._kept = (time.monotonic(), key, await self._read())
        return kept[2]
