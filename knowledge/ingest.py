"""The ingest pipeline: files -> registry (SQL) + dense vectors (Chroma).

Each document is identified by its *source*, ``<root label>/<path below the root>`` (the root
label is the folder's name; ``bundled`` for the documents shipped in `knowledge/data`,
``uploads`` for uploaded files), and ``doc_id = sha256(source)[:16]``: the same file path always
maps to the same document. A file whose content hash is unchanged is skipped unread.

Duplicates: a file whose extracted text (whitespace aside) is the same as an indexed document's is
not indexed again, so the same text is never cited twice. In a folder ingest it is recorded with
status ``duplicate`` naming the other document (the first by source order is kept) and listed in
``IngestReport.duplicates``; an upload (``uploads/``) is refused instead and nothing of it is kept
(``KnowledgeBase.ingest_bytes``). Screening (``knowledge.screening``) flags instruction-like
sentences and links to hosts not allowed, per chunk, for review.

Write order, so that a crash never leaves the registry pointing at missing vectors:
embed (cached) -> upsert vectors -> replace the document and its chunks in SQL (one
transaction) -> delete the stale vectors. Readers trust only chunk ids present in SQL.

A document whose chunks cannot be embedded or stored (endpoint or Chroma failing) is reported
and recorded as failed, and any earlier version of it keeps being served; after `OUTAGE_AFTER`
such documents in a row the rest is not attempted. Running the same ingest again resumes: the
embedding cache keeps every batch that was embedded and Chroma keeps the vectors by chunk id.
"""
from __future__ import annotations

import asyncio
import hashlib
import sys
import time
import tomllib
from collections.abc import Iterable
from typing import cast
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.errors import DocumentError, EmbeddingError, IndexUnavailableError
from bot.ports import Embedder
from bot.settings import Settings
from bot.store import Store
from bot.records import ChunkRecord, DocumentRecord
from bot.types import utcnow
from knowledge.chunking import chunk_document, rechunk_with_title, record_index_text
from knowledge.identity import DocumentIdentity, extract, header
from knowledge import screening
from knowledge.loaders import is_supported, parse_document
from knowledge.vectorstore import VectorStore

# Bumped whenever what is indexed for a document changes (v2: title and region in every chunk's
# indexed text; v3: an article holds its （一） items; v4: the text hash for duplicates and the
# screening flags): an unchanged file is then parsed and indexed again once.
INDEX_VERSION = "4"
BUNDLED_LABEL = "bundled"
UPLOADS_LABEL = "uploads"
INDEX_FAILURES = (EmbeddingError, IndexUnavailableError)
OUTAGE_AFTER = 3  # documents in a row failing to index before the rest of an ingest is skipped


def bundled_documents_dir() -> Path:
    """The folder of documents shipped with the package (ingested on first start)."""
    return Path(__file__).resolve().parent / "data"


def doc_id_for(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


@dataclass
class IngestReport:
    """What one ingest did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0  # chunks that got a vector in this run (the cache serves text seen before)
    seconds: float = 0.0
    identities: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # parsed: source, identity
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # path, reason (names the document kept)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def fail(self, path: str, reason: str) -> None:
        self.failed += 1
        self.failures.append((path, reason))

    def summary(self) -> str:
        return (f"documents: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed, {self.failed} failed"
                f"{f', {len(self.duplicates)} duplicates' if self.duplicates else ''}; {self.chunks} chunks "
                f"({self.embedded} embedded) in {self.seconds:.1f} s")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file to ingest, with its stable source name and document id."""

    path: Path
    source: str

    @property
    def doc_id(self) -> str:
        return doc_id_for(self.source)


def root_label(folder: Path, uploads_dir: Path | None = None) -> str:
    folder = folder.resolve()
    if folder == bundled_documents_dir():
        return BUNDLED_LABEL
    if uploads_dir is not None and folder == uploads_dir.resolve():
        return UPLOADS_LABEL
    return folder.name or "root"


def _visible(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not any(p.startswith((".", "~$")) for p in parts)


def discover(path: Path, uploads_dir: Path | None = None) -> list[SourceFile]:
    """The supported files at `path` (a file, or a folder searched recursively), sorted."""
    if path.is_file():
        return [SourceFile(path, f"{root_label(path.parent, uploads_dir)}/{path.name}")]
    label = root_label(path, uploads_dir)
    files = sorted(p for p in path.rglob("*") if p.is_file() and is_supported(p) and _visible(p, path))
    return [SourceFile(p, f"{label}/{p.relative_to(path).as_posix()}") for p in files]


class _Outage:
    """Documents in a row that failed to index, and the last reason."""

    def __init__(self) -> None:
        self.count, self.reason = 0, ""

    @property
    def tripped(self) -> bool:
        return self.count >= OUTAGE_AFTER

    def skip_reason(self) -> str:
        return (f"not attempted: the {OUTAGE_AFTER} documents before it failed to index ({self.reason}); "
                "run the ingest again to resume")


class Ingestor:
    """Brings documents into the registry and the dense index."""

    on_document = None  # knowledge.policy_ingest.PolicyIngest (issue 16), called after a document is written

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, vectors: VectorStore):
        self.settings, self.store, self.embedder, self.vectors = settings, store, embedder, vectors

    @property
    def uploads_dir(self) -> Path:
        return self.settings.data_dir / "uploads"

    async def run(self, paths: Iterable[Path], prune: bool, progress: bool) -> IngestReport:
        """Ingest every supported file under `paths`; with `prune`, drop documents whose file is gone."""
        started, report = time.perf_counter(), IngestReport()
        files, roots = await asyncio.to_thread(self._collect, list(paths), report)
        outage = _Outage()
        for f in _progress(files, progress):
            if outage.tripped:
                report.fail(str(f.path), outage.skip_reason())
                continue
            try:
                await self.ingest_file(f, report)
                outage.count = 0
            except INDEX_FAILURES as exc:
                outage.count, outage.reason = outage.count + 1, str(exc)
                report.fail(str(f.path), f"not indexed: {exc}")
        if prune:
            await self._prune(roots, {f.doc_id for f in files}, report)
        report.seconds = time.perf_counter() - started
        return report

    def _collect(self, paths: list[Path], report: IngestReport) -> tuple[list[SourceFile], list[str]]:
        files: list[SourceFile] = []
        roots: list[str] = []
        for path in paths:
            if not path.exists():
                report.fail(str(path), "not found")
                continue
            files.extend(discover(path, self.uploads_dir))
            if path.is_dir():
                roots.append(root_label(path, self.uploads_dir) + "/")
        return files, roots

    async def ingest_file(self, f: SourceFile, report: IngestReport) -> None:
        """Add, update or skip one file; a broken file is recorded as failed and reported.

        Raises EmbeddingError or IndexUnavailableError when the chunks cannot be indexed (the
        document is then recorded as failed, and an earlier version of it stays as it was).
        """
        try:
            data = await asyncio.to_thread(f.path.read_bytes)
        except OSError as exc:
            report.fail(str(f.path), f"cannot be opened: {exc.strerror or exc}")
            return
        try:
            meta = await asyncio.to_thread(_sidecar, f.path)
        except DocumentError as exc:
            report.fail(str(f.path), exc.reason)
            return
        sha = hashlib.sha256(data + repr(sorted(meta.items())).encode() + INDEX_VERSION.encode()).hexdigest()
        existing = await self.store.kb.get_document(f.doc_id)
        if existing and existing.sha256 == sha and existing.status == "ok":
            report.unchanged += 1
            report.embedded += await self._restore_vectors(f.doc_id)
            return
        override = existing.identity_override if existing else {}
        try:
            doc, chunks = await asyncio.to_thread(self._parse, f, data, sha, meta, override)
        except DocumentError as exc:
            await self._mark_failed(f, data, sha, exc.reason)
            report.fail(str(f.path), exc.reason)
            return
        original = await self.store.kb.find_same_text(doc.text_sha256 or "", f.doc_id)
        if original is not None:
            await self._duplicate(f, doc, original, report)
            return
        report.identities.append((f.source, doc.effective_identity))
        try:
            await self._write(doc, chunks, report)
        except INDEX_FAILURES as exc:
            await self._mark_failed(f, data, sha, f"not indexed: {exc}")
            raise
        if self.on_document is not None:
            await self.on_document(doc, chunks, existing is not None and existing.status == "ok")

    def _parse(self, f: SourceFile, data: bytes, sha: str, meta: dict[str, str],
               override: dict[str, str]) -> tuple[DocumentRecord, list[ChunkRecord]]:
        loaded = parse_document(str(f.path), data, timeout=self.settings.kb_parse_timeout_seconds)
        found = extract(loaded.text, loaded.title_hint, f.path.stem)
        sidecar = {k: v for k, v in meta.items() if k in DocumentIdentity.__dataclass_fields__}
        identity = found.merged(sidecar).merged(override)
        cited_source = meta.get("url") or f.source
        chunks = chunk_document(f.doc_id, header(identity), cited_source, loaded.text, self.settings.chunk_max_chars)
        if not chunks:
            raise DocumentError(str(f.path), "contains no text to index")
        chunks, review = screening.screen(chunks, screening.allowed_hosts(self.settings))
        doc = DocumentRecord(id=f.doc_id, title=identity.title, source=f.source, sha256=sha,
                             chunk_count=len(chunks), status="ok", size_bytes=len(data),
                             identity=found.merged(sidecar).as_dict(), identity_override=dict(override),
                             text_sha256=text_hash(loaded.text), review=review)
        return doc, chunks

    async def _duplicate(self, f: SourceFile, doc: DocumentRecord, original: DocumentRecord,
                         report: IngestReport) -> None:
        """Same text as `original`: reported; in a folder ingest recorded as a duplicate (its earlier
        chunks, if any, removed); an upload is left to `ingest_bytes` to refuse."""
        reason = f"duplicate: same text as 《{original.title}》 ({original.source}), not indexed again"
        report.duplicates.append((str(f.path), reason))
        if f.source.startswith(UPLOADS_LABEL + "/"):
            return
        old_ids = await self.store.kb.chunk_ids(f.doc_id)
        await self.store.kb.replace_document(replace(doc, status="duplicate", error=reason, chunk_count=0,
                                                     review=[]), [])
        if old_ids:
            await asyncio.to_thread(self.vectors.delete, old_ids)
            report.removed += 1

    async def reindex_document(self, doc: DocumentRecord) -> None:
        """Index a document's chunks again under its current identity (after an operator's
        correction): same texts, new title line, so new chunk ids and vectors."""
        identity = DocumentIdentity.from_dict(doc.effective_identity)
        old = await self.store.kb.get_chunks(await self.store.kb.chunk_ids(doc.id))
        chunks = rechunk_with_title(doc.id, header(identity), old)
        await self._write(replace(doc, title=identity.title or doc.title, chunk_count=len(chunks)), chunks,
                          IngestReport())

    async def _mark_failed(self, f: SourceFile, data: bytes, sha: str, reason: str) -> None:
        await self.store.kb.mark_failed(DocumentRecord(
            id=f.doc_id, title=f.path.stem, source=f.source, sha256=sha, chunk_count=0,
            status="failed", error=reason, size_bytes=len(data), ingested_at=utcnow()))

    async def _write(self, doc: DocumentRecord, chunks: list[ChunkRecord], report: IngestReport) -> None:
        old_ids = await self.store.kb.chunk_ids(doc.id)
        report.embedded += await asyncio.to_thread(self._upsert_vectors, chunks)
        await self.store.kb.replace_document(doc, chunks)
        stale = sorted(set(old_ids) - {c.id for c in chunks})
        if stale:
            await asyncio.to_thread(self.vectors.delete, stale)
        report.chunks += len(chunks)
        if old_ids:
            report.updated += 1
        else:
            report.added += 1

    async def _restore_vectors(self, doc_id: str) -> int:
        """Re-embed registry chunks whose vectors are missing (e.g. a new, empty collection)."""
        ids = await self.store.kb.chunk_ids(doc_id)
        present = await asyncio.to_thread(self.vectors.existing, ids)
        missing = [cid for cid in ids if cid not in present]
        if not missing:
            return 0
        return await asyncio.to_thread(self._upsert_vectors, await self.store.kb.get_chunks(missing))

    def _upsert_vectors(self, chunks: list[ChunkRecord]) -> int:
        """Embed and upsert the chunks that have no vector yet; returns how many."""
        present = self.vectors.existing([c.id for c in chunks])
        todo = [c for c in chunks if c.id not in present]
        if todo:
            vectors = self.embedder.embed_passages([record_index_text(c) for c in todo])
            self.vectors.upsert([c.id for c in todo], vectors)
        return len(todo)

    async def remove(self, doc_id: str) -> bool:
        """Remove a document from the registry, then its vectors; False if it was unknown."""
        known = await self.store.kb.get_document(doc_id) is not None
        ids = await self.store.kb.delete_document(doc_id)
        if ids:
            await asyncio.to_thread(self.vectors.delete, ids)
        return known

    async def _prune(self, roots: list[str], seen: set[str], report: IngestReport) -> None:
        for doc in await self.store.kb.list_documents():
            if doc.id not in seen and doc.source.startswith(tuple(roots)):
                report.removed += await self.remove(doc.id)


def text_hash(text: str) -> str:
    """The hash duplicates are found by: the extracted text, whitespace aside."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def _sidecar(path: Path) -> dict[str, str]:
    """Optional `<file>.meta.toml` beside a document: `url` to cite, and any identity field
    (`title`, `issuer`, `region`, `doc_number`, `issued`, `effective`, `expires`) that the text
    does not state or states wrongly."""
    meta = path.with_name(path.name + ".meta.toml")
    if not meta.is_file():
        return {}
    try:
        data = tomllib.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DocumentError(str(meta), f"unreadable metadata: {exc}") from exc
    keys = ("url", *DocumentIdentity.__dataclass_fields__)
    return {k: str(v).strip() for k, v in data.items() if k in keys and str(v).strip()}


def _progress(files: list[SourceFile], enabled: bool) -> Iterable[SourceFile]:
    if not enabled:
        return files
    from tqdm import tqdm

    return cast("Iterable[SourceFile]", tqdm(files, desc="ingest", unit="doc", file=sys.stderr, dynamic_ncols=True))
