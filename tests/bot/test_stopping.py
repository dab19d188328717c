"""Generations: a stop ends one chat's generation and returns None; a cancellation of the caller (shutdown)
still propagates; another chat's stop touches nothing."""
from __future__ import annotations

import asyncio

import pytest

from bot.stopping import Generations


async def _forever(started: asyncio.Event) -> str:
    started.set()
    await asyncio.Event().wait()
    return "never"


async def test_a_stop_ends_the_generation_and_the_runner_gets_none():
    gens, started = Generations(), asyncio.Event()
    runner = asyncio.create_task(gens.run(("web", "u1"), lambda: _forever(started)))
    await started.wait()
    assert gens.running(("web", "u1")) and not gens.stop(("web", "u2"))
    assert gens.stop(("web", "u1")) is True
    assert await runner is None and not gens.running(("web", "u1"))
    assert gens.stop(("web", "u1")) is False  # nothing left to stop


async def test_cancelling_the_caller_is_not_taken_for_a_stop():
    gens, started = Generations(), asyncio.Event()
    runner = asyncio.create_task(gens.run(("web", "u1"), lambda: _forever(started)))
    await started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert not gens.running(("web", "u1"))


async def test_a_finished_generation_returns_its_result():
    async def answer() -> str:
        return "done"

    assert await Generations().run(("web", "u1"), answer) == "done"
