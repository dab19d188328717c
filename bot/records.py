"""The records the store hands out: plain frozen dataclasses, no ORM objects (the mappers from rows are
in `bot.store.mappers`). Adapters and the core import them from here, never from `bot.store`."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.states import MessageStatus



@dataclass(frozen=True, slots=True)
class DocumentRecord:
    id: str
    title: str
    source: str
    sha256: str
    chunk_count: int = 0
    status: str = "ok"  # "ok" | "failed" | "duplicate" (same text as another document: not indexed)
    error: str | None = None
    size_bytes: int = 0
    ingested_at: datetime | None = None
    updated_at: datetime | None = None
    identity: dict[str, str] = field(default_factory=dict)  # read at ingest (knowledge.identity)
    identity_override: dict[str, str] = field(default_factory=dict)  # an operator's corrections
    text_sha256: str | None = None  # of the extracted text: a second file with the same text is a duplicate
    review: list[dict[str, str]] = field(default_factory=list)  # flagged passages (knowledge.screening)

    @property
    def effective_identity(self) -> dict[str, str]:
        """The identity as used: what ingest read, with the operator's non-empty corrections."""
        return {**self.identity, **{k: v for k, v in self.identity_override.items() if v}}


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    id: str
    doc_id: str
    position: int
    title: str
    section: str
    source: str
    text: str
    flags: tuple[str, ...] = ()  # sentences screening flagged (knowledge.screening): never quoted as policy


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: int
    channel: str
    role: str
    text: str
    created_at: datetime
    status: str = MessageStatus.RECEIVED
    mode: str | None = None
    feedback: str | None = None
    author: str | None = None
    reply_to_id: int | None = None
    no_answer: bool = False
    handoff: bool = False
    latency_ms: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    claimed_at: datetime | None = None  # a user message: when it was last claimed for processing

    def processing_since(self) -> datetime:
        """When the current processing of this message began (its arrival, for rows from before 0014)."""
        return self.claimed_at or self.created_at


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: int
    conversation_id: int
    state: str
    fields: dict[str, Any]
    intake_step: str | None
    summary: str
    trigger: str
    lang: str
    manager_id: str | None
    created_at: datetime
    waiting_since: datetime | None = None
    claimed_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    last_activity_at: datetime | None = None
    notified_at: datetime | None = None
    notify_count: int = 0
    outcome: str | None = None
    rating: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ManagerRecord:
    id: str
    name: str
    specialties: tuple[str, ...] = ()
    working_hours: str = ""
    telegram_user_id: str | None = None
    wecom_userid: str | None = None
    kf_servicer_userid: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class TicketEvent:
    ticket_id: int
    at: datetime
    actor: str
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: int
    username: str
    role: str
    manager_id: str | None
    active: bool
    created_at: datetime
    last_login_at: datetime | None = None
    password_hash: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    id: int
    account_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
    scope: str = "full"
    expires_at: datetime | None = None

    def valid(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    account_id: int | None
    username: str
    action: str
    target: str
    detail: dict[str, Any]
    ip: str | None


@dataclass(frozen=True, slots=True)
class CuratedRecord:
    id: int
    question: str
    examples: list[str]
    answer: str
    lang: str
    status: str
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


SEARCH_MODES = ("llm", "extractive", "curated")  # how an answer was made: the conversation filter's modes


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    channel: str | None = None
    since: datetime | None = None  # active at or after
    until: datetime | None = None  # started before
    keyword: str | None = None
    handoff: bool | None = None
    feedback: str | None = None  # "up" | "down"
    unanswered: bool = False
    mode: str | None = None  # "llm" | "extractive" | "curated"
    masked: bool = False  # the searcher sees contacts masked: the keyword must match the masked text


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: int
    channel: str
    chat_id: str
    user_id: str
    user_name: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int = 0
    first_question: str = ""
    feedback_up: int = 0
    feedback_down: int = 0
    no_answer: int = 0
    ticket_state: str | None = None
    modes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ConversationSummary]
    next_cursor: str | None
    search: str = field(default="like")  # how the keyword was searched: fts5 | trgm | like
