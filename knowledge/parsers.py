"""The parsers themselves, run in the parse worker (`knowledge.parse_worker`): bytes of one format -> a title
hint and cleaned text, within the limits the caller passes. `knowledge.loaders` is the way in."""
from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from typing import Any

from knowledge.cleaning import clean_text, unwrap_lines
from knowledge.structure import match_heading

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | {".docx", ".pdf", ".html", ".htm"}
_TITLE_MAX = 40
MAX_ZIP_ENTRIES = 2000
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
MAX_PDF_PAGES = 2000
MAX_TEXT_CHARS = 2_000_000
MAX_PARSE_SECONDS = 60.0
_DROP_TAGS = ("script", "style", "nav", "noscript", "template", "iframe", "svg")
_BLOCK_TAGS = ("p", "div", "li", "tr", "table", "section", "article", "blockquote", "pre",
               "ul", "ol", "dl", "dt", "dd", "header", "footer", "main", "aside", "form")


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), UTF-16 with BOM, else GB18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise UnicodeDecodeError("utf-8", data[:1], 0, 1, "binary content (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def first_short_line(text: str) -> str | None:
    """The first non-empty line short enough to be a title and not ending like a sentence."""
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            fits = len(line) <= _TITLE_MAX and not line.endswith(("。", "；", "，", ".", ";"))
            return line if fits else None
    return None


def first_heading(text: str) -> str | None:
    """The label of the first Markdown heading of level 1 or 2, if any."""
    for line in text.split("\n"):
        heading = match_heading(line.strip())
        if heading and heading.rank <= 2:
            return heading.label
    return None


def _load_text(data: bytes) -> tuple[str | None, str]:
    text = clean_text(decode_text(data))
    return first_heading(text), text


def _load_docx(data: bytes) -> tuple[str | None, str]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _check_zip(data)
    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for block in document.element.body.iterchildren():
        if block.tag.endswith("}p"):
            lines.append(Paragraph(block, document).text)
        elif block.tag.endswith("}tbl"):
            lines.extend(_table_rows(Table(block, document)))
    return (document.core_properties.title or None), clean_text("\n".join(lines))


class LimitError(ValueError):
    """A document over one of the limits: refused before (or instead of) parsing it."""


def _check_zip(data: bytes) -> None:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise LimitError(f"too many parts ({len(entries)} > {MAX_ZIP_ENTRIES})")
        unzipped = sum(e.file_size for e in entries)
        if unzipped > MAX_UNZIPPED_BYTES:
            raise LimitError(f"expands to {unzipped // (1024 * 1024)} MB (limit {MAX_UNZIPPED_BYTES // (1024 * 1024)} MB)")


def _table_rows(table: Any) -> list[str]:  # a python-docx Table
    """One line per table row, cells separated by ' | ' (merged cells counted once)."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


def _load_pdf(data: bytes) -> tuple[str | None, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise ValueError("the PDF is encrypted")
    if len(reader.pages) > MAX_PDF_PAGES:
        raise LimitError(f"too many pages ({len(reader.pages)} > {MAX_PDF_PAGES})")
    pages = [page.extract_text() or "" for page in reader.pages]
    meta_title = (reader.metadata.title if reader.metadata else None) or None
    return meta_title, unwrap_lines(clean_text("\n".join(pages)))


def _load_html(data: bytes) -> tuple[str | None, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(_DROP_TAGS + ("title", "head")):
        tag.decompose()
    for br in soup("br"):
        br.replace_with("\n")
    for level in range(1, 7):
        for h in soup(f"h{level}"):
            h.replace_with(f"\n{'#' * level} {h.get_text(' ', strip=True)}\n")
    for cell in soup(["td", "th"]):
        cell.insert_after(" | ")
    for block in soup(_BLOCK_TAGS):
        block.insert_after("\n")
    text = clean_text(soup.get_text())
    return title or first_heading(text), text


_LOADERS: dict[str, Callable[[bytes], tuple[str | None, str]]] = {
    **{suffix: _load_text for suffix in TEXT_SUFFIXES},
    ".docx": _load_docx,
    ".pdf": _load_pdf,
    ".html": _load_html,
    ".htm": _load_html,
}


def parse_in_worker(suffix: str, data: bytes, limits: tuple[int, int, int, int]) -> tuple[str, ...]:
    """Run in the parse worker: ("ok", title, text), ("limit", why) or ("error", why)."""
    global MAX_ZIP_ENTRIES, MAX_UNZIPPED_BYTES, MAX_PDF_PAGES, MAX_TEXT_CHARS
    MAX_ZIP_ENTRIES, MAX_UNZIPPED_BYTES, MAX_PDF_PAGES, MAX_TEXT_CHARS = limits  # the caller's, as set there
    try:
        title, text = _LOADERS[suffix](data)
    except LimitError as exc:
        return "limit", str(exc)
    except Exception as exc:  # each parser library has its own error types
        return "error", f"{type(exc).__name__}: {exc}"
    if len(text) > MAX_TEXT_CHARS:
        return "limit", f"over {MAX_TEXT_CHARS:,} characters of text"
    return "ok", title or "", text


def preload_parsers() -> None:
    """Import the parser libraries (in a new worker, before its first time-limited parse)."""
    import bs4  # noqa: F401
    import docx  # noqa: F401
    import pypdf  # noqa: F401
