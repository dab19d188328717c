"""The self-built app's per-member send budget: WeCom silently drops what exceeds 30 messages a
minute or 1000 an hour, so a send waits (bounded) for room instead of vanishing."""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from bot.errors import DeliveryError

MEMBER_LIMITS = ((30, 60.0), (1000, 3600.0))


class SendBudget:
    def __init__(self, limits: tuple[tuple[int, float], ...] = MEMBER_LIMITS, max_wait: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.limits, self.max_wait, self._clock = limits, max_wait, clock
        self._sent: dict[str, deque[float]] = {}
        self._horizon = max(window for _, window in limits)

    def wait_needed(self, key: str) -> float:
        """Seconds until one more message to ``key`` fits every window (0 when it fits now)."""
        now, sent = self._clock(), self._sent.setdefault(key, deque())
        while sent and now - sent[0] >= self._horizon:
            sent.popleft()
        waits = [sent[-limit] + window - now for limit, window in self.limits
                 if len(sent) >= limit and now - sent[-limit] < window]
        return max(waits, default=0.0)

    async def acquire(self, key: str) -> None:
        """Take one message of ``key``'s budget, waiting for room; DeliveryError past ``max_wait``."""
        waited = 0.0
        while (wait := self.wait_needed(key)) > 0:
            if waited + wait > self.max_wait:
                raise DeliveryError(f"WeCom send budget for {key} exhausted (30/min, 1000/h)")
            await asyncio.sleep(wait)
            waited += wait
        self._sent[key].append(self._clock())
