"""Handoff tickets, their history and the roster of technology managers.

State changes are compare-and-set updates (`WHERE state IN (...)`), so two managers claiming the
same ticket at once get exactly one winner, on SQLite and on PostgreSQL, with one or many workers.
"""
from __future__ import annotations

import builtins
import typing
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.records import ManagerRecord, TicketEvent, TicketRecord
from bot.states import OPEN_TICKET, TicketState
from bot.store import mappers
from bot.store.models import ManagerRow, TicketEventRow, TicketRow
from bot.types import utcnow






T = typing.cast(Table, TicketRow.__table__)


class TicketStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine | None = None):
        self._session = sessions
        self._engine = engine  # for the Core statements on the message hot path (`open_for`)

    async def create(self, conversation_id: int, *, state: str, lang: str, trigger: str,
                     fields: dict[str, Any], intake_step: str | None) -> TicketRecord | None:
        """A new ticket; None when the conversation already has an unresolved one."""
        now = utcnow()
        row = TicketRow(conversation_id=conversation_id, state=state, lang=lang, trigger=trigger[:2000],
                        fields=fields, intake_step=intake_step, created_at=now, last_activity_at=now,
                        waiting_since=now if state == TicketState.WAITING else None, meta={})
        async with self._session() as s:
            s.add(row)
            try:
                await s.flush()
                s.add(TicketEventRow(ticket_id=row.id, actor="user", action="opened", detail=trigger[:500]))
                await s.commit()
            except IntegrityError:
                await s.rollback()
                return None
            return mappers.ticket(row)

    async def get(self, ticket_id: int) -> TicketRecord | None:
        async with self._session() as s:
            row = await s.get(TicketRow, ticket_id)
            return mappers.ticket(row) if row else None

    async def open_for(self, conversation_id: int) -> TicketRecord | None:
        """The conversation's unresolved ticket (intake, waiting or active), if any: a Core statement (asked
        for every reply the outbox sends), mapped from the row as the ORM row would be."""
        stmt = (select(T).where(T.c.conversation_id == conversation_id, T.c.state.in_(OPEN_TICKET))
                .order_by(T.c.id.desc()).limit(1))
        if self._engine is None:
            async with self._session() as s:
                row = (await s.execute(stmt)).first()
        else:
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).first()
        return mappers.ticket(row) if row else None

    async def latest_for(self, conversation_id: int) -> TicketRecord | None:
        """The conversation's newest ticket in any state."""
        async with self._session() as s:
            stmt = (select(TicketRow).where(TicketRow.conversation_id == conversation_id)
                    .order_by(TicketRow.id.desc()).limit(1))
            row = (await s.scalars(stmt)).first()
            return mappers.ticket(row) if row else None

    async def transition(self, ticket_id: int, from_states: tuple[str, ...], to_state: str | None = None,
                         **values: Any) -> TicketRecord | None:
        """Compare-and-set: apply when the ticket is in one of `from_states`; None otherwise."""
        if to_state is not None:
            values["state"] = to_state
        values.setdefault("last_activity_at", utcnow())
        async with self._session() as s, s.begin():
            res = await s.execute(update(TicketRow).where(TicketRow.id == ticket_id, TicketRow.state.in_(from_states))
                                  .values(**values))
            if mappers.changed(res) != 1:
                return None
            row = await s.get(TicketRow, ticket_id, populate_existing=True)
            assert row is not None  # the UPDATE above matched it, in this transaction
            return mappers.ticket(row)

    async def set_meta(self, ticket_id: int, **meta: Any) -> None:
        async with self._session() as s, s.begin():
            row = await s.get(TicketRow, ticket_id, with_for_update=True)
            if row is not None:
                row.meta = {**(row.meta or {}), **meta}

    async def add_event(self, ticket_id: int, actor: str, action: str, detail: str = "") -> None:
        async with self._session() as s, s.begin():
            s.add(TicketEventRow(ticket_id=ticket_id, actor=actor, action=action, detail=detail[:4000]))

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        async with self._session() as s:
            rows = await s.scalars(select(TicketEventRow).where(TicketEventRow.ticket_id == ticket_id)
                                   .order_by(TicketEventRow.id))
            return [TicketEvent(r.ticket_id, r.at, r.actor, r.action, r.detail) for r in rows]

    async def list(self, states: tuple[str, ...] | None = None, limit: int = 200) -> list[TicketRecord]:
        async with self._session() as s:
            stmt = select(TicketRow).order_by(TicketRow.id.desc()).limit(limit)
            if states:
                stmt = stmt.where(TicketRow.state.in_(states))
            return [mappers.ticket(r) for r in await s.scalars(stmt)]

    async def find_by_meta(self, key: str, value: str) -> TicketRecord | None:
        """An unresolved ticket whose meta[key] == value (e.g. a Telegram topic id)."""
        for t in await self.list(OPEN_TICKET, limit=5000):
            if str(t.meta.get(key)) == str(value):
                return t
        return None

    # ------------------------------------------------------------------ roster

    async def upsert_manager(self, m: ManagerRecord) -> None:
        async with self._session() as s, s.begin():
            row = await s.get(ManagerRow, m.id) or ManagerRow(id=m.id)
            row.name, row.specialties, row.working_hours = m.name, list(m.specialties), m.working_hours
            row.telegram_user_id, row.wecom_userid = m.telegram_user_id, m.wecom_userid
            row.kf_servicer_userid, row.active, row.updated_at = m.kf_servicer_userid, m.active, utcnow()
            s.add(row)

    async def managers(self, active_only: bool = True) -> builtins.list[ManagerRecord]:  # `list` is a method here
        async with self._session() as s:
            stmt = select(ManagerRow).order_by(ManagerRow.id)
            if active_only:
                stmt = stmt.where(ManagerRow.active.is_(True))
            return [mappers.manager(r) for r in await s.scalars(stmt)]

    async def manager(self, manager_id: str) -> ManagerRecord | None:
        async with self._session() as s:
            row = await s.get(ManagerRow, manager_id)
            return mappers.manager(row) if row else None

    async def manager_by(self, attr: str, value: str) -> ManagerRecord | None:
        """The manager whose telegram_user_id / wecom_userid / kf_servicer_userid is `value`."""
        column = {"telegram": ManagerRow.telegram_user_id, "wecom": ManagerRow.wecom_userid,
                  "kf": ManagerRow.kf_servicer_userid}[attr]
        async with self._session() as s:
            row = (await s.scalars(select(ManagerRow).where(column == str(value)))).first()
            return mappers.manager(row) if row else None
