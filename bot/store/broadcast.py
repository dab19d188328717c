"""Small notices to every worker: PostgreSQL LISTEN/NOTIFY (on SQLite, one process, nothing to do).

A worker that publishes delivers to its own subscribers itself; `publish` tells the others, whose
listener hands the payload to their subscribers. The listener keeps one connection of its own and
reconnects after the database went away (notices sent meanwhile are lost: they are hints to
refresh, such as "ticket 12 changed", and every page also refreshes on its own).
"""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger("qdbot.store")
Handler = Callable[[dict[str, Any]], None]
CHECK_EVERY = 10.0  # seconds between checks that the listening connection is alive
RETRY_AFTER = 2.0


class Broadcast:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.origin = uuid.uuid4().hex  # this worker: its own notices come back and are skipped
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # set while the listener is listening (tests wait on it)
        self.backend_pid: int | None = None  # the listening session's server process

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def subscribe(self, channel: str, handler: Handler) -> None:
        """Call handler(payload) for every notice another worker publishes on channel."""
        self._handlers.setdefault(channel, []).append(handler)
        if self.shared:
            if self._task is not None:  # listen on the new channel too
                self._task.cancel()
            self._task = asyncio.create_task(self._listen(), name="qdbot-broadcast")

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        """Tell the other workers (best effort: a failure is logged, never raised)."""
        if not self.shared:
            return
        body = json.dumps({"origin": self.origin, "data": payload}, ensure_ascii=False)
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT pg_notify(:channel, :body)"), {"channel": channel, "body": body})
                await conn.commit()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("broadcast_failed", channel=channel, error=exc.__class__.__name__)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _listen(self) -> None:
        while True:
            raw = None
            try:
                raw = await self.engine.raw_connection()
                conn = raw.driver_connection
                assert conn is not None  # asyncpg's connection: None only once the pool connection is closed
                for channel in self._handlers:
                    await conn.add_listener(channel, self._received)
                self.backend_pid = conn.get_server_pid()
                self.connected.set()
                while not conn.is_closed():
                    await asyncio.sleep(CHECK_EVERY)
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: listen again when it is back
                log.warning("broadcast_listener_lost", error=exc.__class__.__name__)
            finally:
                self.connected.clear()
                if raw is not None:
                    try:
                        raw.invalidate()  # never back into the pool with listeners attached
                    except Exception:
                        pass
            await asyncio.sleep(RETRY_AFTER)

    def _received(self, _conn: object, _pid: int, channel: str, body: str) -> None:
        try:
            notice = json.loads(body)
        except ValueError:
            return
        if not isinstance(notice, dict) or notice.get("origin") == self.origin:
            return
        for handler in self._handlers.get(channel, ()):
            try:
                handler(notice.get("data") or {})
            except Exception:
                log.exception("broadcast_handler_failed", channel=channel)
