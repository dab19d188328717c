"""`KnowledgeBase`: the one object the rest of the assistant uses (search, ingest, remove).

It wires the embedder (wrapped in the persistent cache), the Chroma collection, the BM25 index
and the SQL registry, and runs every blocking step in a worker thread.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from bot.errors import DocumentError, StorageError
from bot.ports import Embedder
from bot.settings import Settings
from bot.store import Store
from bot.records import DocumentRecord
from bot.types import Passage
from knowledge.embeddings import cached, make_embedder
from knowledge.identity import validate_identity
from knowledge.ingest import IngestReport, Ingestor, bundled_documents_dir
from knowledge.loaders import is_supported
from knowledge.retriever import HybridRetriever
from knowledge.vectorstore import VectorStore

log = structlog.get_logger("qdbot.kb")


class KnowledgeBase:
    """Documents -> chunks -> Chroma + BM25, searched by the hybrid retriever."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = store
        self.embedder = cached(embedder or make_embedder(settings), settings)
        self.vectors = VectorStore(settings, self.embedder)
        self.retriever = HybridRetriever(
            store, self.embedder, self.vectors, settings.data_dir / "bm25",
            candidates=settings.retrieval_candidates, top_k=settings.retrieval_top_k)
        self.ingestor = Ingestor(settings, store, self.embedder, self.vectors)
        self._write_lock = asyncio.Lock()

    # -- reading ---------------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        """True while the dense side is down and searches answer from BM25 alone."""
        return self.retriever.health.degraded

    @property
    def degraded_reason(self) -> str | None:
        """Why the dense side is down (the last error), or None."""
        return self.retriever.health.reason

    async def search(self, query: str, k: int | None = None) -> list[Passage]:
        """Hybrid search (dense + BM25, RRF); BM25 alone while `degraded`. See `knowledge.retriever`."""
        return await self.retriever.search(query, k)

    async def search_dense(self, query: str, k: int | None = None) -> list[Passage]:
        return await self.retriever.search_dense(query, k)

    async def search_lexical(self, query: str, k: int | None = None) -> list[Passage]:
        return await self.retriever.search_lexical(query, k)

    def expand_query(self, query: str) -> str:
        """The query as the lexical side searches it (English glossary terms in Chinese)."""
        from knowledge.retriever import prepare_query

        return prepare_query(query)

    def rarity(self, word: str) -> float:
        """How rare a word is in the knowledge base, 0..1 (for weighting the relevance gate)."""
        return self.retriever.lexical.rarity(word)

    def mentions(self, word: str) -> bool:
        """Does any chunk of the knowledge base mention `word`? (for the relevance gate)"""
        return self.retriever.lexical.mentions(word)

    # -- writing ---------------------------------------------------------------------------
    @property
    def uploads_dir(self) -> Path:
        """Where documents uploaded through the console are kept."""
        return Path(self.ingestor.uploads_dir)

    async def ingest(self, paths: list[Path] | None = None, prune: bool = False,
                     progress: bool = False) -> IngestReport:
        """Ingest files or folders (default: the bundled documents) and refresh the indexes."""
        async with self._write_lock:
            report = await self.ingestor.run(paths or [bundled_documents_dir()], prune, progress)
            if report.changed:
                await self._reindex()
            if report.removed:
                await self._maintain()
        return report

    async def ingest_if_empty(self) -> IngestReport | None:
        """Ingest the bundled documents when the registry holds no document yet."""
        if await self.store.kb.list_documents():
            return None
        return await self.ingest()

    async def ingest_bytes(self, filename: str, data: bytes) -> IngestReport:
        """Keep an uploaded file under data_dir/uploads and ingest it; a file that fails (or crashes the
        ingest) is not left behind: a new one is deleted, a replaced one gets its earlier bytes back.
        A file whose text is already in the knowledge base under another document is refused the same
        way: DocumentError naming that document."""
        name = Path(filename).name
        if not name or not is_supported(Path(name)):
            raise DocumentError(filename or "(no name)", "unsupported file type")
        if any(ord(ch) < 32 for ch in name) or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise DocumentError(name[:80], f"the file name has control characters or is over {MAX_NAME_BYTES} bytes")
        path = self.ingestor.uploads_dir / name
        earlier = await asyncio.to_thread(_read_if_exists, path)
        await asyncio.to_thread(_write_file, path, data)
        try:
            report = await self.ingest([path])
        except BaseException:
            await asyncio.to_thread(_restore, path, earlier)
            raise
        if report.duplicates:
            await asyncio.to_thread(_restore, path, earlier)
            raise DocumentError(name, report.duplicates[0][1])
        if report.failed and not (report.added or report.updated or report.unchanged):
            await asyncio.to_thread(_restore, path, earlier)
        return report

    async def update_identity(self, doc_id: str, corrections: dict[str, str]) -> DocumentRecord | None:
        """Keep an operator's corrections of a document's identity (title, issuer, region, 文号, dates;
        an empty value drops a correction) and index the document again under it: the title line
        with its region is part of every chunk's indexed text. None when the document is unknown.
        Raises ValueError for a region the gazetteer does not know or a date not in YYYY-MM-DD."""
        clean = validate_identity(corrections)
        async with self._write_lock:
            if not await self.store.kb.set_identity_override(doc_id, clean):
                return None
            doc = await self.store.kb.get_document(doc_id)
            if doc is not None and doc.status == "ok":
                await self.ingestor.reindex_document(doc)
                await self._reindex()
            return await self.store.kb.get_document(doc_id)

    async def remove_document(self, doc_id: str) -> bool:
        """Remove a document and its chunks from every index; False if it was unknown."""
        async with self._write_lock:
            removed = await self.ingestor.remove(doc_id)
            if removed:
                await self._reindex()
                await self._maintain()
        return removed

    async def _maintain(self) -> None:
        """Database upkeep after deletes (`Store.kb.maintain`); a failure only logs."""
        try:
            await self.store.kb.maintain()
        except StorageError as exc:
            log.warning("kb_maintenance_failed", error=str(exc))

    async def _reindex(self) -> None:
        await self.retriever.rebuild(await self.store.kb.generation())

    async def close(self) -> None:
        """Release the embedding cache (the store belongs to the caller)."""
        await asyncio.to_thread(self.embedder.cache.close)


MAX_NAME_BYTES = 200


def _read_if_exists(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _restore(path: Path, earlier: bytes | None) -> None:
    if earlier is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(earlier)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
