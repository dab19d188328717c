"""Every mapper from an ORM row to the plain record the store hands out (`bot.records`), in one place."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result

from sqlalchemy.engine import Row

from bot.records import (
    ChunkRecord, DocumentRecord, ManagerRecord, StoredMessage, TicketRecord,
)
from bot.store.models import ChunkRow, ConversationRow, DocumentRow, ManagerRow, MessageRow, TicketRow
from bot.types import Conversation

R = TypeVar("R")


def changed(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE touched: its result is a CursorResult, which SQLAlchemy types as Result."""
    return cast("CursorResult[Any]", result).rowcount


def conversation(row: ConversationRow | Row[Any]) -> Conversation:
    """From the ORM row or a Core row of `conversations` (the same attributes)."""
    return Conversation(id=row.id, channel=row.channel, chat_id=row.chat_id, user_id=row.user_id,
                        created_at=row.created_at, updated_at=row.updated_at, lang=row.lang,
                        user_name=row.user_name, blocked=bool(row.blocked))


def message(row: MessageRow) -> StoredMessage:
    return StoredMessage(
        id=row.id, conversation_id=row.conversation_id, channel=row.channel, role=row.role, text=row.text,
        created_at=row.created_at, status=row.status, mode=row.mode, feedback=row.feedback, author=row.author,
        reply_to_id=row.reply_to_id, no_answer=row.no_answer, handoff=row.handoff, latency_ms=row.latency_ms,
        meta=dict(row.meta or {}), claimed_at=row.claimed_at,
    )


_TICKET_FIELDS = [f.name for f in fields(TicketRecord)]


def ticket(row: TicketRow | Row[Any]) -> TicketRecord:
    """From the ORM row or a Core row of `tickets` (the same attributes)."""
    values = {name: getattr(row, name) for name in _TICKET_FIELDS}
    values["fields"] = dict(row.fields or {})
    values["meta"] = dict(row.meta or {})
    return TicketRecord(**values)


def manager(row: ManagerRow) -> ManagerRecord:
    return ManagerRecord(id=row.id, name=row.name, specialties=tuple(row.specialties or ()),
                         working_hours=row.working_hours or "", telegram_user_id=row.telegram_user_id,
                         wecom_userid=row.wecom_userid, kf_servicer_userid=row.kf_servicer_userid, active=row.active)


def record(cls: type[R], row: object) -> R:
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def doc_record(row: DocumentRow) -> DocumentRecord:
    return DocumentRecord(
        id=row.id, title=row.title, source=row.source, sha256=row.sha256, chunk_count=row.chunk_count,
        status=row.status, error=row.error, size_bytes=row.size_bytes, ingested_at=row.ingested_at,
        updated_at=row.updated_at, identity=dict(row.identity or {}),
        identity_override=dict(row.identity_override or {}), text_sha256=row.text_sha256,
        review=list(row.review or []),
    )


def chunk_record(row: ChunkRow) -> ChunkRecord:
    return ChunkRecord(id=row.id, doc_id=row.doc_id, position=row.position, title=row.title,
                       section=row.section, source=row.source, text=row.text, flags=tuple(row.flags or ()))


def chunk_records(rows: Iterable[Any]) -> list[ChunkRecord]:
    """Records of ``kb_chunks`` rows (Core rows: no ORM identity map), each document's id, title and
    source and each section heading one shared string, so a large library costs little memory."""
    shared: dict[str, str] = {}

    def one(value: str) -> str:
        return shared.setdefault(value, value)

    return [ChunkRecord(id=r.id, doc_id=one(r.doc_id), position=r.position, title=one(r.title),
                        section=one(r.section), source=one(r.source), text=r.text, flags=tuple(r.flags or ()))
            for r in rows]
