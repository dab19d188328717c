"""Pages: the knowledge base (documents, upload, replace, re-ingest, delete, the "try a question" box) and the
chunk viewer of one document (its indexed chunks in reading order, a page at a time)."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.api_kb import IDENTITY_FIELDS, chunks_data, try_answer
from adapters.console.cookies import Ctx
from adapters.console.auth import Refused, endpoint
from adapters.console.html import badge, e, field, form, page, table, when
from adapters.console.i18n import t
from adapters.console.pages_calendar import kb_states, status_cell
from adapters.console.kb_review import review_html
from bot.accounts import STAFF
from bot.status import PolicyState


ACCEPT = ".docx,.pdf,.txt,.md,.markdown,.html,.htm"


def _file_input(required: bool = True) -> str:
    return f'<input type="file" name="file" accept="{ACCEPT}"{" required" if required else ""}>'


def _doc_row(console: ConsoleContext, ctx: Ctx, d: Any, policy: tuple[dict[str, PolicyState], dict[str, dict[str, str]]] = ({}, {})) -> list[str]:
    lang = ctx.lang
    status = badge(t(lang, "doc_ok"), "ok") if d.status == "ok" else badge(t(lang, "doc_failed"), "error")
    error = f'<div class="error-text">{e(d.error)}</div>' if d.error else ""
    replace = form(ctx, f"/api/admin/documents/{d.id}/replace", _file_input() + f'<button>{e(t(lang, "replace"))}</button>',
                   next_="/console/kb", multipart=True, cls="row-form")
    reingest = form(ctx, f"/api/admin/documents/{d.id}/reingest", f'<button>{e(t(lang, "reingest"))}</button>',
                    next_="/console/kb", cls="inline")
    delete = form(ctx, f"/api/admin/documents/{d.id}/delete", f'<button class="danger">{e(t(lang, "delete"))}</button>',
                  next_="/console/kb", cls="inline", confirm=t(lang, "confirm_delete", title=d.title))
    chunks = f'<a href="{_viewer(d.id)}">{e(t(lang, "view_chunks", n=d.chunk_count))}</a>'
    return [f'<a href="{_viewer(d.id)}">{e(d.title)}</a>' + _identity(ctx, d), chunks, f'<code>{e(d.source)}</code>',
            e(when(d.ingested_at, console.tz)), status + error + review_html(lang, d),
            status_cell(ctx, d.id, policy[0].get(d.id), policy[1].get(d.id, {})), replace + reingest + delete]


def _viewer(doc_id: str) -> str:
    return e(f"/console/kb/{quote(doc_id, safe='')}")


def _identity(ctx: Ctx, d: Any) -> str:
    """The document's identity under its title (region, issuer, 文号, dates) and a form to correct it."""
    lang, ident, fixed = ctx.lang, d.effective_identity, d.identity_override
    facts = " · ".join(e(ident[k]) for k in ("region", "issuer", "doc_number") if ident.get(k))
    dates = " · ".join(f'{e(t(lang, "id_" + k))} {e(ident[k])}' for k in ("effective", "expires") if ident.get(k))
    mark = badge(t(lang, "id_corrected"), "muted") if fixed else ""
    inputs = "".join(field(t(lang, "id_" + k), f'<input name="{k}" value="{e(fixed.get(k, ""))}" '
                                                 f'placeholder="{e(d.identity.get(k, ""))}" maxlength="200">')
                     for k in IDENTITY_FIELDS)
    edit = form(ctx, f"/api/admin/documents/{d.id}/identity",
                f'<p class="muted">{e(t(lang, "identity_hint"))}</p>{inputs}<button>{e(t(lang, "save"))}</button>',
                next_="/console/kb", cls="stack")
    return (f'<div class="muted doc-identity">{facts}{"<br>" if facts and dates else ""}{dates} {mark}</div>'
            f'<details class="identity"><summary>{e(t(lang, "identity_edit"))}</summary>{edit}</details>')


def _failed_section(console: ConsoleContext, ctx: Ctx, docs: list[Any]) -> str:
    """Files that could not be ingested, with the reason: not documents, so listed apart (or nothing)."""
    if not docs:
        return ""
    lang = ctx.lang
    rows = [[f'<code>{e(d.source)}</code>', f'<div class="error-text">{e(d.error or "")}</div>',
             e(when(d.updated_at or d.ingested_at, console.tz)),
             form(ctx, f"/api/admin/documents/{d.id}/delete", f'<button class="danger">{e(t(lang, "delete"))}</button>',
                  next_="/console/kb", cls="inline", confirm=t(lang, "confirm_delete", title=d.source))]
            for d in docs]
    return (f'<section id="failed"><h2>{e(t(lang, "failed_ingests"))}</h2>'
            + table([t(lang, k) for k in ("source", "failure_reason", "ingested_at", "actions")], rows) + '</section>')


def _try_box(ctx: Ctx, question: str, result: dict[str, Any] | None) -> str:
    lang = ctx.lang
    box = ('<form method="get" action="/console/kb#try" class="try">'
           + field(t(lang, "try_question"), f'<input type="search" name="try" value="{e(question)}" maxlength="500" required>')
           + f'<button class="primary">{e(t(lang, "ask"))}</button></form>')
    if result is None:
        return box
    cites = "".join(f'<li><strong>[{n}] {e(c["title"])}</strong> · {e(c["section"])}<blockquote>{e(c["text"])}</blockquote></li>'
                    for n, c in enumerate(result["citations"], 1))
    passages = table([t(lang, k) for k in ("doc_title", "section", "score", "text")],
                     [[e(p["title"]), e(p["section"]), e(p["score"]), f'<div class="snippet">{e(p["text"][:300])}</div>']
                      for p in result["passages"]], cls="grid compact")
    flag = badge(t(lang, "unanswered"), "muted") if result["no_answer"] else badge(t(lang, "mode_" + result["mode"]), "ok")
    return (f'{box}<div class="try-result" id="try-result"><p>{flag}</p><div class="answer-text">{e(result["text"])}</div>'
            f'<h3>{e(t(lang, "citations"))}</h3><ol class="sources">{cites}</ol>'
            f'<details><summary>{e(t(lang, "passages"))}</summary>{passages}</details></div>')


@endpoint(*STAFF, page=True)
async def kb_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    lang = ctx.lang
    docs = await console.data.documents.documents()
    question = request.query.get("try", "").strip()[:500]
    try:
        result = await try_answer(console, question) if question else None
    except Refused:
        result = None
    policy = await kb_states(console)  # issue 16: policy status column
    rows = [_doc_row(console, ctx, d, policy) for d in docs if d.status != "failed"]
    failed = _failed_section(console, ctx, [d for d in docs if d.status == "failed"])
    upload = form(ctx, "/api/admin/documents", field(t(lang, "upload_file"), _file_input())
                  + f'<button class="primary">{e(t(lang, "upload"))}</button>'
                  + f'<p class="muted">{e(t(lang, "upload_hint", mb=int(console.config.console_max_upload_mb)))}</p>',
                  next_="/console/kb", multipart=True, cls="stack upload")
    body = (f'<section><h2>{e(t(lang, "documents"))}</h2>'
            + table([t(lang, k) for k in ("doc_title", "chunks", "source", "ingested_at", "status", "policy_status", "actions")], rows,
                    cls="grid kb-docs", empty=t(lang, "no_documents"))
            + f'</section>{failed}<div class="two"><section><h2>{e(t(lang, "upload"))}</h2>{upload}</section>'
            f'<section id="try"><h2>{e(t(lang, "try_title"))}</h2>{_try_box(ctx, question, result)}</section></div>')
    return page(console, request, ctx, t(lang, "nav_kb"), body, "kb")


def _chunk(ctx: Ctx, c: dict[str, Any], title: str) -> str:
    lang = ctx.lang
    levels = c["section_path"][1:] if c["section_path"][:1] == [title] else c["section_path"]  # the title is above
    path = " › ".join(e(p) for p in levels) or e(t(lang, "no_section"))
    facts = [badge(c["article"])] if c["article"] else []
    facts += [badge(c["region"], "muted")] if c["region"] else []
    facts += [badge(t(lang, "chunk_chars", n=c["chars"]), "muted")]
    facts += [badge(t(lang, "chunk_flagged", n=len(c["flags"])), "amber")] if c["flags"] else []
    return (f'<li class="chunk" id="chunk-{c["position"]}"><header><span class="chunk-no">#{c["position"] + 1}</span>'
            f'<span class="chunk-path">{path}</span>{" ".join(facts)}</header>'
            f'<div class="chunk-text">{e(c["text"])}</div></li>')


def _pager(ctx: Ctx, data: dict[str, Any]) -> str:
    lang, offset, limit = ctx.lang, data["offset"], data["limit"]
    shown = t(lang, "chunks_shown", first=offset + 1 if data["chunks"] else 0, last=offset + len(data["chunks"]),
              total=data["total"])
    prev = (f'<a class="button" rel="prev" href="?offset={max(offset - limit, 0)}&amp;limit={limit}">'
            f'{e(t(lang, "previous_page"))}</a>') if offset > 0 else ""
    nxt = (f'<a class="button" rel="next" href="?offset={data["next_offset"]}&amp;limit={limit}">{e(t(lang, "next_page"))}</a>'
           if data["next_offset"] is not None else "")
    return f'<div class="pager"><span class="muted">{e(shown)}</span><span class="spacer"></span>{prev}{nxt}</div>'


@endpoint(*STAFF, page=True)
async def chunks_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """One document's indexed chunks in reading order, 50 a page: section path, article, region, characters."""
    data, lang = await chunks_data(console, request), ctx.lang
    doc = data["document"]
    ident = doc["identity"]
    facts = " · ".join(e(v) for v in (ident.get("region"), ident.get("issuer"), ident.get("doc_number")) if v)
    head = (f'<p><a href="/console/kb">← {e(t(lang, "nav_kb"))}</a></p><p class="muted">{facts}'
            f'{" · " if facts else ""}<code>{e(doc["source"])}</code> · {e(t(lang, "view_chunks", n=data["total"]))}</p>')
    items = "".join(_chunk(ctx, c, doc["title"]) for c in data["chunks"])
    more = data["offset"] > 0 or data["next_offset"] is not None
    body = head + _pager(ctx, data) + (f'<ol class="chunks">{items}</ol>' if items else
                                       f'<p class="empty">{e(t(lang, "no_chunks"))}</p>') + (_pager(ctx, data) if more else "")
    return page(console, request, ctx, doc["title"], body, "kb")
