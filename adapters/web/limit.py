"""Chat messages per client address in a sliding window, kept in this worker's memory.

A flood from one address that rotates session ids escapes the per-user limit (which the engine
counts per session, in the database); this one refuses it at the door, before anything is stored.
Memory is bounded: an address idle for a whole window is forgotten, and beyond `max_addresses` the
least recently active one is dropped.
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_ADDRESSES = 10_000


class AddressLimit:
    """At most `per_window` messages per address in any `window` seconds (0: no limit)."""

    def __init__(self, per_window: int, window: float = 60.0, max_addresses: int = MAX_ADDRESSES,
                 clock: Callable[[], float] = time.monotonic):
        self.per_window, self.window, self.max_addresses, self.clock = per_window, window, max_addresses, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()  # by last admitted message, oldest first

    def take(self, address: str) -> float:
        """Count one message from `address` and return 0, or, when its window is full, count nothing
        and return the seconds until there is room again."""
        if self.per_window <= 0:
            return 0.0
        now = self.clock()
        self._forget_idle(now)
        hits = self._hits.get(address) or deque()
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.per_window:
            return hits[0] + self.window - now
        hits.append(now)
        self._hits[address] = hits
        self._hits.move_to_end(address)
        if len(self._hits) > self.max_addresses:
            self._hits.popitem(last=False)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        while self._hits:
            hits = next(iter(self._hits.values()))
            if hits and now - hits[-1] < self.window:
                return
            self._hits.popitem(last=False)

    def __len__(self) -> int:
        """How many addresses are tracked."""
        return len(self._hits)
