"""Outage tracking of the dense side (Chroma and the query embedder) of hybrid search.

While the dense side is down, searches answer from BM25 alone and the knowledge base reports
itself *degraded*. The outage is logged once when it starts and once when it ends; in between
the dense side is tried again at most every `retry_seconds` (one probing search at a time).
"""
from __future__ import annotations

import threading
import time

import structlog

log = structlog.get_logger("qdbot.knowledge")

RETRY_SECONDS = 5.0


class DenseHealth:
    """Up, or down since a moment for a reason, with the time of the next attempt."""

    def __init__(self, retry_seconds: float = RETRY_SECONDS) -> None:
        self.retry_seconds = retry_seconds
        self.reason: str | None = None
        self._down_since: float | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        """True when up, or when down and due for another attempt (which it then claims)."""
        with self._lock:
            if self._down_since is None:
                return True
            now = time.monotonic()
            if now < self._next_try:
                return False
            self._next_try = now + self.retry_seconds
            return True

    def failed(self, exc: Exception) -> None:
        """Record a failure; the first one of an outage is logged as a warning."""
        with self._lock:
            now = time.monotonic()
            self._next_try = now + self.retry_seconds
            self.reason = str(exc)
            if self._down_since is not None:
                return
            self._down_since = now
        log.warning("dense_search_unavailable", reason=self.reason, fallback="lexical only",
                    retry_seconds=self.retry_seconds)

    def succeeded(self) -> None:
        """Record a success; the end of an outage is logged with its length."""
        with self._lock:
            if self._down_since is None:
                return
            seconds, self._down_since, self.reason = time.monotonic() - self._down_since, None, None
        log.info("dense_search_recovered", outage_seconds=round(seconds, 1))
