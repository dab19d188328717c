"""The answerer's view of policy status and the application calendar (issue 16).

`PolicyDesk` is what `Answerer.policy` holds: `calendar_answer` answers calendar questions from the
stored entries, `annotate` puts the status line first in an answer drawn from a document that is
expired, superseded or not yet in force. `policy_notes` wraps `Answerer.stream` with both, so the
answerer needs only a decorator and an attribute.
"""
from __future__ import annotations

from typing import Any, TypeVar, cast
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import structlog

from bot import calendar_answers, status
from bot.calendar import CalendarEntry
from bot.clock import Clock
from bot.expiring import Expiring
from bot.store import Store
from bot.text import detect_lang
from bot.types import Answer, AnswerMode

F = TypeVar("F", bound=Callable[..., AsyncIterator[Any]])

log = structlog.get_logger(__name__)
TTL = 2.0  # seconds the documents' states and the calendar are kept in memory


class PolicyDesk:
    def __init__(self, store: Store, clock: Clock):
        self.store, self.clock = store, clock
        self._snapshot = Expiring(TTL, self._read)  # re-read every TTL seconds or on a new day, once

    def forget(self) -> None:
        self._snapshot.forget()

    async def _read(self) -> tuple[dict[str, status.PolicyState], list[CalendarEntry]]:
        docs = await self.store.calendar.policies()
        return status.states(docs, self.clock.today()), await self.store.calendar.entries()

    async def snapshot(self) -> tuple[dict[str, status.PolicyState], list[CalendarEntry]]:
        """(doc id -> state, visible calendar entries), re-read every `TTL` seconds or on a new day."""
        return await self._snapshot.get(self.clock.today())

    async def by_title(self) -> dict[str, status.PolicyState]:
        states, _ = await self.snapshot()
        return {s.title: s for s in states.values()}

    async def annotate(self, answer: Answer) -> Answer:
        if answer.no_answer or not answer.citations or answer.mode is AnswerMode.CURATED:
            return answer
        line = status.status_line(answer.citations, await self.by_title(), answer.lang)
        return replace(answer, text=f"{line}\n{answer.text}") if line else answer

    async def calendar_answer(self, question: str, lang: str) -> Answer | None:
        today = self.clock.today()
        asked = calendar_answers.ask(question, today)
        if asked is None:
            return None
        states, entries = await self.snapshot()
        current = [e for e in entries if _in_force(states.get(e.doc_id))]
        chosen = calendar_answers.order(calendar_answers.select(asked, current, today), today)
        if not chosen and asked.span == "topic":
            return None  # the calendar does not know it: the documents may still answer
        text, found = calendar_answers.render(asked, chosen, today, lang)
        return Answer(text=text, mode=AnswerMode.EXTRACTIVE, citations=tuple(e.citation() for e in chosen),
                      lang=lang, notice="calendar", timings={"calendar_entries": float(len(chosen))})


def _in_force(state: status.PolicyState | None) -> bool:
    return state is None or state.status in (status.Status.CURRENT, status.Status.NOT_YET_EFFECTIVE)


def policy_notes(stream: F) -> F:
    """Decorates `Answerer.stream`: a calendar question is answered from the calendar; any other
    final answer gets the status line of the documents it cites. Without `self.policy`, unchanged."""

    @functools.wraps(stream)
    async def wrapper(self: Any, question: str, history: Any = (), lang: str | None = None) -> AsyncIterator[Any]:
        desk: PolicyDesk | None = getattr(self, "policy", None)
        if desk is None:
            async for event in stream(self, question, history, lang):
                yield event
            return
        lang = lang or detect_lang(question)
        dated = await desk.calendar_answer(question, lang)
        if dated is not None:
            yield dated
            return
        async for event in stream(self, question, history, lang):
            yield await desk.annotate(event) if isinstance(event, Answer) else event

    return cast(F, wrapper)
