"""Answers being generated in this worker, by chat, so that a user can stop theirs.

`Generations.run(key, make)` runs the generation in a task of its own; `stop(key)` cancels that task (the
LLM call with it: its HTTP stream is closed). `run` then returns `None` instead of raising, so the engine
stores what was written so far, marked as stopped, and carries on as after any answer. A cancellation
of the caller itself (shutdown) is never mistaken for a stop: it propagates as usual.

Keys are per chat, `(channel, chat_id)`; at most one answer per chat runs at a time (the engine's
per-conversation lock), so a stop names exactly one generation. Another worker's generation is reached
through the channel (the web chat broadcasts a stop to every worker).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
Key = tuple[str, str]


class Generations:
    def __init__(self) -> None:
        self._running: dict[Key, asyncio.Task[Any]] = {}
        self._stopped: set[asyncio.Task[Any]] = set()

    def running(self, key: Key) -> bool:
        return key in self._running

    async def run(self, key: Key, make: Callable[[], Awaitable[T]]) -> T | None:
        """The generation's result, or None when `stop(key)` ended it first."""
        task = asyncio.ensure_future(make())
        self._running[key] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task in self._stopped and not (current is not None and current.cancelling()):
                return None
            raise
        finally:
            if self._running.get(key) is task:
                del self._running[key]
            self._stopped.discard(task)

    def stop(self, key: Key) -> bool:
        """Cancel the chat's generation in this worker; False when none is running here."""
        task = self._running.get(key)
        if task is None or task.done():
            return False
        self._stopped.add(task)
        task.cancel()
        return True
