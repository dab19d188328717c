"""Page: the application calendar (review and correct entries) and the policy alerts (subscribers,
notices sent and failed, pause). Policy status on the knowledge-base page: `status_cell`."""
from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

import prompts
from adapters.console.context import ConsoleContext
from adapters.console.cookies import Ctx
from adapters.console.auth import endpoint
from adapters.console.html import badge, e, field, form, page, select, table
from bot import calendar_answers, status
from bot.accounts import STAFF
from bot.clock import Clock, SystemClock


_KIND = {"current": "ok", "not_yet_effective": "muted", "expired": "error", "superseded": "error"}


def s(lang: str, key: str, **fields: object) -> str:
    return prompts.text_from("calendar", lang, key, **fields)


def _today(console: ConsoleContext) -> date:
    policy, notices = console.engine.answerer.policy, console.engine.notices
    clock: Clock = (policy.clock if policy else notices.clock if notices else None) \
        or SystemClock(console.settings.calendar_timezone)
    return clock.today()


def _entry_form(ctx: Ctx, entry: Any) -> str:
    lang = ctx.lang
    inner = (field(s(lang, "console_what"), f'<input name="what" value="{e(entry.what)}" maxlength="200">')
             + field(s(lang, "console_who"), f'<input name="who" value="{e(entry.who)}">')
             + field(s(lang, "console_opens"), f'<input name="opens" value="{e(entry.opens)}" size="10">')
             + field(s(lang, "console_closes"), f'<input name="closes" value="{e(entry.closes)}" size="10">')
             + field(s(lang, "console_recurrence"), select("recurrence", [(v, v) for v in ("once", "yearly", "rolling")],
                                                          entry.recurrence))
             + f'<label><input type="checkbox" name="hidden" value="1"{" checked" if entry.hidden else ""}> '
               f'{e(s(lang, "console_hidden"))}</label>'
             + f'<button>{e(s(lang, "console_save"))}</button>')
    return f'<details><summary>{e(s(lang, "console_save"))}</summary>' + form(
        ctx, f"/api/admin/calendar/{entry.id}", inner, next_="/console/calendar", cls="stack") + "</details>"


def _entry_row(ctx: Ctx, entry: Any, today: date) -> list[str]:
    lang = ctx.lang
    window = calendar_answers.window_text(entry, today, lang)
    what = e(entry.what) + (" " + badge(s(lang, "console_hidden"), "muted") if entry.hidden else "")
    return [what, e(entry.who or "—"), e(window), e(entry.title), f'<div class="snippet">{e(entry.clause)}</div>',
            badge(s(lang, "origin_" + entry.origin), "ok" if entry.origin == "operator" else ""),
            _entry_form(ctx, entry)]


async def _notices_panel(console: ConsoleContext, ctx: Ctx) -> str:
    lang = ctx.lang
    stats = await console.data.calendar.notice_stats()
    paused = await console.data.calendar.notices_paused()
    subs = ", ".join(f"{k}: {v}" for k, v in sorted(stats.subscribers.items())) or "0"
    sent = ", ".join(f"{k}: {v}" for k, v in sorted(stats.notices.items())) or "0"
    toggle = form(ctx, "/api/admin/notices/pause", f'<input type="hidden" name="paused" value="{"0" if paused else "1"}">'
                  f'<button class="{"primary" if paused else "danger"}">{e(s(lang, "console_resume" if paused else "console_pause"))}</button>',
                  next_="/console/calendar", cls="inline")
    state = badge(s(lang, "console_paused"), "error") if paused else badge(s(lang, "console_running"), "ok")
    return (f'<section id="notices"><h2>{e(s(lang, "console_notices"))}</h2><p>{state} {toggle}</p>'
            + table(["", ""], [[e(s(lang, "console_subscribers")), e(subs)], [e(s(lang, "console_sent")), e(sent)],
                               [e(s(lang, "console_pending")), str(stats.pending)]], cls="grid compact")
            + "</section>")


@endpoint(*STAFF, page=True)
async def calendar_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    lang, today = ctx.lang, _today(console)
    entries = calendar_answers.order(await console.data.calendar.entries(include_hidden=True), today)
    heads = [s(lang, k) for k in ("console_what", "console_who", "console_window", "console_document",
                                  "console_clause", "console_origin")] + [""]
    body = (f'<p class="muted">{e(s(lang, "console_today", tz=console.settings.calendar_timezone, today=today))}</p>'
            f'<section><h2>{e(s(lang, "console_entries"))}</h2>'
            + table(heads, [_entry_row(ctx, x, today) for x in entries], empty=s(lang, "console_no_entries"))
            + "</section>" + await _notices_panel(console, ctx))
    return page(console, request, ctx, s(lang, "console_title"), body, "calendar")


def status_cell(ctx: Ctx, doc_id: str, state: status.PolicyState | None, override: dict[str, str]) -> str:
    """The knowledge-base page's policy status column: the status and a form to set it."""
    lang = ctx.lang
    if state is None:
        return "—"
    label = badge(s(lang, "label_" + state.status.value), _KIND[state.status.value])
    extra = f'<div class="muted">→ 《{e(state.successor)}》</div>' if state.successor else ""
    options = [("", s(lang, "console_auto"))] + [(v.value, s(lang, "label_" + v.value)) for v in status.Status]
    inner = (select("status", options, override.get("status", ""))
             + f'<input name="successor" value="{e(override.get("successor", ""))}" placeholder="{e(s(lang, "console_successor"))}">'
             + f'<button>{e(s(lang, "console_set_status"))}</button>')
    return label + extra + form(ctx, f"/api/admin/documents/{doc_id}/status", inner, next_="/console/kb", cls="row-form")


async def kb_states(console: ConsoleContext) -> tuple[dict[str, status.PolicyState], dict[str, dict[str, str]]]:
    """(doc id -> state, doc id -> operator override) for the knowledge-base page."""
    docs = await console.data.calendar.policies()
    return status.states(docs, _today(console)), {d.id: d.override for d in docs}
