"""Tables of the eligibility self-check (issue 17, migration 0012): support items read from the
documents, company profiles kept per user with consent, and anonymous match statistics."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, BigId, UTCDateTime
from bot.types import utcnow


class SupportItemRow(Base):
    __tablename__ = "support_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(String(200))
    who: Mapped[str] = mapped_column(Text, default="")
    conditions: Mapped[list[Any] | None] = mapped_column(JSON)
    amount: Mapped[float | None] = mapped_column(Float)
    ratio: Mapped[float | None] = mapped_column(Float)
    cap: Mapped[float | None] = mapped_column(Float)
    support: Mapped[str] = mapped_column(Text, default="")
    clause: Mapped[str] = mapped_column(Text, default="")
    section: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(String(512), default="")
    source: Mapped[str] = mapped_column(String(1024), default="")
    region: Mapped[str] = mapped_column(String(32), default="")
    district: Mapped[str] = mapped_column(String(32), default="")
    origin: Mapped[str] = mapped_column(String(16), default="rules")  # rules | llm | operator
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)  # draft | published | hidden
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CompanyProfileRow(Base):
    """One user's company profile (stored only after consent) and the state of its collection."""

    __tablename__ = "company_profiles"
    __table_args__ = (UniqueConstraint("channel", "user_id", name="uq_company_profiles_user"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # {"step": consent|asking, "pending": field, "asked": [...]}
    flow: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MatchEventRow(Base):
    """One item's outcome in one match (no user id: statistics only)."""

    __tablename__ = "support_matches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("support_items.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # eligible | near_miss | unknown
    failed: Mapped[str] = mapped_column(String(32), default="")  # the failing condition's field (near misses)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
