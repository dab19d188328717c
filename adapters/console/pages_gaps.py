"""Pages: knowledge gaps grouped by similarity (write a curated answer for a group), and curated answers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.console.api_gaps import gaps_data
from adapters.console.filters import days
from adapters.console.auth import Ctx, endpoint
from adapters.console.html import badge, e, field, form, page, period_tabs, select
from adapters.console.i18n import t
from bot.accounts import STAFF

if TYPE_CHECKING:
    from adapters.console.channel import ConsoleChannel


def _curated_fields(ctx: Ctx, question: str, examples: list[str], answer: str = "") -> str:
    lang = ctx.lang
    return (field(t(lang, "curated_question"), f'<input name="question" value="{e(question)}" required maxlength="500">')
            + field(t(lang, "curated_examples"), f'<textarea name="examples" rows="3">{e(chr(10).join(examples))}</textarea>')
            + field(t(lang, "curated_answer"), f'<textarea name="answer" rows="5" required maxlength="4000">{e(answer)}'
                                               f'</textarea>'))


def _group(ctx: Ctx, n: int, g: dict[str, Any]) -> str:
    lang = ctx.lang
    reasons = " ".join(badge(f'{t(lang, "reason_" + r)} {c}', "error" if r == "thumbs_down" else "muted")
                       for r, c in sorted(g["reasons"].items()))
    questions = "".join(f"<li>{e(q)}</li>" for q in g["questions"][:8])
    convs = " ".join(f'<a href="/console/conversations/{c}">#{c}</a>' for c in g["conversations"][:8])
    write = form(ctx, "/api/admin/curated", _curated_fields(ctx, g["question"], g["questions"][1:])
                 + f'<button class="primary">{e(t(lang, "save_curated"))}</button>', next_="/console/curated", cls="stack")
    return (f'<article class="gap" id="gap-{n}"><header><span class="count">{g["count"]}</span>'
            f'<strong>{e(g["question"])}</strong> {reasons}</header><ul class="plain questions">{questions}</ul>'
            f'<p class="muted">{convs}</p><details><summary>{e(t(lang, "write_curated"))}</summary>{write}</details>'
            f'</article>')


@endpoint(*STAFF, page=True)
async def gaps_page(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    period = days(request.query)
    data, lang = await gaps_data(console, request, ctx, period), ctx.lang
    groups = "".join(_group(ctx, n, g) for n, g in enumerate(data["groups"], 1))
    summary = t(lang, "gaps_summary", items=data["items"], groups=len(data["groups"]))
    body = (f'{period_tabs(lang, period)}<p class="muted">{e(summary)}</p>'
            f'{groups or "<p class=empty>" + e(t(lang, "no_gaps")) + "</p>"}')
    return page(console, request, ctx, t(lang, "nav_gaps"), body, "gaps")


def _curated_item(ctx: Ctx, c: Any) -> str:
    lang = ctx.lang
    status = select("status", [("active", t(lang, "curated_active")), ("retired", t(lang, "curated_retired"))], c.status)
    edit = form(ctx, f"/api/admin/curated/{c.id}", _curated_fields(ctx, c.question, c.examples, c.answer)
                + field(t(lang, "status"), status) + f'<button class="primary">{e(t(lang, "save"))}</button>',
                next_="/console/curated", cls="stack")
    retire = "" if c.status != "active" else form(
        ctx, f"/api/admin/curated/{c.id}/retire", f'<button class="danger">{e(t(lang, "retire"))}</button>',
        next_="/console/curated", cls="inline", confirm=t(lang, "confirm_retire"))
    state = badge(t(lang, "curated_" + c.status), "ok" if c.status == "active" else "muted")
    wordings = (f'<p class="muted">{e(t(lang, "wordings"))}{e(" · ".join(c.examples))}</p>' if c.examples else "")
    return (f'<article class="curated {e(c.status)}" id="curated-{c.id}"><header><strong>#{c.id} {e(c.question)}</strong> '
            f'{state} <span class="muted">{e(c.updated_by)}</span></header><div class="answer-text">{e(c.answer)}</div>'
            f'{wordings}'
            f'{retire}<details><summary>{e(t(lang, "edit"))}</summary>{edit}</details></article>')


@endpoint(*STAFF, page=True)
async def curated_page(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    lang = ctx.lang
    items = await console.store.console.curated_list()
    new = form(ctx, "/api/admin/curated", _curated_fields(ctx, "", [])
               + f'<button class="primary">{e(t(lang, "save_curated"))}</button>', next_="/console/curated", cls="stack")
    body = (f'<p class="muted">{e(t(lang, "curated_intro"))}</p>'
            + ("".join(_curated_item(ctx, c) for c in items) or f'<p class="empty">{e(t(lang, "no_curated"))}</p>')
            + f'<section><details><summary>{e(t(lang, "new_curated"))}</summary>{new}</details></section>')
    return page(console, request, ctx, t(lang, "nav_curated"), body, "curated")
