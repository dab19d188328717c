"""The statements every message runs, as SQLAlchemy Core on a plain connection.

Each inbound message is stored, counted, claimed, answered from its recent turns, answered into
(a reply row) and marked sent and processed: a dozen statements per message, so the ORM's
per-statement work (session, unit of work, identity map, attribute events) would cost more CPU
than the database does. These functions take an `AsyncConnection` inside the caller's
transaction and return plain values; `bot.store.Store` keeps the transactions and the errors.
"""
from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Table, Text, Update, case, cast, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from bot.states import OPEN_TICKET, MessageStatus
from bot.store import mappers
from bot.store.models import ConversationRow, MessageRow, TicketRow
from bot.types import IncomingMessage, Role, Turn, utcnow

C = typing.cast(Table, ConversationRow.__table__)
M = typing.cast(Table, MessageRow.__table__)
T = typing.cast(Table, TicketRow.__table__)
_SCALARS = (str, int, float, bool)


conversation = mappers.conversation  # Core rows carry the same attributes as the ORM row


async def find_conversation(conn: AsyncConnection, channel: str, chat_id: str) -> Row[Any] | None:
    return (await conn.execute(select(C).where(C.c.channel == channel, C.c.chat_id == chat_id))).first()


async def create_conversation(conn: AsyncConnection, msg: IncomingMessage) -> Row[Any]:
    """A new conversation for this chat (the unique (channel, chat_id) refuses a second one): its row."""
    stmt = insert(C).values(channel=msg.channel, chat_id=msg.chat_id, user_id=msg.user_id,
                            user_name=msg.user_name, lang=msg.lang).returning(*C.c)
    return (await conn.execute(stmt)).one()


async def touch(conn: AsyncConnection, conversation_id: int, *returning: ColumnElement[Any]) -> Row[Any] | None:
    """Lock the conversation's row until commit (PostgreSQL): called before a message is inserted, so
    the messages of one conversation get their ids in commit order and a reader polling "after id N"
    never sees N+1 committed while N is still to come (the web chat's cursor relies on it).
    ``returning``: scalar subqueries read in the same statement, under that lock (the row they give)."""
    stmt = update(C).where(C.c.id == conversation_id).values(updated_at=utcnow())
    if not returning:
        await conn.execute(stmt)
        return None
    return (await conn.execute(stmt.returning(*returning))).first()


def open_ticket_state(conversation_id: int) -> ColumnElement[Any]:
    """The state of the conversation's unresolved ticket (intake, waiting, active), NULL when none: a
    scalar subquery for `touch` or `claim` to read in their own statement."""
    return (select(T.c.state).where(T.c.conversation_id == conversation_id, T.c.state.in_(OPEN_TICKET))
            .order_by(T.c.id.desc()).limit(1).scalar_subquery().label("ticket_state"))


def waiting_user_message(conversation_id: int, since: datetime) -> ColumnElement[Any]:
    """Is a user message of the conversation (stored since `since`) still waiting to be processed? Read
    by `touch` before a new message is inserted, so every one it sees is an earlier one."""
    return (select(M.c.id).where(M.c.conversation_id == conversation_id, M.c.role == Role.USER.value,
                                 M.c.status == MessageStatus.RECEIVED, M.c.created_at > since)
            .limit(1).scalar_subquery().label("waiting_id"))


async def insert_message(conn: AsyncConnection, **values: Any) -> int:
    """A new message row (after `touch` of its conversation); its id."""
    message_id: int = (await conn.execute(M.insert().values(**values).returning(M.c.id))).scalar_one()
    return message_id


async def count_recent(conn: AsyncConnection, channel: str, author: str | None, since: datetime,
                       up_to_id: int) -> int:
    """This author's messages on this channel since `since`, up to and including message `up_to_id`."""
    stmt = select(func.count(M.c.id)).where(M.c.channel == channel, M.c.author == author,
                                            M.c.role == Role.USER.value, M.c.created_at > since, M.c.id <= up_to_id)
    return int((await conn.execute(stmt)).scalar() or 0)


def merges_in_sql(meta: dict[str, Any]) -> bool:
    """Can `set_status` merge these keys into the stored meta in the UPDATE itself? (flat values:
    a JSON merge patch is then exactly Python's ``{**stored, **meta}``)"""
    return all(isinstance(v, _SCALARS) for v in meta.values())


def set_status(message_id: int, status: str, meta: dict[str, Any], dialect: str) -> Update:
    """One UPDATE: the status, and `meta`'s keys merged into the stored meta (see `merges_in_sql`)."""
    values: dict[str, Any] = {"status": status}
    if meta:
        values["meta"] = _merged(meta, dialect)
    return update(M).where(M.c.id == message_id).values(**values)


def _merged(meta: dict[str, Any], dialect: str) -> ColumnElement[Any]:
    patch = json.dumps(meta, ensure_ascii=False)
    if dialect == "postgresql":
        stored = func.coalesce(cast(M.c.meta, JSONB), cast(literal("{}"), JSONB))
        return cast(stored.op("||")(cast(literal(patch, String), JSONB)), JSON)
    return func.json_patch(func.coalesce(cast(M.c.meta, Text), "{}"), literal(patch, String), type_=JSON)


async def recent_turns(conn: AsyncConnection, conversation_id: int, limit: int) -> list[Turn]:
    """The last `limit` user/assistant/manager turns since the context was last reset, oldest first
    (one statement: the reset time is a subquery)."""
    reset = select(C.c.context_reset_at).where(C.c.id == conversation_id).scalar_subquery()
    stmt = (select(M.c.id, M.c.conversation_id, M.c.role, M.c.text, M.c.created_at, M.c.mode,
                   M.c.channel_message_id)
            .where(M.c.conversation_id == conversation_id, M.c.role != Role.SYSTEM.value,
                   (reset.is_(None)) | (M.c.created_at > reset))
            .order_by(M.c.id.desc()).limit(limit))
    rows = (await conn.execute(stmt)).all()
    return [Turn(id=r.id, conversation_id=r.conversation_id, role=Role(r.role), text=r.text,
                 created_at=r.created_at, mode=r.mode, channel_message_id=r.channel_message_id)
            for r in reversed(rows)]


def _claim(message_id: int, from_statuses: tuple[str, ...], to: str, claimed_before: datetime | None) -> Update:
    stmt = update(M).where(M.c.id == message_id, M.c.status.in_(from_statuses))
    if claimed_before is not None:
        stmt = stmt.where(func.coalesce(M.c.claimed_at, M.c.created_at) < claimed_before)
    values = {"status": to, "claimed_at": utcnow()} if to == MessageStatus.PROCESSING else {"status": to}
    return stmt.values(**values)


async def claim(conn: AsyncConnection, message_id: int, from_statuses: tuple[str, ...], to: str,
                claimed_before: datetime | None = None) -> bool:
    """Compare-and-set the status; moving to "processing" stamps ``claimed_at``. With
    ``claimed_before``, only a message whose processing began before then (a dead worker's) is taken."""
    result = await conn.execute(_claim(message_id, from_statuses, to, claimed_before))
    return mappers.changed(result) == 1


async def claim_reading(conn: AsyncConnection, message_id: int, *reading: ColumnElement[Any]) -> Row[Any] | None:
    """`claim` from "received" to "processing", reading scalar subqueries in the same statement: their
    row when the message was claimed, None when it was not."""
    return (await conn.execute(_claim(message_id, (MessageStatus.RECEIVED,), MessageStatus.PROCESSING, None).returning(*reading))).first()


def set_statuses(items: Sequence[tuple[int, str, dict[str, Any]]], dialect: str) -> Update:
    """One UPDATE for several messages: each its status, and its flat `meta` merged in (`merges_in_sql`)."""
    status = case({mid: st for mid, st, _ in items}, value=M.c.id)
    values: dict[str, Any] = {"status": status}
    merged = [(M.c.id == mid, _merged(meta, dialect)) for mid, _, meta in items if meta]
    if merged:
        values["meta"] = case(*merged, else_=M.c.meta)
    return update(M).where(M.c.id.in_([mid for mid, _, _ in items])).values(**values)
