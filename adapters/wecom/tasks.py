"""Background tasks of a channel: kept referenced, logged when they fail, awaited on stop."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger("qdbot.wecom")


class TaskGroup:
    """Background tasks kept referenced, logged when they fail, awaited (bounded) on stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))
        return task

    def _done(self, task: asyncio.Task, what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("wecom_task_failed", task=what, error=repr(task.exception()))

    async def drain(self, timeout: float) -> None:
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            log.warning("wecom_tasks_cancelled", count=len(late))
            await asyncio.gather(*late, return_exceptions=True)


class WorkQueue:
    """Jobs run first come, first served by at most ``workers`` coroutines; the rest wait cheaply.

    Bounding the work in progress keeps the event loop free enough to acknowledge new callbacks
    at once even while hundreds of answers are being generated.
    """

    def __init__(self, workers: int, max_pending: int = 10_000):
        self.workers, self.max_pending = max(1, workers), max_pending
        self._queue: asyncio.Queue[tuple[Callable[[], Awaitable[None]], str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def full(self) -> bool:
        """True at ``max_pending`` queued jobs (a soft limit: ``submit`` itself never refuses)."""
        return self._queue.qsize() >= self.max_pending

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    def submit(self, job: Callable[[], Awaitable[None]], what: str) -> None:
        self._queue.put_nowait((job, what))

    async def _work(self) -> None:
        while True:
            job, what = await self._queue.get()
            try:
                await job()
            except Exception:
                log.exception("wecom_job_failed", job=what)
            finally:
                self._queue.task_done()

    async def join(self, timeout: float) -> bool:
        """Wait until every queued job is done; False on timeout."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def stop(self, timeout: float) -> None:
        """Finish the queued jobs (bounded by ``timeout``), then stop the workers."""
        if not await self.join(timeout):
            log.warning("wecom_jobs_abandoned", pending=self._queue.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
