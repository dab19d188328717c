"""Tables of the application calendar, the knowledge-base change log and the subscriptions
(migration 0010)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigId, UTCDateTime
from bot.types import utcnow


class CalendarEntryRow(Base):
    __tablename__ = "calendar_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(String(200))
    who: Mapped[str] = mapped_column(Text, default="")
    opens: Mapped[str] = mapped_column(String(10), default="")
    closes: Mapped[str] = mapped_column(String(10), default="")
    recurrence: Mapped[str] = mapped_column(String(10), default="once")
    clause: Mapped[str] = mapped_column(Text, default="")
    section: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(String(512), default="")
    source: Mapped[str] = mapped_column(String(1024), default="")
    region: Mapped[str] = mapped_column(String(32), default="")
    origin: Mapped[str] = mapped_column(String(16), default="rules")  # rules | llm | operator
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KbChangeRow(Base):
    """A document added or changed by an ingest: what subscriptions are notified of (ids only grow)."""

    __tablename__ = "kb_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(512), default="")
    region: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(16), default="added")  # added | updated
    text: Mapped[str] = mapped_column(Text, default="")  # the head of the document, for topic matching
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("conversation_id", name="uq_subscriptions_conversation"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32), index=True)
    topics: Mapped[list[Any] | None] = mapped_column(JSON)
    regions: Mapped[list[Any] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    since_change_id: Mapped[int] = mapped_column(Integer, default=0)  # changes up to this one are not news
    last_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # by the injected clock
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NoticeItemRow(Base):
    """One thing a subscriber is to be told (a new document, a window closing); delivered packed
    with the others pending in one message (`message_id`)."""

    __tablename__ = "notice_items"
    __table_args__ = (UniqueConstraint("conversation_id", "key", name="uq_notice_items_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
