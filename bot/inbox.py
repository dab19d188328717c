"""A channel's durable inbox: store the platform's event, then acknowledge, then process.

    webhook/callback --> inbox.accept(key, payload): one row, idempotent on the platform's id,
                         committed (group commit) before the adapter answers 200
                         --> queued here --> a worker claims the row (compare-and-set, with a
                         lease) --> process(payload, recovered) --> done
    a worker takes a row only once the callbacks arriving with it are stored and acknowledged
                         (``InboxStore.settled``: no add in flight for 5 ms, at most ``ack_first``
                         seconds of waiting), so answering the first rows of a burst does not hold up the
                         200s of the rest
    start, and every lease/3 --> rows nobody works on (never claimed, or claimed by a worker
                         whose lease ran out; at start on SQLite every unfinished row, since the
                         one process that held them is gone) are queued again

A row is handed to the channel again only after its worker died (or failed) while holding it;
the engine stores each message first, deduplicated by the platform's message id, so such a row
is never answered twice, and ``Engine.resume`` finishes a message the dead worker had stored but
not answered.
"""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from bot.drain import within
from bot.errors import StorageError
from bot.store import Store
from bot.types import utcnow

log = structlog.get_logger("qdbot.inbox")
Process = Callable[[str, bool], Awaitable[None]]
"""``process(payload, recovered)``: handle one stored event; ``recovered`` when a previous
attempt did not finish (another worker died holding it). Raising leaves the row to be retried."""
MAX_ATTEMPTS = 5


class Inbox:
    def __init__(self, store: Store, channel: str, process: Process, *, workers: int = 16,
                 lease: float = 60.0, max_pending: int = 10_000, ack_first: float = 0.1):
        self.store, self.channel, self.process = store, channel, process
        self.workers, self.lease, self.max_pending = max(1, workers), lease, max_pending
        self.ack_first = ack_first
        self.holder = uuid.uuid4().hex
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def full(self) -> bool:
        """True at ``max_pending`` rows queued in this worker (the adapter then answers 503)."""
        return self._queue.qsize() >= self.max_pending

    async def accept(self, key: str, payload: str) -> bool:
        """Store the event and queue it; False when it was stored before (a redelivery: nothing to
        do). StorageError when it could not be stored: the adapter must not acknowledge it."""
        row_id = await self.store.inbox.add(self.channel, key, payload)
        if row_id is None:
            log.info("inbox_duplicate", channel=self.channel, key=key)
            return False
        self._enqueue(row_id)
        return True

    def _enqueue(self, row_id: int) -> None:
        if row_id not in self._queued:
            self._queued.add(row_id)
            self._queue.put_nowait(row_id)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the workers and queue what earlier runs left unfinished."""
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._sweeper()))
        await self.sweep(startup=True)

    async def sweep(self, startup: bool = False) -> int:
        """Queue the rows nobody works on; how many were queued."""
        if startup and not self.store.locks.shared:  # SQLite: one process, and it is this one
            await self.store.inbox.release(channel=self.channel)
        grace = 0.0 if startup else self.lease
        await self.store.inbox.give_up(self.channel, MAX_ATTEMPTS)
        ids = await self.store.inbox.stale(self.channel, pending_before=utcnow() - timedelta(seconds=grace))
        fresh = [i for i in ids if i not in self._queued]
        for row_id in fresh:
            self._enqueue(row_id)
        if fresh:
            log.info("inbox_recovered", channel=self.channel, rows=len(fresh))
        return len(fresh)

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.lease / 3))
            try:
                await self.sweep()
            except StorageError as exc:
                log.warning("inbox_sweep_failed", channel=self.channel, error=str(exc))

    async def join(self, timeout: float) -> bool:
        """Wait until every queued row was handled; False on timeout."""
        if self._queue.qsize() == 0 and not self._queued:
            return True
        return await within(self._queue.join(), timeout)

    async def stop(self, timeout: float) -> None:
        """Finish the queued rows (bounded by ``timeout``); what is left stays stored for the next
        start (or another worker)."""
        if not await self.join(timeout):
            log.warning("inbox_left_for_later", channel=self.channel, rows=self._queue.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await self.store.inbox.release(holder=self.holder)
        except StorageError as exc:  # their leases run out instead
            log.warning("inbox_release_failed", channel=self.channel, error=str(exc))

    # ------------------------------------------------------------------ work

    async def _work(self) -> None:
        while True:
            row_id = await self._queue.get()
            try:
                await self._run(row_id)
            except Exception:
                log.exception("inbox_row_failed", channel=self.channel, row=row_id)
            finally:
                self._queued.discard(row_id)
                self._queue.task_done()

    async def _run(self, row_id: int) -> None:
        # Acknowledgements first: the claim waits for quiet (its statement, and on PostgreSQL the
        # pool connection it may open, stay out of the burst), and so does the work after it (a
        # burst may have begun during the claim).
        await self.store.inbox.settled(limit=self.ack_first)
        entry = await self.store.inbox.claim(row_id, self.holder, self.lease, MAX_ATTEMPTS)
        if entry is None:  # another worker has it, or it is done
            return
        await self.store.inbox.settled(limit=self.ack_first)
        await self.process(entry.payload, entry.attempts > 1)
        await self.store.inbox.done(row_id)
