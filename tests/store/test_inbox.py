"""The durable inbox on SQLite and PostgreSQL: idempotent on the platform's id, concurrent adds in
one transaction, each row claimed by exactly one of two stores, unfinished rows processed at start."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.errors import StorageError
from bot.inbox import Inbox
from bot.store import Store


async def second_store(store: Store) -> Store:
    """Another worker's connection pool on the same database."""
    return await Store.open(store.engine.url.render_as_string(hide_password=False), migrate_schema=False)


async def eventually(check, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    assert await check()


async def test_adding_the_same_platform_id_twice_stores_one_row(store):
    first = await store.inbox.add("wecom", "wecom:msg:1:7001", '{"a": 1}')
    again = await store.inbox.add("wecom", "wecom:msg:1:7001", '{"a": 2}')
    other_channel = await store.inbox.add("telegram", "wecom:msg:1:7001", "{}")
    assert isinstance(first, int) and again is None and other_channel not in (None, first)
    rows = await store.inbox.rows("wecom")
    assert [(r["key"], r["payload"], r["status"]) for r in rows] == [("wecom:msg:1:7001", '{"a": 1}', "pending")]


async def test_concurrent_adds_are_committed_in_one_transaction_and_each_caller_gets_its_row(store):
    keys = [f"k{i}" for i in range(50)] + ["k7"]  # one redelivery inside the burst
    ids = await asyncio.gather(*(store.inbox.add("wecom", k, f"payload {k}") for k in keys))
    assert store.inbox.batches == [51]
    assert len(set(ids[:50])) == 50 and None not in ids[:50] and ids[50] is None
    rows = {r["id"]: r["payload"] for r in await store.inbox.rows("wecom")}
    assert [rows[i] for i in ids[:50]] == [f"payload {k}" for k in keys[:50]]


async def test_any_text_is_stored_exactly_in_a_batch(store):
    """The batch travels as one JSON array (SQLite) or as arrays (PostgreSQL): no payload or key is
    altered on the way, whatever it holds."""
    texts = ['{"Content": "青岛的补贴？", "n": 1}', 'quote " backslash \\ slash / tab \t', "😀 emoji",
             "line\nbreak", "  spaces kept  ", "[1, 2]", "null", "0042", "\u2028 separator", "x" * 20_000]
    ids = await asyncio.gather(*(store.inbox.add("wecom", f"键{i}\"'", t) for i, t in enumerate(texts)))
    assert None not in ids and store.inbox.batches == [len(texts)]
    rows = {r["id"]: (r["key"], r["payload"]) for r in await store.inbox.rows("wecom")}
    assert [rows[i] for i in ids] == [(f"键{i}\"'", t) for i, t in enumerate(texts)]


async def test_a_batch_that_cannot_be_written_fails_every_caller_and_stores_nothing(store):
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE inbox"))
    results = await asyncio.gather(*(store.inbox.add("wecom", f"k{i}", "{}") for i in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, StorageError) for r in results)


async def test_each_row_is_claimed_by_exactly_one_of_two_stores(store):
    other = await second_store(store)
    try:
        ids = await asyncio.gather(*(store.inbox.add("wecom", f"k{i}", "{}") for i in range(40)))
        claims = await asyncio.gather(*(s.inbox.claim(i, name, 60) for i in ids
                                        for s, name in ((store, "w1"), (other, "w2"))))
        winners = [c for c in claims if c is not None]
        assert sorted(c.id for c in winners) == sorted(ids)  # every row once, none twice
        assert all(c.attempts == 1 for c in winners)
        assert [await s.inbox.claim(ids[0], "w3", 60) for s in (store, other)] == [None, None]  # held
    finally:
        await other.close()


async def test_a_row_whose_lease_ran_out_is_claimed_again_and_a_done_row_never(store):
    row = await store.inbox.add("telegram", "5001", '{"update_id": 5001}')
    assert (await store.inbox.claim(row, "dead-worker", 0)).attempts == 1  # lease over at once
    again = await store.inbox.claim(row, "live-worker", 60)
    assert again is not None and again.attempts == 2 and again.payload == '{"update_id": 5001}'
    await store.inbox.done(row)
    assert await store.inbox.claim(row, "third", 0) is None
    [stored] = await store.inbox.rows("telegram")
    assert stored["status"] == "done" and stored["payload"] == ""


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    async def __call__(self, payload: str, recovered: bool) -> None:
        self.seen.append((payload, recovered))


async def test_rows_left_unfinished_are_processed_exactly_once_when_a_worker_starts(store):
    never_claimed = await store.inbox.add("wecom", "a", "never claimed")
    await store.inbox.claim(await store.inbox.add("wecom", "b", "lease ran out"), "dead", 0)
    held = await store.inbox.add("wecom", "c", "held by a live lease")
    await store.inbox.claim(held, "dead", 3600)
    await store.inbox.done(await store.inbox.add("wecom", "d", "done"))
    await store.inbox.add("telegram", "e", "another channel")
    # PostgreSQL: two workers start at once; SQLite serves one process
    others = [await second_store(store)] if store.dialect == "postgresql" else []
    recorder = Recorder()
    inboxes = [Inbox(s, "wecom", recorder, workers=4) for s in (store, *others)]
    try:
        await asyncio.gather(*(i.start() for i in inboxes))
        assert all([await i.join(20) for i in inboxes])
    finally:
        for i in inboxes:
            await i.stop(5)
        for other in others:
            await other.close()
    expected = {("never claimed", False), ("lease ran out", True)}
    if store.dialect == "sqlite":  # one process: whoever held a row at start is gone
        expected.add(("held by a live lease", True))
    assert sorted(recorder.seen) == sorted(expected)  # each once
    statuses = {r["key"]: r["status"] for r in await store.inbox.rows("wecom")}
    assert statuses["a"] == statuses["b"] == "done" and (statuses["c"] == "done") == (store.dialect == "sqlite")
    assert recorder.seen.count(("never claimed", False)) == 1
    assert never_claimed is not None


async def test_an_accepted_event_is_processed_and_a_redelivery_is_not_accepted(store):
    recorder = Recorder()
    inbox = Inbox(store, "wecom", recorder)
    await inbox.start()
    try:
        assert await inbox.accept("m1", "first") is True
        assert await inbox.accept("m1", "first again") is False
        assert await inbox.join(20)
    finally:
        await inbox.stop(5)
    assert recorder.seen == [("first", False)]
    assert [r["status"] for r in await store.inbox.rows("wecom")] == ["done"]


async def test_a_row_whose_processing_failed_is_tried_again_after_its_lease(store):
    calls: list[bool] = []

    async def flaky(payload: str, recovered: bool) -> None:
        calls.append(recovered)
        if len(calls) == 1:
            raise RuntimeError("the first attempt fails")

    inbox = Inbox(store, "wecom", flaky, lease=1.0)
    await inbox.start()
    try:
        await inbox.accept("m1", "x")

        async def done() -> bool:
            return [r["status"] for r in await store.inbox.rows("wecom")] == ["done"]
        await eventually(done)
    finally:
        await inbox.stop(5)
    assert calls == [False, True]


async def test_a_row_is_answered_only_after_the_callbacks_arriving_with_it_are_stored(store):
    """Acknowledgements first: while adds wait for or sit in a group commit, no row is processed
    (the old order started answering the first row while the rest of the burst waited for its 200)."""
    busy_when_processed: list[bool] = []

    async def process(payload: str, recovered: bool) -> None:
        busy_when_processed.append(store.inbox.busy())

    store.inbox.window = 0.2  # each batch gathers for 200 ms
    inbox = Inbox(store, "wecom", process, ack_first=30)  # a limit no batch here comes near
    await inbox.start()
    try:
        assert await inbox.accept("first", "1")  # queued: a worker takes it now
        burst = [asyncio.create_task(inbox.accept(f"m{i}", str(i))) for i in range(30)]
        assert all(await asyncio.gather(*burst))
        assert await inbox.join(20)
    finally:
        await inbox.stop(5)
    assert len(busy_when_processed) == 31 and not any(busy_when_processed)


async def test_rows_are_answered_under_a_steady_stream_of_callbacks(store):
    """The wait for quiet is bounded: callbacks arriving every millisecond do not starve answering."""
    processed = asyncio.Event()

    async def process(payload: str, recovered: bool) -> None:
        processed.set()

    adds: list[asyncio.Task[int | None]] = []

    async def stream() -> None:  # an add every millisecond, not waiting for its commit: never quiet
        for i in range(100_000):
            if processed.is_set():
                return
            adds.append(asyncio.create_task(store.inbox.add("telegram", f"s{i}", "{}")))  # not processed here
            await asyncio.sleep(0.001)

    inbox = Inbox(store, "wecom", process, ack_first=0.05)
    await inbox.start()
    streaming = asyncio.create_task(stream())
    try:
        await asyncio.sleep(0.02)
        assert await inbox.accept("m1", "x")
        await asyncio.wait_for(processed.wait(), 20)
        await asyncio.wait_for(streaming, 20)
    finally:
        streaming.cancel()
        await asyncio.gather(*adds, return_exceptions=True)
        await inbox.stop(5)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_a_clean_stop_gives_back_what_it_held(store):
    gate = asyncio.Event()
    started = asyncio.Event()

    async def slow(payload: str, recovered: bool) -> None:
        started.set()
        await gate.wait()

    inbox = Inbox(store, "wecom", slow, lease=3600)
    await inbox.start()
    await inbox.accept("m1", "x")
    await started.wait()
    await inbox.stop(0.1)
    [row] = await store.inbox.rows("wecom")
    assert row["status"] == "pending"  # the next start takes it at once, lease or not


async def test_finished_rows_are_forgotten_after_the_cutoff_and_open_ones_never(store):
    from datetime import timedelta

    from bot.types import utcnow

    await store.inbox.done(await store.inbox.add("wecom", "old", "x"))
    await store.inbox.add("wecom", "open", "y")
    assert await store.inbox.forget_before(utcnow() + timedelta(seconds=1)) == 1
    assert [r["key"] for r in await store.inbox.rows("wecom")] == ["open"]
