"""Where the engine's replies to a web request go, and how a stream writes them as server-sent events.

The request hands the engine its `Feed` as the exchange's `Responder`: so the answer and any notice sent
while handling a request (e.g. "still busy with your previous question") reach that request and no
other. A reply sent from anywhere else (a technology manager, later) comes through `WebChannel.send` and
reaches every open feed of the session.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.web.render import reply_json
from bot.types import Reply

KEEPALIVE_SECONDS = 15.0
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache, no-transform",
               "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True, slots=True)
class Event:
    name: str  # delta | reply | done | error
    data: dict[str, Any]

    def encode(self) -> bytes:
        return f"event: {self.name}\ndata: {json.dumps(self.data, ensure_ascii=False)}\n\n".encode()


class Feed:
    """What one request hears from the engine: answer-so-far deltas, replies, then the end."""

    def __init__(self, session_id: str, events: bool = True):
        self.session_id = session_id
        self.replies: list[Reply] = []
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._events = events  # False: a JSON request, which reads `replies` once at the end and no events

    # the Responder port (bot.ports): the engine's replies to this request, its answer as it grows
    async def reply(self, reply: Reply) -> str | None:
        self.push(reply)
        return None

    async def delta(self, text: str) -> None:
        if self._events:
            self._queue.put_nowait(Event("delta", {"text": text}))

    async def typing(self) -> None:
        return None

    def push(self, reply: Reply) -> None:
        self.replies.append(reply)
        if self._events:
            self._queue.put_nowait(Event("reply", reply_json(reply)))

    def end(self, name: str, data: dict[str, Any]) -> None:
        if self._events:
            self._queue.put_nowait(Event(name, data))

    async def next(self) -> Event:
        return await self._queue.get()


class Hub:
    """The open feeds of each session."""

    def __init__(self) -> None:
        self._feeds: dict[str, set[Feed]] = {}

    def publish(self, session_id: str, reply: Reply) -> None:
        for feed in tuple(self._feeds.get(session_id, ())):
            feed.push(reply)

    @contextmanager
    def open(self, session_id: str, events: bool = True) -> Iterator[Feed]:
        """A feed of the session while the block runs; ``events=False`` for a request that reads only the
        replies at the end (no event is made for it)."""
        feed = Feed(session_id, events)
        self._feeds.setdefault(session_id, set()).add(feed)
        try:
            yield feed
        finally:
            feeds = self._feeds.get(session_id, set())
            feeds.discard(feed)
            if not feeds:
                self._feeds.pop(session_id, None)


async def pump(feed: Feed, resp: web.StreamResponse) -> None:
    """Write the feed's events until `done` or `error`; a comment every 15 s keeps proxies from timing out.

    A client that disconnects ends the pump (ConnectionResetError); the engine's task is not ours to cancel.
    """
    while True:
        try:
            event = await asyncio.wait_for(feed.next(), KEEPALIVE_SECONDS)
        except asyncio.TimeoutError:
            await resp.write(b": keep-alive\n\n")
            continue
        await resp.write(event.encode())
        if event.name in ("done", "error"):
            return
