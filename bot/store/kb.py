"""Knowledge-base registry tables: documents, chunks and the generation counter readers watch.

Upkeep after deletes (`maintain`), kept cheap: SQLite runs ``PRAGMA optimize`` and rewrites the file
(``VACUUM``) only when at least `VACUUM_FREE_SHARE` of its pages (and `VACUUM_MIN_FREE_PAGES`) are
free and it is at most `VACUUM_MAX_BYTES`; PostgreSQL runs ``ANALYZE`` on the two tables (its
autovacuum reclaims the space).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.store.models import ChunkRow, DocumentRow, KbStateRow
from bot.records import ChunkRecord, DocumentRecord
from bot.types import utcnow


def chunk_records(rows: Iterable[Any]) -> list[ChunkRecord]:
    """Records of ``kb_chunks`` rows (Core rows: no ORM identity map), each document's id, title and
    source and each section heading one shared string, so a large library costs little memory."""
    shared: dict[str, str] = {}

    def one(value: str) -> str:
        return shared.setdefault(value, value)

    return [ChunkRecord(id=r.id, doc_id=one(r.doc_id), position=r.position, title=one(r.title),
                        section=one(r.section), source=one(r.source), text=r.text, flags=tuple(r.flags or ()))
            for r in rows]


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
    row.text_sha256, row.review = doc.text_sha256, list(doc.review) or None
    row.identity = dict(doc.identity) or row.identity  # the override is the operator's: kept
    row.ingested_at = doc.ingested_at or row.ingested_at or now
    row.updated_at = now


async def replace_chunks(session: AsyncSession, doc_id: str, chunks: list[ChunkRecord]) -> None:
    await session.execute(delete(ChunkRow).where(ChunkRow.doc_id == doc_id))
    session.add_all(
        ChunkRow(id=c.id, doc_id=doc_id, position=c.position, title=c.title, section=c.section,
                 source=c.source, text=c.text, flags=list(c.flags) or None)
        for c in chunks
    )


async def find_same_text(session: AsyncSession, text_sha256: str, other_than: str) -> DocumentRow | None:
    """An indexed document (status ok) other than `other_than` whose extracted text has this hash."""
    stmt = (select(DocumentRow).where(DocumentRow.text_sha256 == text_sha256, DocumentRow.id != other_than,
                                      DocumentRow.status == "ok").order_by(DocumentRow.source).limit(1))
    return (await session.scalars(stmt)).first()


async def chunk_ids(session: AsyncSession, doc_id: str) -> list[str]:
    rows = await session.scalars(select(ChunkRow.id).where(ChunkRow.doc_id == doc_id).order_by(ChunkRow.position))
    return list(rows)


async def chunks_page(session: AsyncSession, doc_id: str, offset: int, limit: int) -> tuple[list[ChunkRow], int]:
    """One page of a document's chunks in reading order, and how many it has."""
    total = await session.scalar(select(func.count(ChunkRow.id)).where(ChunkRow.doc_id == doc_id))
    rows = await session.scalars(select(ChunkRow).where(ChunkRow.doc_id == doc_id)
                                 .order_by(ChunkRow.position).offset(offset).limit(limit))
    return list(rows), int(total or 0)


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


VACUUM_FREE_SHARE = 0.25
VACUUM_MIN_FREE_PAGES = 256  # 1 MB of 4 KB pages: less is not worth rewriting the file
VACUUM_MAX_BYTES = 512 * 1024 * 1024  # beyond this a VACUUM holds writers too long: left to the operator


async def maintain(engine: AsyncEngine) -> str:
    """Upkeep after documents were deleted; returns what was done ("vacuum+optimize", "optimize", "analyze")."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name != "sqlite":
            await conn.execute(text("ANALYZE kb_documents, kb_chunks"))
            return "analyze"
        pages = int((await conn.execute(text("PRAGMA page_count"))).scalar() or 0)
        free = int((await conn.execute(text("PRAGMA freelist_count"))).scalar() or 0)
        size = pages * int((await conn.execute(text("PRAGMA page_size"))).scalar() or 4096)
        done = "optimize"
        if free >= VACUUM_MIN_FREE_PAGES and free >= pages * VACUUM_FREE_SHARE and size <= VACUUM_MAX_BYTES:
            await conn.execute(text("VACUUM"))
            done = "vacuum+optimize"
        await conn.execute(text("PRAGMA optimize"))
        return done
