"""The knowledge base from the browser: documents, upload, replace, re-ingest, delete, and "try a question".

Everything goes through the running server's knowledge base (`engine.knowledge`, a `KnowledgeAdmin`), so the
assistant answers from the change at once. Uploads are streamed with a size cap; a document that
cannot be read is kept as failed with its error, shown in the list.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote
from typing import Any

from aiohttp import BodyPartReader, web

from adapters.console.context import ConsoleContext
from adapters.console.cookies import Ctx
from adapters.console.auth import Refused, done, endpoint, json_response
from adapters.console.views import chunk_json, document_json
from bot.accounts import STAFF
from bot.errors import DocumentError
from bot.ports import KnowledgeAdmin
from bot.records import DocumentRecord
from bot.types import Answer


SUFFIXES = (".docx", ".pdf", ".txt", ".text", ".md", ".markdown", ".html", ".htm")
UPLOADS = "uploads/"
BUNDLED = "bundled/"


@dataclass
class Upload:
    filename: str = ""
    data: bytes = b""
    fields: dict[str, str] = field(default_factory=dict)


def _kb(console: ConsoleContext) -> KnowledgeAdmin:
    kb = console.engine.knowledge
    if kb is None:
        raise Refused(503, "error_kb_unavailable")
    return kb


async def _parts(ctx: Ctx) -> AsyncIterator[BodyPartReader]:
    if ctx.multipart is None:
        raise Refused(400, "error_missing", "file")
    if ctx.pending_part is not None:
        yield ctx.pending_part
    while (part := await ctx.multipart.next()) is not None:
        if isinstance(part, BodyPartReader):
            yield part


async def read_upload(ctx: Ctx, cap: int) -> Upload:
    """The uploaded file (refused beyond `cap` bytes or with an unsupported type) and the text fields."""
    up = Upload()
    async for part in _parts(ctx):
        if part.filename is None:
            up.fields[str(part.name)] = (await part.text())[:1000]
            continue
        up.filename = Path(unquote(part.filename).replace("\\", "/")).name  # clients percent-encode non-ASCII
        if any(ord(ch) < 32 for ch in up.filename) or len(up.filename.encode("utf-8", "replace")) > 200:
            raise Refused(400, "error_bad_request", "the file name has control characters or is over 200 bytes")
        chunks, size = [], 0
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            if size > cap:
                raise Refused(413, "error_too_large", f"{cap // (1024 * 1024)} MB")
            chunks.append(chunk)
        up.data = b"".join(chunks)
    ctx.body.update(up.fields)
    if not up.filename or not up.data:
        raise Refused(400, "error_missing", "file")
    if Path(up.filename).suffix.lower() not in SUFFIXES:
        raise DocumentError(up.filename, "unsupported file type (docx, pdf, txt, md, html)")
    return up


@endpoint(*STAFF)
async def list_documents(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    docs = await console.data.documents.documents()
    return json_response({"documents": [document_json(d) for d in docs]})


MAX_CHUNKS = 200  # chunks one page of the chunk viewer may ask for


def _bounded(query: Any, name: str, default: int, most: int) -> int:
    """A whole number from 0 (1 for limit) to `most` from the query string; anything else is refused (400)."""
    raw, least = query.get(name, str(default)), 1 if name == "limit" else 0
    if not raw.isdigit() or not least <= int(raw) <= most:
        raise Refused(400, "error_bad_request", f"{name} must be a whole number from {least} to {most}")
    return int(raw)


async def chunks_data(console: ConsoleContext, request: web.Request) -> dict[str, Any]:
    """A document and one page of its indexed chunks in reading order (`offset`, `limit` up to 200)."""
    doc = await _document(console, request)
    offset = _bounded(request.query, "offset", 0, 10**9)
    limit = _bounded(request.query, "limit", 50, MAX_CHUNKS)
    chunks, total = await console.data.documents.chunks_page(doc.id, offset, limit)
    region = doc.effective_identity.get("region", "")
    more = offset + len(chunks) < total
    return {"document": document_json(doc), "total": total, "offset": offset, "limit": limit,
            "next_offset": offset + len(chunks) if more else None,
            "chunks": [chunk_json(c, region) for c in chunks]}


@endpoint(*STAFF)
async def list_chunks(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    return json_response(await chunks_data(console, request))


def _report_json(report: Any) -> dict[str, Any]:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "removed": report.removed, "failed": report.failed, "chunks": report.chunks,
            "failures": [{"file": Path(p).name, "reason": r} for p, r in report.failures]}


async def _ingest(console: ConsoleContext, request: web.Request, ctx: Ctx, up: Upload, action: str,
                  target: str) -> web.StreamResponse:
    try:
        report = await _kb(console).ingest_bytes(up.filename, up.data)
    except DocumentError:
        raise
    except Exception as exc:  # audited before it becomes a 500, so a crashed upload is on record
        await console.data.audit.record(ctx.account, f"{action}_crashed", target or up.filename, ctx.ip,
                                        file=up.filename, error=type(exc).__name__)
        raise
    await console.data.audit.record(ctx.account, action, target or up.filename, ctx.ip, file=up.filename,
                                    failed=report.failed)
    if report.failed:
        raise Refused(422, "error_document", "; ".join(r for _, r in report.failures))
    doc = next((d for d in await console.data.documents.documents() if d.source == UPLOADS + up.filename), None)
    data = {"report": _report_json(report), "document": document_json(doc) if doc else None}
    return done(console, request, ctx, data, key=f"done_{action}", default="/console/kb", detail=up.filename)


@endpoint(*STAFF)
async def upload(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    up = await read_upload(ctx, console.config.max_upload_bytes)
    return await _ingest(console, request, ctx, up, "kb_upload", "")


async def _document(console: ConsoleContext, request: web.Request) -> DocumentRecord:
    doc_id = request.match_info["id"]
    doc = await console.data.documents.document(doc_id) if len(doc_id) <= 64 else None
    if doc is None:
        raise Refused(404, "error_not_found")
    return doc


def _forget_upload(console: ConsoleContext, source: str) -> None:
    """Delete an uploaded file (and its sidecar) so a later ingest of the folder does not bring it back."""
    if not source.startswith(UPLOADS):
        return
    folder = _kb(console).uploads_dir
    name = Path(source[len(UPLOADS):]).name
    for path in (folder / name, folder / f"{name}.meta.toml"):
        path.unlink(missing_ok=True)


@endpoint(*STAFF)
async def replace(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """A new version of a document: same name and type keeps its identity, else the old one is removed."""
    old = await _document(console, request)
    up = await read_upload(ctx, console.config.max_upload_bytes)
    old_name = Path(old.source).name
    if old.source.startswith(UPLOADS) and Path(old_name).suffix.lower() == Path(up.filename).suffix.lower():
        up.filename = old_name
    resp = await _ingest(console, request, ctx, up, "kb_replace", f"document:{old.id}")
    if UPLOADS + up.filename != old.source:
        await _kb(console).remove_document(old.id)
        _forget_upload(console, old.source)
    return resp


@endpoint(*STAFF)
async def reingest(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """Read the document's file again (uploaded or bundled documents)."""
    doc, kb = await _document(console, request), _kb(console)
    if doc.source.startswith(UPLOADS):
        report = await kb.ingest([kb.uploads_dir / Path(doc.source).name])
    elif doc.source.startswith(BUNDLED):
        report = await kb.ingest()
    else:
        raise Refused(409, "error_no_source", doc.source)
    await console.data.audit.record(ctx.account, "kb_reingest", f"document:{doc.id}", ctx.ip, failed=report.failed)
    if report.failed:
        raise Refused(422, "error_document", "; ".join(r for _, r in report.failures))
    return done(console, request, ctx, {"report": _report_json(report)}, key="done_kb_reingest",
                default="/console/kb", detail=doc.title)


@endpoint(*STAFF)
async def delete(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    doc = await _document(console, request)
    await _kb(console).remove_document(doc.id)
    _forget_upload(console, doc.source)
    await console.data.audit.record(ctx.account, "kb_delete", f"document:{doc.id}", ctx.ip, title=doc.title)
    return done(console, request, ctx, {"ok": True}, key="done_kb_delete", default="/console/kb", detail=doc.title)


IDENTITY_FIELDS = ("title", "issuer", "region", "doc_number", "issued", "effective", "expires")


@endpoint(*STAFF)
async def identity(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """Correct what ingest read about a document (an empty field goes back to what was read)."""
    doc = await _document(console, request)
    fields = {k: str(ctx.body.get(k) or "") for k in IDENTITY_FIELDS if k in ctx.body}
    try:
        updated = await _kb(console).update_identity(doc.id, {**doc.identity_override, **fields})
    except ValueError as exc:
        raise Refused(400, "error_identity", str(exc)) from exc
    if updated is None:
        raise Refused(404, "error_not_found")
    await console.data.audit.record(ctx.account, "kb_identity", f"document:{doc.id}", ctx.ip,
                                    old=doc.identity_override, new=updated.identity_override)
    return done(console, request, ctx, {"document": document_json(updated)}, key="done_kb_identity",
                default="/console/kb", detail=updated.title)


def answer_json(a: Answer) -> dict[str, Any]:
    return {"text": a.text, "mode": a.mode.value, "no_answer": a.no_answer, "rewritten_query": a.rewritten_query,
            "notice": a.notice, "timings": a.timings,
            "citations": [c.as_dict() for c in a.citations],
            "passages": [{"title": p.title, "region": p.region, "section": p.section, "score": round(p.score, 4),
                          "dense": p.dense_score,
                          "lexical": p.lexical_score, "text": p.text} for p in a.passages]}


async def try_answer(console: ConsoleContext, question: str) -> dict[str, Any]:
    """What the assistant would answer, and from which passages (nothing is stored)."""
    return answer_json(await console.engine.answerer.answer(question[:2000]))


@endpoint(*STAFF)
async def try_question(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    question = str(ctx.body.get("question") or "").strip()
    if not question:
        raise Refused(400, "error_missing", "question")
    return json_response(await try_answer(console, question))
