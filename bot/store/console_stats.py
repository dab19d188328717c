"""The raw figures of the console dashboard, aggregated in SQL where the database can do it cheaply."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.states import OutcomeStatus
from bot.store.models import ConversationRow, MessageRow, TicketRow
from bot.records import TicketRecord
from bot.store import mappers
from bot.types import TEST_CHANNELS


QUESTION_OUTCOMES = (OutcomeStatus.ANSWERED, OutcomeStatus.NO_ANSWER, None)  # None: stored but not processed yet


class ConsoleStats:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._session = sessions
        self.dialect = sessions.kw["bind"].dialect.name

    def _day(self, tz: str, since: datetime) -> ColumnElement[Any]:
        """The local calendar day of a message, as 'YYYY-MM-DD' (SQLite: the zone's offset at `since`)."""
        if self.dialect == "postgresql":
            return func.to_char(func.timezone(tz, MessageRow.created_at), "YYYY-MM-DD")
        offset = since.astimezone(ZoneInfo(tz)).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        return func.date(MessageRow.created_at, f"{minutes:+d} minutes")

    def _window(self, since: datetime, until: datetime) -> list[Any]:
        """Messages of the period, without the command line's and evaluations' (TEST_CHANNELS)."""
        return [MessageRow.created_at >= since, MessageRow.created_at < until, MessageRow.channel.notin_(TEST_CHANNELS)]

    async def messages_per_day(self, since: datetime, until: datetime, tz: str) -> list[tuple[str, str, int]]:
        """(day, channel, user messages) for every day and channel with traffic."""
        day = self._day(tz, since).label("day")
        stmt = (select(day, MessageRow.channel, func.count(MessageRow.id))
                .where(MessageRow.role == "user", *self._window(since, until))
                .group_by(day, MessageRow.channel).order_by(day))
        async with self._session() as s:
            return [(str(d), ch, int(n)) for d, ch, n in (await s.execute(stmt)).all()]

    async def unique_users(self, since: datetime, until: datetime) -> int:
        users = (select(ConversationRow.channel, ConversationRow.user_id).distinct()
                 .join(MessageRow, MessageRow.conversation_id == ConversationRow.id)
                 .where(MessageRow.role == "user", *self._window(since, until)).subquery())
        async with self._session() as s:
            return int(await s.scalar(select(func.count()).select_from(users)) or 0)

    async def answers(self, since: datetime, until: datetime) -> dict[tuple[str, bool], int]:
        """Assistant answers by (mode, no_answer)."""
        m = MessageRow
        stmt = (select(m.mode, m.no_answer, func.count(m.id))
                .where(m.role == "assistant", m.mode.is_not(None), *self._window(since, until))
                .group_by(m.mode, m.no_answer))
        async with self._session() as s:
            return {(str(mode), bool(na)): int(n) for mode, na, n in (await s.execute(stmt)).all()}

    async def feedback(self, since: datetime, until: datetime) -> dict[str, int]:
        m = MessageRow
        stmt = (select(m.feedback, func.count(m.id)).where(m.feedback.is_not(None), *self._window(since, until))
                .group_by(m.feedback))
        async with self._session() as s:
            return {str(value): int(n) for value, n in (await s.execute(stmt)).all()}

    async def latencies(self, since: datetime, until: datetime, limit: int = 200_000) -> list[int]:
        """Answer latencies (ms) of the newest `limit` answers in the window."""
        m = MessageRow
        stmt = (select(m.latency_ms).where(m.role == "assistant", m.latency_ms.is_not(None),
                                           *self._window(since, until)).order_by(m.id.desc()).limit(limit))
        async with self._session() as s:
            return [int(v or 0) for v in await s.scalars(stmt)]  # never None (filtered)

    async def tickets(self, since: datetime, until: datetime, limit: int = 20_000) -> list[TicketRecord]:
        stmt = (select(TicketRow).where(TicketRow.created_at >= since, TicketRow.created_at < until)
                .order_by(TicketRow.id.desc()).limit(limit))
        async with self._session() as s:
            return [mappers.ticket(r) for r in await s.scalars(stmt)]

    async def questions(self, since: datetime, until: datetime, limit: int = 3000) -> list[str]:
        """The newest questions of the window (for the top topics): user messages that were answered or
        not found, not intake answers, profile answers, commands or small talk."""
        stmt = (select(MessageRow.text, MessageRow.meta).where(MessageRow.role == "user", *self._window(since, until))
                .order_by(MessageRow.id.desc()).limit(limit))
        async with self._session() as s:
            rows = (await s.execute(stmt)).all()
        return [text for text, meta in rows if (meta or {}).get("outcome") in QUESTION_OUTCOMES]
