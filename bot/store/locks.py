"""Named locks shared by every worker: PostgreSQL advisory locks, or asyncio locks on SQLite
(which serves a single process)."""
from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import StorageError


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Locks:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Hold the lock `name` for the block; waits while another worker holds it."""
        if self.engine.dialect.name != "postgresql":
            async with self._local.setdefault(name, asyncio.Lock()):
                yield
            return
        try:
            conn = await self.engine.connect()
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(name)})
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot take lock {name}: {exc.__class__.__name__}") from exc
        try:
            yield
        finally:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                await conn.commit()
            except (SQLAlchemyError, OSError):
                pass  # the server went away: its locks went with the session
            finally:
                await conn.close()
