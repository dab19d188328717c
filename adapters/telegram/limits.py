"""Telegram's flood limits, with answers first.

PTB's `AIORateLimiter` keeps the bot under Telegram's limits (about 30 requests a second per bot,
20 messages a minute per group) and waits out a 429's retry_after. Every request waits its turn,
so with many users at once the cosmetic calls of an answer (`typing`, streaming drafts) use two
thirds of the budget and answers queue behind them: about 10 answers a second instead of 30.
`AnswersFirst` sends those cosmetic calls only while the bot has capacity to spare (and no 429
wait is in progress); otherwise it skips them, as if they had been sent, and the final answer gets
the capacity. Under light load nothing changes: typing and drafts are sent as before.
"""
from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

OPTIONAL = frozenset({"sendChatAction", "sendMessageDraft"})
Answer = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API request returns


class AnswersFirst(AIORateLimiter):
    async def process_request(self, callback: Callable[..., Coroutine[Any, Any, Answer]], args: Any,
                              kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
                              rate_limit_args: int | None) -> Answer:
        if endpoint in OPTIONAL and not self.spare_capacity():
            return True  # what both methods return on success: the caller carries on
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)

    def spare_capacity(self) -> bool:
        if not self._retry_after_event.is_set():  # a 429 is being waited out
            return False
        limiter = self._base_limiter
        return limiter is None or limiter.has_capacity()
