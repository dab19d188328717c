"""The database tables (SQLAlchemy 2 declarative). Alembic migrations in `migrations/` create them."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.types import utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_conversation_chat"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str | None] = mapped_column(String(256))
    lang: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    context_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "channel_message_id", name="uq_message_channel_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
        Index("ix_messages_author_time", "channel", "author", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    author: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last claimed for processing (0014)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    mode: Mapped[str | None] = mapped_column(String(16))
    no_answer: Mapped[bool] = mapped_column(Boolean, default=False)
    handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    top_score: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    feedback: Mapped[str | None] = mapped_column(String(8))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class GapRow(Base):
    __tablename__ = "knowledge_gaps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))
    top_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class DocumentRow(Base):
    __tablename__ = "kb_documents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    ingested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    identity: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # read from the text at ingest
    identity_override: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # an operator's corrections
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # read at ingest: {"repeals": [titles]}
    policy_override: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # an operator's {"status", "successor"}
    text_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # of the extracted text (duplicates)
    review: Mapped[list[Any] | None] = mapped_column(JSON)  # what screening flagged, for operators


class ChunkRow(Base):
    __tablename__ = "kb_chunks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(512))
    section: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(1024))
    text: Mapped[str] = mapped_column(Text)
    flags: Mapped[list[Any] | None] = mapped_column(JSON)  # flagged sentences, never quoted as policy


class KbStateRow(Base):
    __tablename__ = "kb_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcessedEventRow(Base):
    """Platform event ids already handled (WeCom MsgId, Telegram update_id, kf msgid): shared dedupe."""

    __tablename__ = "processed_events"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ChannelStateRow(Base):
    """Small durable values of the channels, shared by all workers (e.g. a kf sync cursor)."""

    __tablename__ = "channel_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboxRow(Base):
    """An inbound platform event stored before it is acknowledged, then processed by a worker
    (`bot.inbox`). Idempotent on (channel, key): the platform's id (WeCom MsgId, kf token,
    Telegram update_id). pending -> processing (claimed by compare-and-set, with a lease) -> done;
    a row whose worker died is claimed again once its lease has run out."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "key", name="uq_inbox_channel_key"),
                      Index("ix_inbox_open", "channel", "status", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    holder: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class LeaseRow(Base):
    """A named lock held without holding a connection: the holder renews it while it works; a dead
    holder's lease runs out (`bot.store.locks.Locks.lease`)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ManagerRow(Base):
    """A technology manager (技术经理人) of the roster."""

    __tablename__ = "managers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    specialties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    working_hours: Mapped[str] = mapped_column(String(256), default="")
    telegram_user_id: Mapped[str | None] = mapped_column(String(64))
    wecom_userid: Mapped[str | None] = mapped_column(String(64))
    kf_servicer_userid: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketRow(Base):
    """A handoff ticket: the single source of truth for who owns a conversation."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_state", "state", "id"),
        Index("ix_tickets_conversation", "conversation_id", "id"),
        # at most one unresolved ticket per conversation, even with several workers
        Index("uq_tickets_open", "conversation_id", unique=True,
              sqlite_where=text("state IN ('intake', 'waiting', 'active')"),
              postgresql_where=text("state IN ('intake', 'waiting', 'active')")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    intake_step: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    manager_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notify_count: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(64))
    rating: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketEventRow(Base):
    """Everything that happened to a ticket, with who did it (history, notes, SLA figures)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


# ---------------------------------------------------------------- operator console (migration 0004)

# keyset pagination of the conversation list: newest activity first, overall and per channel
Index("ix_conversations_activity", ConversationRow.updated_at, ConversationRow.id)
Index("ix_conversations_channel_activity", ConversationRow.channel, ConversationRow.updated_at, ConversationRow.id)
# the list's message filters: small partial indexes over the few rated / unanswered / answered messages
Index("ix_messages_feedback", MessageRow.feedback, MessageRow.conversation_id,
      sqlite_where=text("feedback IS NOT NULL"), postgresql_where=text("feedback IS NOT NULL"))
Index("ix_messages_no_answer", MessageRow.conversation_id,
      sqlite_where=text("no_answer = 1"), postgresql_where=text("no_answer = true"))
Index("ix_messages_mode", MessageRow.mode, MessageRow.conversation_id,
      sqlite_where=text("mode IS NOT NULL"), postgresql_where=text("mode IS NOT NULL"))


class AccountRow(Base):
    """A console account: admin, operator or technology manager (linked to a roster manager id)."""

    __tablename__ = "console_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    manager_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsoleSessionRow(Base):
    """A browser session: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))


class ApiTokenRow(Base):
    """An API token for integrators (`Authorization: Bearer ...`); only its SHA-256 is kept."""

    __tablename__ = "console_api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    scope: Mapped[str] = mapped_column(String(16), default="full", server_default="full")  # full | read
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: never


class LoginAttemptRow(Base):
    """Every console login attempt, for the per-account and per-IP rate limits."""

    __tablename__ = "console_login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username", "username", "at"),
        Index("ix_login_attempts_ip", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRow(Base):
    """Who viewed, exported or changed what, from the console or its API."""

    __tablename__ = "console_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    account_id: Mapped[int | None] = mapped_column(BigId)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str] = mapped_column(String(256), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class CuratedAnswerRow(Base):
    """An answer written by the operators for a group of questions; preferred by the assistant."""

    __tablename__ = "curated_answers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[Any]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GapStateRow(Base):
    """An operator's decision on a knowledge-gap question (migration 0013); no row: the question is open."""

    __tablename__ = "gap_states"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # SHA-256 of the normalised question
    question: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)  # dismissed | answered
    curated_id: Mapped[int | None] = mapped_column(ForeignKey("curated_answers.id", ondelete="SET NULL"))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
