"""Knowledge-base registry tables: documents, chunks and the generation counter readers watch."""
from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ChunkRow, DocumentRow, KbStateRow
from bot.store.records import ChunkRecord, DocumentRecord
from bot.types import utcnow


def doc_record(row: DocumentRow) -> DocumentRecord:
    return DocumentRecord(
        id=row.id, title=row.title, source=row.source, sha256=row.sha256, chunk_count=row.chunk_count,
        status=row.status, error=row.error, size_bytes=row.size_bytes, ingested_at=row.ingested_at,
        updated_at=row.updated_at, identity=dict(row.identity or {}),
        identity_override=dict(row.identity_override or {}),
    )


def chunk_record(row: ChunkRow) -> ChunkRecord:
    return ChunkRecord(id=row.id, doc_id=row.doc_id, position=row.position, title=row.title,
                       section=row.section, source=row.source, text=row.text)


async def bump_generation(session: AsyncSession) -> int:
    state = await session.get(KbStateRow, 1, with_for_update=True)
    if state is None:
        state = KbStateRow(id=1, generation=0)
        session.add(state)
    state.generation = (state.generation or 0) + 1
    state.updated_at = utcnow()
    await session.flush()
    return state.generation


async def upsert_document(session: AsyncSession, doc: DocumentRecord) -> None:
    row = await session.get(DocumentRow, doc.id)
    if row is None:
        row = DocumentRow(id=doc.id)
        session.add(row)
    now = utcnow()
    row.title, row.source, row.sha256 = doc.title, doc.source, doc.sha256
    row.chunk_count, row.status, row.error = doc.chunk_count, doc.status, doc.error
    row.size_bytes = doc.size_bytes
    row.identity = dict(doc.identity) or row.identity  # the override is the operator's: kept
    row.ingested_at = doc.ingested_at or row.ingested_at or now
    row.updated_at = now


async def replace_chunks(session: AsyncSession, doc_id: str, chunks: list[ChunkRecord]) -> None:
    await session.execute(delete(ChunkRow).where(ChunkRow.doc_id == doc_id))
    session.add_all(
        ChunkRow(id=c.id, doc_id=doc_id, position=c.position, title=c.title, section=c.section,
                 source=c.source, text=c.text)
        for c in chunks
    )


async def chunk_ids(session: AsyncSession, doc_id: str) -> list[str]:
    rows = await session.scalars(select(ChunkRow.id).where(ChunkRow.doc_id == doc_id).order_by(ChunkRow.position))
    return list(rows)


async def mark_failed(session: AsyncSession, doc: DocumentRecord) -> None:
    row = await session.get(DocumentRow, doc.id)
    if row is None:
        await upsert_document(session, doc)
        return
    await session.execute(
        update(DocumentRow).where(DocumentRow.id == doc.id)
        .values(status="failed", error=doc.error, updated_at=utcnow())
    )


async def set_identity_override(session: AsyncSession, doc_id: str, override: dict[str, str]) -> bool:
    row = await session.get(DocumentRow, doc_id)
    if row is None:
        return False
    row.identity_override = {k: v for k, v in override.items() if v} or None
    row.updated_at = utcnow()
    return True
