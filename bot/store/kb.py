"""The knowledge-base registry, `store.kb` (`KbStore`): documents, chunks and the generation counter readers watch.

Upkeep after deletes (`KbStore.maintain`), kept cheap: SQLite runs ``PRAGMA optimize`` and rewrites the file
(``VACUUM``) only when at least `VACUUM_FREE_SHARE` of its pages (and `VACUUM_MIN_FREE_PAGES`) are
free and it is at most `VACUUM_MAX_BYTES`; PostgreSQL runs ``ANALYZE`` on the two tables (its
autovacuum reclaims the space).
"""
from __future__ import annotations

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.records import ChunkRecord, DocumentRecord
from bot.store import mappers
from bot.store.errors import translated
from bot.store.models import ChunkRow, DocumentRow, KbStateRow
from bot.types import utcnow


async def _bump_generation(session: AsyncSession) -> int:
    state = await session.get(KbStateRow, 1, with_for_update=True)
    if state is None:
        state = KbStateRow(id=1, generation=0)
        session.add(state)
    state.generation = (state.generation or 0) + 1
    state.updated_at = utcnow()
    await session.flush()
    return state.generation


async def _upsert_document(session: AsyncSession, doc: DocumentRecord) -> None:
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


async def _replace_chunks(session: AsyncSession, doc_id: str, chunks: list[ChunkRecord]) -> None:
    await session.execute(delete(ChunkRow).where(ChunkRow.doc_id == doc_id))
    session.add_all(
        ChunkRow(id=c.id, doc_id=doc_id, position=c.position, title=c.title, section=c.section,
                 source=c.source, text=c.text, flags=list(c.flags) or None)
        for c in chunks
    )


async def _find_same_text(session: AsyncSession, text_sha256: str, other_than: str) -> DocumentRow | None:
    """An indexed document (status ok) other than `other_than` whose extracted text has this hash."""
    stmt = (select(DocumentRow).where(DocumentRow.text_sha256 == text_sha256, DocumentRow.id != other_than,
                                      DocumentRow.status == "ok").order_by(DocumentRow.source).limit(1))
    return (await session.scalars(stmt)).first()


async def _chunk_ids(session: AsyncSession, doc_id: str) -> list[str]:
    rows = await session.scalars(select(ChunkRow.id).where(ChunkRow.doc_id == doc_id).order_by(ChunkRow.position))
    return list(rows)


async def _chunks_page(session: AsyncSession, doc_id: str, offset: int, limit: int) -> tuple[list[ChunkRow], int]:
    """One page of a document's chunks in reading order, and how many it has."""
    total = await session.scalar(select(func.count(ChunkRow.id)).where(ChunkRow.doc_id == doc_id))
    rows = await session.scalars(select(ChunkRow).where(ChunkRow.doc_id == doc_id)
                                 .order_by(ChunkRow.position).offset(offset).limit(limit))
    return list(rows), int(total or 0)


async def _mark_failed(session: AsyncSession, doc: DocumentRecord) -> None:
    row = await session.get(DocumentRow, doc.id)
    if row is None:
        await _upsert_document(session, doc)
        return
    await session.execute(
        update(DocumentRow).where(DocumentRow.id == doc.id)
        .values(status="failed", error=doc.error, updated_at=utcnow())
    )


async def _set_identity_override(session: AsyncSession, doc_id: str, override: dict[str, str]) -> bool:
    row = await session.get(DocumentRow, doc_id)
    if row is None:
        return False
    row.identity_override = {k: v for k, v in override.items() if v} or None
    row.updated_at = utcnow()
    return True


VACUUM_FREE_SHARE = 0.25
VACUUM_MIN_FREE_PAGES = 256  # 1 MB of 4 KB pages: less is not worth rewriting the file
VACUUM_MAX_BYTES = 512 * 1024 * 1024  # beyond this a VACUUM holds writers too long: left to the operator


async def _maintain(engine: AsyncEngine) -> str:
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


class KbStore:
    """The knowledge-base registry (`store.kb`): each method is one short transaction; database failures
    surface as `StorageError`."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]):
        self.engine = engine
        self._session = sessions

    @translated
    async def list_documents(self) -> list[DocumentRecord]:
        async with self._session() as s:
            rows = await s.scalars(select(DocumentRow).order_by(DocumentRow.source))
            return [mappers.doc_record(r) for r in rows]

    @translated
    async def get_document(self, doc_id: str) -> DocumentRecord | None:
        async with self._session() as s:
            row = await s.get(DocumentRow, doc_id)
            return mappers.doc_record(row) if row else None

    @translated
    async def chunk_ids(self, doc_id: str) -> list[str]:
        async with self._session() as s:
            return await _chunk_ids(s, doc_id)

    @translated
    async def replace_document(self, doc: DocumentRecord, chunks: list[ChunkRecord]) -> int:
        """Replace a document and all its chunks in one transaction; returns the new generation."""
        async with self._session() as s, s.begin():
            await _upsert_document(s, doc)
            await _replace_chunks(s, doc.id, chunks)
            return await _bump_generation(s)

    @translated
    async def mark_failed(self, doc: DocumentRecord) -> None:
        async with self._session() as s, s.begin():
            await _mark_failed(s, doc)

    @translated
    async def set_identity_override(self, doc_id: str, override: dict[str, str]) -> bool:
        """Keep an operator's corrections of a document's identity (empty values drop a correction)."""
        async with self._session() as s, s.begin():
            return await _set_identity_override(s, doc_id, override)

    @translated
    async def delete_document(self, doc_id: str) -> list[str]:
        async with self._session() as s, s.begin():
            ids = await _chunk_ids(s, doc_id)
            row = await s.get(DocumentRow, doc_id)
            if row is None:
                return []
            await s.execute(delete(ChunkRow).where(ChunkRow.doc_id == doc_id))
            await s.delete(row)
            await _bump_generation(s)
            return ids

    @translated
    async def find_same_text(self, text_sha256: str, other_than: str) -> DocumentRecord | None:
        """The indexed document, other than `other_than`, whose extracted text has this hash (a duplicate's original)."""
        async with self._session() as s:
            row = await _find_same_text(s, text_sha256, other_than)
            return mappers.doc_record(row) if row else None

    @translated
    async def maintain(self) -> str:
        """Cheap upkeep after documents were deleted (see `_maintain`); what was done."""
        return await _maintain(self.engine)

    @translated
    async def all_chunks(self) -> list[ChunkRecord]:
        """Every chunk, by document and position: one Core query (each search process reads them all
        at every generation), repeated strings such as titles shared (`mappers.chunk_records`)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(ChunkRow.__table__).order_by(ChunkRow.doc_id, ChunkRow.position))
            return mappers.chunk_records(rows)

    @translated
    async def get_chunks(self, ids: list[str]) -> list[ChunkRecord]:
        if not ids:
            return []
        async with self._session() as s:
            rows = await s.scalars(select(ChunkRow).where(ChunkRow.id.in_(ids)))
            by_id = {r.id: mappers.chunk_record(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    @translated
    async def chunks_page(self, doc_id: str, offset: int = 0, limit: int = 50) -> tuple[list[ChunkRecord], int]:
        """A document's chunks in reading order, `limit` from `offset`, and how many it has (the chunk viewer)."""
        async with self._session() as s:
            rows, total = await _chunks_page(s, doc_id, offset, limit)
            return [mappers.chunk_record(r) for r in rows], total

    @translated
    async def generation(self) -> int:
        async with self._session() as s:
            return int(await s.scalar(select(KbStateRow.generation).where(KbStateRow.id == 1)) or 0)
