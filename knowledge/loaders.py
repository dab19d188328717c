"""Loaders: a file (or uploaded bytes) -> cleaned text and a title.

Supported: .txt/.text, .md/.markdown (UTF-8 with or without BOM, UTF-16 with BOM, else
GB18030, the superset of GBK and GB2312), .docx (paragraphs and tables, in order), .pdf (text
layer) and .html/.htm (script, style and navigation dropped; h1-h6 become Markdown headings so
they set the section path). Anything unreadable raises `DocumentError` naming the file.

Limits, checked before a parser does the expensive work (a zip bomb is refused from its directory,
in milliseconds): a DOCX at most `MAX_ZIP_ENTRIES` entries and `MAX_UNZIPPED_BYTES` uncompressed
(the sizes the zip declares bound what zipfile will inflate); a PDF at most `MAX_PDF_PAGES` pages;
any document at most `MAX_TEXT_CHARS` characters of text.

Every format is parsed in a worker process (`knowledge.parse_worker`) within a time limit
(`MAX_PARSE_SECONDS`, or the caller's `timeout`; ingest passes `KB_PARSE_TIMEOUT_SECONDS`): a PDF
stream bomb or a pathological DOCX/HTML ends as "took longer than N s to parse", and the server
(its event loop, its memory) never runs the parser itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.errors import DocumentError
from knowledge import parse_worker
from knowledge.parsers import (  # noqa: F401  (re-exported: the formats, the limits, the text decoder)
    _LOADERS, MAX_PARSE_SECONDS, MAX_PDF_PAGES, MAX_TEXT_CHARS, MAX_UNZIPPED_BYTES, MAX_ZIP_ENTRIES,
    SUPPORTED_SUFFIXES, TEXT_SUFFIXES, LimitError, decode_text, first_heading, first_short_line,
)


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """The cleaned text of a document and its title."""

    title: str
    text: str
    title_hint: str | None = None  # the title the file's metadata states (DOCX/PDF/HTML), if any


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def parse_document(name: str, data: bytes, *, timeout: float | None = None) -> LoadedDocument:
    """Parse the bytes of a file called `name` in a worker process, within `timeout` seconds
    (default `MAX_PARSE_SECONDS`); raises DocumentError naming it on any failure."""
    suffix = Path(name).suffix.lower()
    if suffix not in _LOADERS:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise DocumentError(name, f"unsupported file type (supported: {supported})")
    limit = timeout if timeout is not None else MAX_PARSE_SECONDS
    try:
        outcome, *found = parse_worker.run((suffix, data, _limits()), limit)
    except parse_worker.ParseTimeout as exc:
        raise DocumentError(name, f"refused: took longer than {limit:g} s to parse") from exc
    except parse_worker.ParseCrashed as exc:
        raise DocumentError(name, f"cannot be read: {exc}") from exc
    if outcome == "limit":
        raise DocumentError(name, f"refused: {found[0]}")
    if outcome == "error":
        raise DocumentError(name, f"cannot be read: {found[0]}")
    title, text = found
    if not text.strip():
        raise DocumentError(name, "contains no extractable text (a scanned PDF needs OCR first)")
    hint = (title or "").strip() or None
    title = hint or first_short_line(text) or Path(name).stem
    return LoadedDocument(title=title, text=text, title_hint=hint)


def _limits() -> tuple[int, int, int, int]:
    return MAX_ZIP_ENTRIES, MAX_UNZIPPED_BYTES, MAX_PDF_PAGES, MAX_TEXT_CHARS


def load_document(path: Path) -> LoadedDocument:
    """Read and parse one file; raises DocumentError naming it when it is missing or broken."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(str(path), f"cannot be opened: {exc.strerror or exc}") from exc
    return parse_document(str(path), data)
