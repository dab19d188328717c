"""Background tasks of a channel: kept referenced, logged when they fail, awaited on stop."""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from bot.drain import within

log = structlog.get_logger("qdbot.wecom")


class TaskGroup:
    """Background tasks kept referenced, logged when they fail, awaited (bounded) on stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))
        return task

    def _done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("wecom_task_failed", task=what, error=repr(task.exception()))

    async def drain(self, timeout: float) -> None:
        pending = set(self._tasks)
        if not pending:
            return
        if await within(asyncio.wait(pending), timeout):
            return
        late = {task for task in pending if not task.done()}
        for task in late:
            task.cancel()
        if late:
            log.warning("wecom_tasks_cancelled", count=len(late))
            await asyncio.gather(*late, return_exceptions=True)
