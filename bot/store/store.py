"""The `Store`: every conversation, message and knowledge gap; the other concerns by attribute (`store.kb`,
`store.tickets`, `store.console`, ...).

SQLAlchemy 2 async; SQLite (WAL) by default, PostgreSQL by URL. Each method is one short
transaction. Database failures surface as `StorageError`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.errors import StorageError
from bot.states import MessageStatus
from bot.store import mappers, messages, migrate, sqlite
from bot.store.console import ConsoleStore
from bot.store.models import ChannelStateRow, ConversationRow, GapRow, MessageRow, ProcessedEventRow
from bot.records import StoredMessage
from bot.store.broadcast import Broadcast
from bot.store.calendar import CalendarStore
from bot.store.eligibility import EligibilityStore
from bot.store.errors import translated
from bot.store.inbox import InboxStore
from bot.store.kb import KbStore
from bot.store.locks import Locks, lock_key
from bot.store.tickets import TicketStore
from bot.types import Conversation, IncomingMessage, Role, Turn, utcnow

def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "busy_timeout=10000", "foreign_keys=ON", "synchronous=NORMAL"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


_message = mappers.message


def _engine(url: str, pool_size: int, max_overflow: int) -> AsyncEngine:
    """SQLite through `bot.store.sqlite` (one thread trip per statement; a file needs no liveness ping
    before each use); a server database with a bounded pool, each connection pinged when taken."""
    if url.startswith("sqlite+aiosqlite"):
        return create_async_engine(url, async_creator=sqlite.async_creator(url))
    if url.startswith("sqlite"):
        return create_async_engine(url)
    return create_async_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow,
                               pool_timeout=30)


class Inbound(NamedTuple):
    """What `Store.record_inbound` did: the new message's id (None: a redelivery), the user's messages
    in the rate window, and whether an earlier message of the conversation is still waiting."""

    message_id: int | None
    recent: int
    earlier_waiting: bool


class Claimed(NamedTuple):
    """What `Store.claim_for_answer` found: claimed here, the open ticket's state, a company profile."""

    claimed: bool
    ticket_state: str | None
    has_profile: bool


class Store:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self.kb = KbStore(engine, self._session)  # the knowledge-base registry: documents, chunks, generation
        self.tickets = TicketStore(self._session, engine)
        self.console = ConsoleStore(self._session)
        self.locks = Locks(engine)
        self.inbox = InboxStore(self._session, self.dialect)
        self.broadcast = Broadcast(engine)
        self.calendar = CalendarStore(self._session)  # issue 16: calendar, policy status, subscriptions
        self.eligibility = EligibilityStore(self._session)  # issue 17: support items, profiles, match statistics

    @classmethod
    async def open(cls, url: str, *, migrate_schema: bool = True, pool_size: int = 10,
                   max_overflow: int = 10) -> "Store":
        """Connect and bring the schema to the newest migration. No connection is held while an
        answer is generated (see `Locks.lease`), so a small pool serves hundreds of answers in flight."""
        engine = _engine(url, pool_size, max_overflow)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if migrate_schema:
            try:
                await migrate.upgrade(engine)
            except (SQLAlchemyError, OSError) as exc:
                await engine.dispose()
                raise StorageError(f"cannot open database {engine.url.render_as_string()}: {exc}") from exc
        return store

    async def close(self) -> None:
        await self.broadcast.close()
        await self.engine.dispose()

    # ---------------------------------------------------------------- conversations

    @translated
    async def conversation_for(self, msg: IncomingMessage) -> Conversation:
        """The conversation of this chat, created on first contact (safe under races)."""
        async with self.engine.connect() as conn:
            row = await messages.find_conversation(conn, msg.channel, msg.chat_id)
        if row is None:
            try:
                async with self.engine.begin() as conn:
                    row = await messages.create_conversation(conn, msg)
            except IntegrityError:  # created meanwhile (another message of the chat, another worker)
                async with self.engine.connect() as conn:
                    row = await messages.find_conversation(conn, msg.channel, msg.chat_id)
                assert row is not None
        return messages.conversation(row)

    async def _find_conversation(self, s: AsyncSession, channel: str, chat_id: str) -> ConversationRow | None:
        stmt = select(ConversationRow).where(ConversationRow.channel == channel, ConversationRow.chat_id == chat_id)
        return (await s.scalars(stmt)).first()

    @translated
    async def get_conversation(self, conversation_id: int) -> Conversation | None:
        async with self._session() as s:
            row = await s.get(ConversationRow, conversation_id)
            return mappers.conversation(row) if row else None

    @translated
    async def find_conversation(self, channel: str, chat_id: str) -> Conversation | None:
        async with self._session() as s:
            row = await self._find_conversation(s, channel, chat_id)
            return mappers.conversation(row) if row else None

    @translated
    async def reset_context(self, conversation_id: int) -> None:
        async with self._session() as s, s.begin():
            await s.execute(update(ConversationRow).where(ConversationRow.id == conversation_id)
                            .values(context_reset_at=utcnow()))

    @translated
    async def set_conversation_lang(self, conversation_id: int, lang: str) -> None:
        async with self._session() as s, s.begin():
            await s.execute(update(ConversationRow).where(ConversationRow.id == conversation_id).values(lang=lang))

    @translated
    async def set_blocked(self, conversation_id: int, blocked: bool = True) -> None:
        async with self._session() as s, s.begin():
            await s.execute(update(ConversationRow).where(ConversationRow.id == conversation_id)
                            .values(blocked=blocked))

    # ---------------------------------------------------------------- messages

    async def record_user_message(self, conversation: Conversation, msg: IncomingMessage) -> int | None:
        """Store an inbound message before anything else; None when it was already stored (redelivery)."""
        return (await self.record_inbound(conversation, msg, None, pending_window=None)).message_id

    @translated
    async def record_inbound(self, conversation: Conversation, msg: IncomingMessage, window: float | None,
                             pending_window: float | None = 300.0) -> Inbound:
        """Store an inbound message (None for a redelivery), count this user's messages on this
        channel in the last `window` seconds up to and including it, and tell whether an earlier user
        message of the conversation (from the last `pending_window` seconds) is still waiting to be
        processed: one transaction (the pending check rides on the conversation's row lock). On
        PostgreSQL a transaction-scoped advisory lock per user orders concurrent inserts across
        workers, so each message's count includes every earlier one; SQLite has one writer anyway."""
        waiting = () if pending_window is None else (
            messages.waiting_user_message(conversation.id, utcnow() - timedelta(seconds=pending_window)),)
        try:
            async with self.engine.begin() as conn:
                if self.dialect == "postgresql" and window is not None:
                    key = f"user:{msg.channel}:{msg.user_id}"
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(key)})
                # before the insert: ids in commit order, and every waiting message it sees is an earlier one
                touched = await messages.touch(conn, conversation.id, *waiting)
                message_id = await messages.insert_message(
                    conn, conversation_id=conversation.id, channel=msg.channel,
                    channel_message_id=msg.channel_message_id, role=Role.USER.value, author=msg.user_id,
                    text=msg.text, created_at=msg.received_at, status=MessageStatus.RECEIVED,
                    meta={"kind": msg.kind} if msg.kind != "text" else {})
                count = 0 if window is None else await messages.count_recent(
                    conn, msg.channel, msg.user_id, utcnow() - timedelta(seconds=window), message_id)
        except IntegrityError:  # this platform id was stored before: a redelivery
            return Inbound(None, 0, False)
        return Inbound(message_id, count, touched is not None and touched[0] is not None)

    @translated
    async def record_reply(self, conversation_id: int, channel: str, role: Role, text: str, *,
                           reply_to_id: int | None = None, author: str | None = None,
                           mode: str | None = None, no_answer: bool = False, handoff: bool = False,
                           top_score: float | None = None, latency_ms: int | None = None,
                           meta: dict[str, Any] | None = None) -> int:
        """Store an outbound message (assistant, manager or system) before it is sent."""
        return (await self.record_reply_and_ticket(
            conversation_id, channel, role, text, reply_to_id=reply_to_id, author=author, mode=mode,
            no_answer=no_answer, handoff=handoff, top_score=top_score, latency_ms=latency_ms, meta=meta,
            read_ticket=False))[0]

    @translated
    async def record_reply_and_ticket(self, conversation_id: int, channel: str, role: Role, text: str, *,
                                      reply_to_id: int | None = None, author: str | None = None,
                                      mode: str | None = None, no_answer: bool = False, handoff: bool = False,
                                      top_score: float | None = None, latency_ms: int | None = None,
                                      meta: dict[str, Any] | None = None,
                                      read_ticket: bool = True) -> tuple[int, str | None]:
        """`record_reply`, and the state of the conversation's unresolved ticket (None: none) read in the
        same transaction, under the conversation's row lock (the outbox's "does a person own it" check)."""
        async with self.engine.begin() as conn:
            # before the insert: ids in commit order
            touched = await messages.touch(conn, conversation_id,
                                           *((messages.open_ticket_state(conversation_id),) if read_ticket else ()))
            mid = await messages.insert_message(
                conn, conversation_id=conversation_id, channel=channel, role=role.value, text=text,
                reply_to_id=reply_to_id, author=author, mode=mode, no_answer=no_answer, handoff=handoff,
                top_score=top_score, latency_ms=latency_ms, meta=meta or {}, status=MessageStatus.PENDING)
        return mid, touched[0] if touched is not None else None

    @translated
    async def set_message_status(self, message_id: int, status: str, **meta: Any) -> None:
        """Set a message's status and merge `meta` into its meta (one UPDATE for flat values)."""
        if messages.merges_in_sql(meta):
            async with self.engine.begin() as conn:
                await conn.execute(messages.set_status(message_id, status, meta, self.dialect))
            return
        async with self._session() as s, s.begin():
            row = await s.get(MessageRow, message_id)
            if row is None:
                return
            row.status = status
            if meta:
                row.meta = {**(row.meta or {}), **meta}

    @translated
    async def set_message_statuses(self, items: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Several messages' statuses (and flat meta merged in) in one transaction: the replies an
        exchange sent and the message itself, at its end."""
        if not items:
            return
        if not all(messages.merges_in_sql(meta) for _, _, meta in items):
            for mid, status, meta in items:
                await self.set_message_status(mid, status, **meta)
            return
        async with self.engine.begin() as conn:
            await conn.execute(messages.set_statuses(items, self.dialect))

    @translated
    async def user_message(self, channel: str, channel_message_id: str) -> StoredMessage | None:
        """The stored inbound message with this platform id, if any."""
        async with self._session() as s:
            row = (await s.scalars(select(MessageRow).where(
                MessageRow.channel == channel, MessageRow.channel_message_id == channel_message_id))).first()
            return mappers.message(row) if row else None

    @translated
    async def get_message(self, message_id: int) -> StoredMessage | None:
        async with self._session() as s:
            row = await s.get(MessageRow, message_id)
            return mappers.message(row) if row else None

    @translated
    async def messages(self, conversation_id: int, *, after_id: int | None = None,
                       limit: int = 500) -> list[StoredMessage]:
        """Messages oldest first; with `after_id` only those after it (for polling), at most `limit`."""
        async with self._session() as s:
            stmt = (select(MessageRow).where(MessageRow.conversation_id == conversation_id)
                    .order_by(MessageRow.id).limit(limit))
            if after_id is not None:
                stmt = stmt.where(MessageRow.id > after_id)
            return [mappers.message(r) for r in await s.scalars(stmt)]

    @translated
    async def recent_turns(self, conversation_id: int, limit: int) -> list[Turn]:
        """The last `limit` user/assistant/manager turns since the context was last reset, oldest first."""
        if limit <= 0:
            return []
        async with self.engine.connect() as conn:
            return await messages.recent_turns(conn, conversation_id, limit)

    @translated
    async def set_feedback(self, message_id: int, value: str | None) -> bool:
        """Record 👍 ("up") or 👎 ("down") on an assistant answer; False when no such answer."""
        async with self._session() as s, s.begin():
            row = await s.get(MessageRow, message_id)
            if row is None or row.role != Role.ASSISTANT.value:
                return False
            row.feedback = value
            row.meta = {**(row.meta or {}), "feedback_at": utcnow().isoformat()}
            return True

    @translated
    async def record_gap(self, question: str, reason: str, *, message_id: int | None = None,
                         conversation_id: int | None = None, top_score: float | None = None) -> int:
        async with self._session() as s, s.begin():
            row = GapRow(question=question, reason=reason, message_id=message_id,
                         conversation_id=conversation_id, top_score=top_score)
            s.add(row)
            await s.flush()
            return row.id

    @translated
    async def gaps(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self._session() as s:
            rows = await s.scalars(select(GapRow).order_by(GapRow.id.desc()).limit(limit))
            return [{"id": r.id, "question": r.question, "reason": r.reason, "top_score": r.top_score,
                     "created_at": r.created_at, "message_id": r.message_id} for r in rows]

    @translated
    async def seen_event(self, key: str) -> bool:
        """Mark a platform event id as handled; True when it already was (shared by all workers)."""
        async with self._session() as s:
            s.add(ProcessedEventRow(key=key[:200]))
            try:
                await s.commit()
                return False
            except IntegrityError:
                await s.rollback()
                return True

    @translated
    async def has_event(self, key: str) -> bool:
        """Was this platform event id marked handled (``seen_event``)? Marks nothing."""
        async with self._session() as s:
            return await s.get(ProcessedEventRow, key[:200]) is not None

    @translated
    async def forget_events_before(self, cutoff: datetime) -> int:
        from sqlalchemy import delete
        async with self._session() as s, s.begin():
            res = await s.execute(delete(ProcessedEventRow).where(ProcessedEventRow.created_at < cutoff))
            return mappers.changed(res) or 0

    @translated
    async def claim_for_answer(self, message_id: int, conversation: Conversation, user_id: str) -> Claimed:
        """`claim_message` from "received" to "processing", reading in the same statement what the
        answer needs to know first: the conversation's unresolved ticket state and whether the user
        has a company profile (`EligibilityStore.has_profile`)."""
        async with self.engine.begin() as conn:
            row = await messages.claim_reading(conn, message_id, messages.open_ticket_state(conversation.id),
                                               EligibilityStore.has_profile(conversation.channel, user_id))
        return Claimed(False, None, False) if row is None else Claimed(True, row.ticket_state, row.profile_id is not None)

    @translated
    async def claim_message(self, message_id: int, from_statuses: tuple[str, ...] = (MessageStatus.RECEIVED,),
                            to: str = MessageStatus.PROCESSING, claimed_before: datetime | None = None) -> bool:
        """Compare-and-set a user message's status; False when another worker got there first.
        ``claimed_before``: take it only when its processing began before then (a dead worker's)."""
        async with self.engine.begin() as conn:
            return await messages.claim(conn, message_id, from_statuses, to, claimed_before)

    @translated
    async def release_processing(self, claimed_before: datetime) -> int:
        """User messages "processing" since before ``claimed_before`` go back to "received": a single
        process starting on SQLite (whoever was processing them is gone)."""
        async with self._session() as s, s.begin():
            res = await s.execute(update(MessageRow).where(
                MessageRow.role == Role.USER.value, MessageRow.status == MessageStatus.PROCESSING,
                func.coalesce(MessageRow.claimed_at, MessageRow.created_at) < claimed_before)
                .values(status=MessageStatus.RECEIVED, claimed_at=None))
            return mappers.changed(res) or 0

    @translated
    async def stale_user_messages(self, received_before: datetime, processing_before: datetime,
                                  limit: int = 100) -> list[StoredMessage]:
        """User messages a dead worker left behind: never started, or started long ago and unfinished."""
        from sqlalchemy import and_, or_

        async with self._session() as s:
            stmt = (select(MessageRow).where(MessageRow.role == Role.USER.value, or_(
                and_(MessageRow.status == MessageStatus.RECEIVED, MessageRow.created_at < received_before),
                and_(MessageRow.status == MessageStatus.PROCESSING,
                     func.coalesce(MessageRow.claimed_at, MessageRow.created_at) < processing_before)))
                .order_by(MessageRow.id).limit(limit))
            return [mappers.message(r) for r in await s.scalars(stmt)]

    @translated
    async def replies_to(self, message_id: int) -> list[StoredMessage]:
        async with self._session() as s:
            stmt = select(MessageRow).where(MessageRow.reply_to_id == message_id).order_by(MessageRow.id)
            return [mappers.message(r) for r in await s.scalars(stmt)]

    @translated
    async def count_messages(self) -> int:
        async with self._session() as s:
            return int(await s.scalar(select(func.count(MessageRow.id))) or 0)

    @translated
    async def get_state(self, key: str) -> str | None:
        async with self._session() as s:
            row = await s.get(ChannelStateRow, key)
            return row.value if row else None

    @translated
    async def set_state(self, key: str, value: str) -> None:
        """Write a durable channel value (e.g. a kf cursor) in its own transaction."""
        async with self._session() as s, s.begin():
            row = await s.get(ChannelStateRow, key, with_for_update=True)
            if row is None:
                s.add(ChannelStateRow(key=key, value=value))
            else:
                row.value, row.updated_at = value, utcnow()
