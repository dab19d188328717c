"""Document limits (issue 12, finding 5): a DOCX zip bomb is refused from its directory, before anything
is inflated; so are too many parts, PDFs over the page limit and documents over the text limit."""
from __future__ import annotations

import io
import zipfile

import pytest

from bot.errors import DocumentError
from knowledge import loaders


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_docx_zip_bomb_is_refused_with_a_clear_error_without_inflating_it():
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (loaders.MAX_UNZIPPED_BYTES + 1)})
    assert len(bomb) < loaders.MAX_UNZIPPED_BYTES // 500  # a small upload (about 65 KB) that would inflate to 64 MB
    with pytest.raises(DocumentError, match="refused: expands to 64 MB"):
        loaders.parse_document("bomb.docx", bomb)


def test_a_docx_with_too_many_parts_is_refused():
    many = _zip({f"word/media/{n}.xml": b"x" for n in range(loaders.MAX_ZIP_ENTRIES + 1)})
    with pytest.raises(DocumentError, match="too many parts"):
        loaders.parse_document("many.docx", many)


def test_a_pdf_over_the_page_limit_is_refused(monkeypatch):
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for n in range(3):
        pdf.drawString(72, 720, f"page {n}")
        pdf.showPage()
    pdf.save()
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 2)
    with pytest.raises(DocumentError, match="too many pages"):
        loaders.parse_document("long.pdf", buf.getvalue())


def test_a_text_over_the_character_limit_is_refused(monkeypatch):
    monkeypatch.setattr(loaders, "MAX_TEXT_CHARS", 1000)
    with pytest.raises(DocumentError, match="characters of text"):
        loaders.parse_document("long.txt", ("青岛" * 600).encode())
