"""Plain records the store hands out (frozen dataclasses; no ORM objects leave the store)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    status: str = "received"
    mode: str | None = None
    feedback: str | None = None
    author: str | None = None
    reply_to_id: int | None = None
    no_answer: bool = False
    handoff: bool = False
    latency_ms: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
