"""Parsing in a worker process with a time limit (issue 12, finding 5): a PDF stream bomb ends as a clear
"took longer than N s to parse" error, the worker is replaced, and nothing of the document is stored."""
from __future__ import annotations

import io
import os
import zlib

import pytest

from bot.errors import DocumentError
from knowledge import KnowledgeBase, parse_worker
from knowledge.loaders import parse_document
from tests.knowledge.conftest import make_settings

# About 34 MB of text operators (under pypdf's 75 MB decompression cap) in a ~100 KB file: pypdf
# needs about a minute of CPU for it, far beyond the one-second limit the tests set.
BOMB_OPERATIONS = 1_000_000


def pdf_stream_bomb(operations: int = BOMB_OPERATIONS) -> bytes:
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (x) Tj ET\n" * operations, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_a_pdf_stream_bomb_is_refused_as_too_slow_to_parse_and_the_next_document_parses():
    with pytest.raises(DocumentError, match=r"refused: took longer than 1 s to parse"):
        parse_document("bomb.pdf", pdf_stream_bomb(), timeout=1)
    assert "概念验证平台" in parse_document("ok.txt", "建设概念验证平台。".encode(), timeout=30).text


def test_the_parser_runs_in_another_process(monkeypatch):
    """The parse libraries never run in the server process: a parser that kills its process
    cannot take the server with it."""
    seen = []
    original = parse_worker._Worker.run

    def run(self, job, timeout):
        seen.append(self.process.pid)
        return original(self, job, timeout)

    monkeypatch.setattr(parse_worker._Worker, "run", run)
    parse_document("a.html", b"<html><body><p>\xe9\x9d\x92\xe5\xb2\x9b</p></body></html>", timeout=30)
    assert seen and seen[0] != os.getpid()


async def test_an_upload_over_the_parse_limit_is_refused_and_nothing_of_it_is_stored(tmp_path, kb_store,
                                                                                      hash_embedder):
    settings = make_settings(tmp_path / "data", kb_parse_timeout_seconds=1)
    settings.ensure_data_dir()
    kb = KnowledgeBase(settings, kb_store, hash_embedder)
    try:
        report = await kb.ingest_bytes("bomb.pdf", pdf_stream_bomb())
        assert report.failed == 1 and "took longer than 1 s to parse" in report.failures[0][1]
        assert not (settings.data_dir / "uploads" / "bomb.pdf").exists()
        assert await kb_store.kb.all_chunks() == []
        assert [d.status for d in await kb_store.kb.list_documents()] == ["failed"]
    finally:
        await kb.close()
