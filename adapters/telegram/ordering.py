"""Updates run concurrently, except a staff topic's messages, which run one after another in order.

PTB starts one task per update in arrival order (`concurrent_updates`). A manager who writes a
reply and then ``/resolve`` must not see the command overtake the reply, so messages in one topic
of the staff group wait for the previous one (an `asyncio.Lock` per topic: its waiters are served
first come, first served, and a task reaches it without yielding first). Everything else,
including Claim presses, stays concurrent. This orders one worker's updates; with several webhook
workers Telegram may spread one topic's messages over them.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT = 256  # PTB's default for concurrent_updates(True)


class StaffTopicsInOrder(BaseUpdateProcessor):
    def __init__(self, staff_chat_id: int | None, max_concurrent_updates: int = MAX_CONCURRENT):
        super().__init__(max_concurrent_updates)
        self.staff_chat_id = staff_chat_id
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, int] = {}

    def topic_of(self, update: object) -> int | None:
        """The staff topic (0: the General topic) of a message update, None for anything else."""
        message = getattr(update, "message", None)
        if self.staff_chat_id is None or message is None or message.chat.id != self.staff_chat_id:
            return None
        return message.message_thread_id or 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        topic = self.topic_of(update)
        if topic is None:
            await coroutine
            return
        lock = self._locks.setdefault(topic, asyncio.Lock())
        self._queued[topic] = self._queued.get(topic, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._queued[topic] -= 1
            if not self._queued[topic]:
                del self._queued[topic], self._locks[topic]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
