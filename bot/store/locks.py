"""Named locks shared by every worker.

- ``hold(name)``: a PostgreSQL session advisory lock, for short critical sections (a kf pull, a
  Telegram topic). It keeps one database connection for as long as it is held.
- ``lease(name)``: for long ones (a conversation while its answer is generated, which waits on the
  LLM for seconds): a row in ``leases`` taken by compare-and-set, renewed while held, deleted on
  release. It keeps no connection, so hundreds of answers in flight do not exhaust the pool or
  PostgreSQL's ``max_connections``; a killed holder's lease runs out after ``ttl`` seconds. Waiters
  poll with back-off; within one worker they queue on an in-process lock first, so only one of them
  polls the database.

On SQLite (one process) both are plain asyncio locks.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import Executable, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import StorageError

log = structlog.get_logger("qdbot.store")
LEASE_TTL = 30.0  # seconds; renewed every third of it while held
_POLL = (0.02, 0.05, 0.1, 0.2, 0.5)  # seconds between attempts while another worker holds a lease

_TAKE = text(
    "INSERT INTO leases (name, holder, expires_at) "
    "VALUES (:name, :holder, now() + make_interval(secs => :ttl)) "
    "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at "
    "WHERE leases.expires_at < now() OR leases.holder = EXCLUDED.holder "
    "RETURNING holder")
_RENEW = text("UPDATE leases SET expires_at = now() + make_interval(secs => :ttl) "
              "WHERE name = :name AND holder = :holder")
_DROP = text("DELETE FROM leases WHERE name = :name AND holder = :holder")
_PRUNE = text("DELETE FROM leases WHERE expires_at < now() - make_interval(secs => :age)")


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Locks:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _local_lock(self, name: str) -> asyncio.Lock:
        return self._local.setdefault(name, asyncio.Lock())

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Hold the lock `name` for the block; waits while another worker holds it."""
        if not self.shared:
            async with self._local_lock(name):
                yield
            return
        try:
            conn = await self.engine.connect()
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)})
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot take lock {name}: {exc.__class__.__name__}") from exc
        try:
            yield
        finally:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                await conn.commit()
            except (SQLAlchemyError, OSError):
                pass  # the server went away: its locks went with the session
            finally:
                await conn.close()

    @asynccontextmanager
    async def lease(self, name: str, ttl: float = LEASE_TTL) -> AsyncIterator[None]:
        """Hold `name` for the block without keeping a database connection (see the module doc)."""
        async with self._local_lock("lease:" + name):
            if not self.shared:
                yield
                return
            holder = uuid.uuid4().hex
            await self._take(name, holder, ttl)
            renewal = asyncio.create_task(self._renew(name, holder, ttl))
            try:
                yield
            finally:
                renewal.cancel()
                await self._run(_DROP, name=name, holder=holder, quiet=True)

    async def _take(self, name: str, holder: str, ttl: float) -> None:
        for attempt in itertools.count():
            async with self._connect(name) as conn:
                got = (await conn.execute(_TAKE, {"name": name, "holder": holder, "ttl": ttl})).scalar()
                await conn.commit()
            if got == holder:
                return
            await asyncio.sleep(_POLL[min(attempt, len(_POLL) - 1)])

    async def _renew(self, name: str, holder: str, ttl: float) -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                if not await self._run(_RENEW, name=name, holder=holder, ttl=ttl):
                    log.warning("lease_lost", name=name)  # it ran out meanwhile (e.g. the database was away)
                    return
            except StorageError as exc:
                log.warning("lease_renewal_failed", name=name, error=str(exc))

    async def prune(self, older_than: float = 3600.0) -> int:
        """Delete leases that ran out long ago (their holders died); 0 on SQLite."""
        if not self.shared:
            return 0
        return await self._run(_PRUNE, name="prune", age=older_than)

    async def _run(self, stmt: Executable, *, name: str, quiet: bool = False, **params: Any) -> int:
        try:
            async with self._connect(name) as conn:
                result = await conn.execute(stmt, {"name": name, **params})
                await conn.commit()
                return result.rowcount or 0
        except StorageError:
            if quiet:  # releasing: the lease runs out by itself
                return 0
            raise

    @asynccontextmanager
    async def _connect(self, name: str) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot take lock {name}: {exc.__class__.__name__}") from exc
