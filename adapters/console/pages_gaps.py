"""Pages: knowledge gaps grouped by similarity, one state at a time (write a curated answer for a group, dismiss
one group or every ticked one, reopen), and curated answers."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.api_gaps import gaps_data, state_of
from adapters.console.filters import days
from adapters.console.cookies import Ctx
from adapters.console.auth import endpoint
from adapters.console.html import badge, e, field, form, page, period_tabs, select, when
from adapters.console.i18n import t
from bot.accounts import STAFF
from bot.gaps import STATES



def _curated_fields(ctx: Ctx, question: str, examples: list[str], answer: str = "") -> str:
    lang = ctx.lang
    return (field(t(lang, "curated_question"), f'<input name="question" value="{e(question)}" required maxlength="500">')
            + field(t(lang, "curated_examples"), f'<textarea name="examples" rows="3">{e(chr(10).join(examples))}</textarea>')
            + field(t(lang, "curated_answer"), f'<textarea name="answer" rows="5" required maxlength="4000">{e(answer)}'
                                               f'</textarea>'))


def _decision(ctx: Ctx, console: ConsoleContext, g: dict[str, Any]) -> str:
    lang = ctx.lang
    if g["state"] == "answered" and g["curated_id"]:
        return (f'<span class="muted">{e(t(lang, "gap_answered_by"))} '
                f'<a href="/console/curated#curated-{g["curated_id"]}">#{g["curated_id"]}</a></span>')
    if g["state"] == "dismissed" and g["decided_by"]:
        at = when(datetime.fromisoformat(g["decided_at"]), console.tz) if g["decided_at"] else ""
        return f'<span class="muted">{e(t(lang, "gap_dismissed_by", by=g["decided_by"], at=at))}</span>'
    return ""


def _one(ctx: Ctx, g: dict[str, Any], back: str) -> str:
    """The group's own button: dismiss an open or answered group, reopen a dismissed one."""
    lang, keys = ctx.lang, " ".join(g["keys"])
    action, label = ("reopen", "gap_reopen") if g["state"] == "dismissed" else ("dismiss", "gap_dismiss")
    return form(ctx, f"/api/admin/gaps/{action}", f'<input type="hidden" name="keys" value="{e(keys)}">'
                f'<button class="small">{e(t(lang, label))}</button>', next_=back, cls="inline gap-action")


def _group(console: ConsoleContext, ctx: Ctx, n: int, g: dict[str, Any], back: str) -> str:
    lang = ctx.lang
    reasons = " ".join(badge(f'{t(lang, "reason_" + r)} {c}', "error" if r == "thumbs_down" else "muted")
                       for r, c in sorted(g["reasons"].items()))
    questions = "".join(f"<li>{e(q)}</li>" for q in g["questions"][:8])
    convs = " ".join(f'<a href="/console/conversations/{c}">#{c}</a>' for c in g["conversations"][:8])
    pick = (f'<input type="checkbox" form="gaps-bulk" name="keys" value="{e(" ".join(g["keys"]))}" '
            f'aria-label="{e(t(lang, "gap_select", question=g["question"]))}">')
    write = "" if g["state"] != "open" else form(
        ctx, "/api/admin/curated", _curated_fields(ctx, g["question"], g["questions"][1:])
        + f'<input type="hidden" name="gap_keys" value="{e(" ".join(g["keys"]))}">'
        + f'<button class="primary">{e(t(lang, "save_curated"))}</button>', next_="/console/curated", cls="stack")
    write = f'<details><summary>{e(t(lang, "write_curated"))}</summary>{write}</details>' if write else ""
    return (f'<article class="gap {e(g["state"])}" id="gap-{n}"><header>{pick}<span class="count">{g["count"]}</span>'
            f'<strong>{e(g["question"])}</strong> {reasons}{_decision(ctx, console, g)}{_one(ctx, g, back)}</header>'
            f'<ul class="plain questions">{questions}</ul><p class="muted">{convs}</p>{write}</article>')


def _state_tabs(lang: str, period: int, state: str, counts: dict[str, int]) -> str:
    links = "".join(f'<a href="?days={period}&amp;state={s}"{" aria-current=page" if s == state else ""}>'
                    f'{e(t(lang, "gap_state_" + s))} <span class="tab-count">{counts[s]}</span></a>' for s in STATES)
    return f'<nav class="tabs states" aria-label="{e(t(lang, "gap_states_label"))}">{links}</nav>'


def _bulk(ctx: Ctx, state: str, back: str) -> str:
    """The form the groups' checkboxes belong to (`form="gaps-bulk"`): dismiss, or reopen, every group ticked."""
    lang = ctx.lang
    action, label = ("reopen", "gap_reopen_selected") if state == "dismissed" else ("dismiss", "gap_dismiss_selected")
    return form(ctx, f"/api/admin/gaps/{action}", f'<button>{e(t(lang, label))}</button>', next_=back,
                cls="inline bulk", ident="gaps-bulk")


@endpoint(*STAFF, page=True)
async def gaps_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    period, state = days(request.query), state_of(request.query)
    data, lang = await gaps_data(console, request, ctx, period, state), ctx.lang
    back = f"/console/gaps?days={period}&state={state}"
    groups = "".join(_group(console, ctx, n, g, back) for n, g in enumerate(data["groups"], 1))
    summary = t(lang, "gaps_summary", items=data["items"], groups=len(data["groups"]))
    toolbar = f'<div class="toolbar"><span class="muted">{e(summary)}</span><span class="spacer"></span>' + (
        _bulk(ctx, state, back) if groups else "") + "</div>"
    body = (f'{period_tabs(lang, period, keep="state=" + state)}{_state_tabs(lang, period, state, data["counts"])}'
            f'{toolbar}{groups or "<p class=empty>" + e(t(lang, "no_gaps_" + state)) + "</p>"}')
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
async def curated_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    lang = ctx.lang
    items = await console.data.curated.entries()
    new = form(ctx, "/api/admin/curated", _curated_fields(ctx, "", [])
               + f'<button class="primary">{e(t(lang, "save_curated"))}</button>', next_="/console/curated", cls="stack")
    body = (f'<p class="muted">{e(t(lang, "curated_intro"))}</p>'
            + ("".join(_curated_item(ctx, c) for c in items) or f'<p class="empty">{e(t(lang, "no_curated"))}</p>')
            + f'<section><details><summary>{e(t(lang, "new_curated"))}</summary>{new}</details></section>')
    return page(console, request, ctx, t(lang, "nav_curated"), body, "curated")
