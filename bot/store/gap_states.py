"""What operators decided about knowledge-gap questions: dismissed, or answered by a curated answer.

A question is keyed by its normalised text (`bot.gaps.question_key`), so a decision holds for every
time the same question is asked, before and after it. No row: the question is open. Writes are upserts
(one statement per backend), so two operators deciding at once leave one row, the later decision.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store import mappers
from bot.store.models import CuratedAnswerRow, GapStateRow
from bot.types import utcnow

STATES = ("dismissed", "answered")


@dataclass(frozen=True, slots=True)
class GapDecision:
    key: str
    question: str
    state: str  # dismissed | answered
    curated_id: int | None
    curated_active: bool  # an answered question whose curated answer was retired counts as open
    updated_by: str
    updated_at: datetime


class GapStates:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._session = sessions
        self.dialect = sessions.kw["bind"].dialect.name

    async def decisions(self, keys: Iterable[str] | None = None) -> dict[str, GapDecision]:
        """The decisions on these question keys (every decision when None)."""
        g, c = GapStateRow, CuratedAnswerRow
        stmt = select(g, c.status).outerjoin(c, c.id == g.curated_id)
        wanted = None if keys is None else sorted(set(keys))
        if wanted is not None and not wanted:
            return {}
        if wanted is not None:
            stmt = stmt.where(g.key.in_(wanted))
        async with self._session() as s:
            rows = (await s.execute(stmt)).all()
        return {r.key: GapDecision(r.key, r.question, r.state, r.curated_id, status == "active", r.updated_by,
                                   r.updated_at) for r, status in rows}

    async def decide(self, questions: Mapping[str, str], state: str, by: str, curated_id: int | None = None) -> int:
        """Record `state` for each question {key: question text}; returns how many."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        if not questions:
            return 0
        now = utcnow()
        rows = [{"key": k, "question": q, "state": state, "curated_id": curated_id, "updated_by": by[:64],
                 "updated_at": now} for k, q in questions.items()]
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = insert(GapStateRow).values(rows)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "state": stmt.excluded.state, "curated_id": stmt.excluded.curated_id,
            "updated_by": stmt.excluded.updated_by, "updated_at": stmt.excluded.updated_at})
        async with self._session() as s, s.begin():
            await s.execute(stmt)
        return len(rows)

    async def reopen(self, keys: Iterable[str]) -> int:
        """Forget the decisions on these keys: the questions are open again; returns how many were decided."""
        wanted = sorted(set(keys))
        if not wanted:
            return 0
        async with self._session() as s, s.begin():
            return mappers.changed(await s.execute(delete(GapStateRow).where(GapStateRow.key.in_(wanted))))
