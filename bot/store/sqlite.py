"""aiosqlite with one trip to the connection's thread per statement.

aiosqlite runs every call on its connection's own thread, and SQLAlchemy's adapter makes four such
calls per statement (make a cursor, execute, fetch the rows, close the cursor). Each trip is a
queue hand-off, a wake-up of that thread and a wake-up of the event loop: for statements that take
tens of microseconds in SQLite, the trips cost more CPU than the statements. Here a cursor is made,
executed, read to the end and closed in one trip; what SQLAlchemy reads afterwards (rows,
description, rowcount, lastrowid) comes from memory. Everything else (commit, rollback, close,
SQLite's own locking and busy timeout) is aiosqlite's, unchanged.

Used by `bot.store.Store.open` for ``sqlite+aiosqlite`` URLs (``create_async_engine(async_creator=)``).
"""
from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable
from functools import partial
from typing import Any, cast

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.engine.default import DefaultDialect


class _Result:
    """What one execution left: rows (when it returns any) and the cursor's attributes."""

    __slots__ = ("rows", "description", "rowcount", "lastrowid")

    def __init__(self, cursor: sqlite3.Cursor, rows: list[Any] | None) -> None:
        self.rows, self.description = deque(rows or ()), cursor.description
        self.rowcount, self.lastrowid = cursor.rowcount, cursor.lastrowid


def _run(conn: sqlite3.Connection, method: str, sql: str, parameters: Any) -> _Result:
    """On the connection's thread: execute, read every row, close the cursor."""
    cursor = conn.cursor()
    try:
        getattr(cursor, method)(sql, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return _Result(cursor, rows)
    finally:
        cursor.close()


_Execute = Callable[[Callable[[], _Result]], Awaitable[_Result]]


class Cursor:
    """The part of `aiosqlite.Cursor` SQLAlchemy uses; execute is the only trip to the thread."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._result: _Result | None = None

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        return await self._go("execute", sql, [] if parameters is None else parameters)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        return await self._go("executemany", sql, parameters)

    async def _go(self, method: str, sql: str, parameters: Any) -> Cursor:
        execute: _Execute = self._connection._execute  # aiosqlite's own, untyped: its queue to the thread
        self._result = await execute(partial(_run, self._connection._conn, method, sql, parameters))
        return self

    async def fetchone(self) -> Any:
        rows = self._rows
        return rows.popleft() if rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._result = None

    @property
    def _rows(self) -> deque[Any]:
        return self._result.rows if self._result is not None else deque()

    @property
    def description(self) -> Any:
        return self._result.description if self._result is not None else None

    @property
    def rowcount(self) -> int:
        return self._result.rowcount if self._result is not None else -1

    @property
    def lastrowid(self) -> int | None:
        return self._result.lastrowid if self._result is not None else None


class _Opened:
    """``connection.cursor()`` as SQLAlchemy's adapter uses it (entered with ``async with``)."""

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self.__aenter__().__await__()


class Connection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors cost one trip per statement, and whose commit and
    rollback cost none when no transaction is open (a connection that only read goes back to the
    pool with a rollback; Python's sqlite3 opens a transaction only for a write)."""

    def cursor(self) -> _Opened:  # type: ignore[override]
        return _Opened(Cursor(self))

    async def commit(self) -> None:
        if self._open_transaction():
            await super().commit()

    async def rollback(self) -> None:
        if self._open_transaction():
            await super().rollback()

    def _open_transaction(self) -> bool:
        # read on the event loop's thread: SQLAlchemy awaits every call on a connection before the
        # next, so its thread is idle now (and sqlite3 connections are opened check_same_thread=False)
        return self._connection is None or self._connection.in_transaction


def async_creator(url: str) -> Callable[[], Awaitable[Connection]]:
    """For ``create_async_engine(url, async_creator=...)``: connections opened as SQLAlchemy's aiosqlite
    dialect opens them (the same sqlite3.connect arguments), as `Connection`."""
    parsed = make_url(url)
    dialect_cls = cast("type[DefaultDialect]", parsed.get_dialect())
    args, kwargs = dialect_cls(dbapi=dialect_cls.import_dbapi()).create_connect_args(parsed)

    async def connect() -> Connection:
        connection = Connection(partial(sqlite3.connect, *args, **kwargs), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: a forgotten connection never blocks exit
        await connection  # starts its thread and opens the sqlite3 connection
        return connection

    return connect
