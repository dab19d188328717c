"""Database failures as the store reports them: `translated` turns SQLAlchemy and OS errors into `StorageError`."""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StorageError

P = ParamSpec("P")
T = TypeVar("T")


def translated(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """One store method: a database or OS error inside it surfaces as `StorageError` (named after the method)."""
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"database error in {fn.__name__}: {exc.__class__.__name__}") from exc
    return wrapper
