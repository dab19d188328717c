"""Pages: the live ticket queue with SLA history, and one ticket with its actions and transcript.

The queue and the ticket's transcript are sections the page's script reloads (`?partial=...`) when the
server announces a ticket event (server-sent events), and every 30 s in case the event came from
another worker.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

import prompts
from adapters.console.context import ConsoleContext
from adapters.console.api_tickets import actor, history_data, queue_data, ticket_data
from adapters.console.filters import number
from adapters.console.cookies import Ctx
from adapters.console.auth import endpoint
from adapters.console.html import badge, duration, e, form, html_response, page, select, table, when
from adapters.console.i18n import outcome, t
from adapters.console.pages_conversations import turn_html
from bot.accounts import MANAGER
from bot.states import SERVED_TICKET, TicketState



def _when(console: ConsoleContext, value: str | None) -> str:
    return when(datetime.fromisoformat(value), console.tz) if value else "—"


def _claim(ctx: Ctx, tk: dict[str, Any], small: bool = False) -> str:
    if tk["state"] != TicketState.WAITING or (ctx.role == MANAGER and not ctx.account.manager_id):
        return ""
    return form(ctx, f"/api/admin/tickets/{tk['id']}/claim",
                f'<button class="primary{" small" if small else ""}">{e(t(ctx.lang, "claim"))}</button>',
                next_=f"/console/tickets/{tk['id']}", cls="inline")


def unstaffed(ctx: Ctx, tk: dict[str, Any]) -> str:
    """The flag on a ticket nobody could be reached for when it was queued (no roster, nobody on duty)."""
    return badge(t(ctx.lang, "unstaffed_" + tk["unstaffed"]), "error") if tk.get("unstaffed") else ""


def request_line(lang: str, tk: dict[str, Any]) -> str:
    """What the user asked for, in a line or two: kind and field, then the request in their words (else the
    message that asked for a manager, else the start of the summary)."""
    fields = tk["fields"] or {}
    head = " · ".join(v for v in (prompts.text(lang, f"kind_{fields['kind']}") if fields.get("kind") else "",
                                  str(fields.get("field") or "")) if v)
    trigger = tk["trigger"] if tk["trigger"] and not tk["trigger"].startswith("/") else ""
    said = str(fields.get("description") or "") or trigger or (tk["summary"] or "").strip().split("\n")[0]
    return f"{head}：{said}" if head and said else head or said or t(lang, "no_request")


def _ticket_card(console: ConsoleContext, ctx: Ctx, tk: dict[str, Any]) -> str:
    """A compact card: the request first, then state · channel · age · who holds it on one line; the intake
    answers and the conversation (loaded when opened) behind a toggle."""
    lang, tid = ctx.lang, tk["id"]
    waiting = tk["state"] == TicketState.WAITING
    age = (t(lang, "waiting_for", time=duration(tk["waiting_seconds"], lang)) if waiting
           else t(lang, "claimed_at_short", time=_when(console, tk["claimed_at"])[5:]))
    mine = tk["manager_id"] and tk["manager_id"] == ctx.account.manager_id
    holder = (e(tk["manager_id"]) + (" " + badge(t(lang, "mine"), "ok") if mine else "")) if tk["manager_id"] else \
        e(t(lang, "unclaimed"))
    meta = " · ".join((badge(t(lang, "state_" + tk["state"]), "amber" if waiting else "ok"), e(tk["channel"]),
                       f'<span class="tc-age">{e(age)}</span>', holder))
    details = (f'<details class="tc-details" id="tc-details-{tid}" data-load="/console/tickets/{tid}?partial=preview">'
               f'<summary>{e(t(lang, "ticket_details"))}</summary><pre class="card-text">{e(tk["card"])}</pre>'
               f'<div class="tc-transcript"><a href="/console/tickets/{tid}">{e(t(lang, "open_ticket"))}</a></div>'
               f'</details>')
    return (f'<article class="ticket-card {e(tk["state"])}" id="ticket-card-{tid}"><p class="tc-request">'
            f'<a href="/console/tickets/{tid}" class="tc-id">#{tid}</a> {e(request_line(lang, tk))}</p>'
            f'<div class="tc-meta"><span>{meta}</span>{unstaffed(ctx, tk)}<span class="spacer"></span>'
            f'{_claim(ctx, tk, small=True)}</div>{details}</article>')


async def queue_html(console: ConsoleContext, ctx: Ctx) -> str:
    q, lang = await queue_data(console, ctx), ctx.lang
    out = []
    for key, empty in (("waiting", "no_waiting"), ("active", "no_active")):
        cards = "".join(_ticket_card(console, ctx, tk) for tk in q[key])
        out.append(f'<h2>{e(t(lang, key + "_tickets"))} <span class="count">{len(q[key])}</span></h2>'
                   + (f'<div class="ticket-cards">{cards}</div>' if cards else f'<p class="empty">{e(t(lang, empty))}</p>'))
    return "".join(out)


async def history_html(console: ConsoleContext, ctx: Ctx) -> str:
    h, lang = await history_data(console, ctx), ctx.lang
    s = h["sla"]
    figures = [(t(lang, "sla_tickets"), str(s["tickets"])), (t(lang, "sla_wait"), duration(s["median_wait_to_claim_s"], lang)),
               (t(lang, "sla_first_response"), duration(s["median_first_response_s"], lang)),
               (t(lang, "sla_resolution"), duration(s["median_resolution_s"], lang)),
               (t(lang, "sla_expired"), str(s["expired"]))]
    cards = '<div class="cards">' + "".join(f'<div class="card"><div class="card-label">{e(k)}</div>'
                                             f'<div class="card-value">{e(v)}</div></div>' for k, v in figures) + "</div>"
    rows = [[f'<a href="/console/tickets/{tk["id"]}">#{tk["id"]}</a>', badge(t(lang, "state_" + tk["state"])),
             e(tk["manager_id"] or "—"), e(outcome(lang, tk["outcome"])), e(tk["rating"] or "—"),
             e(_when(console, tk["resolved_at"]))] for tk in h["history"]]
    return (f'<h2>{e(t(lang, "ticket_history", n=h["days"]))}</h2>{cards}'
            + table([t(lang, k) for k in ("ticket", "state", "manager", "outcome", "rating", "resolved_at")], rows,
                    empty=t(lang, "empty")))


@endpoint(page=True)
async def queue_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    queue = await queue_html(console, ctx)
    if request.query.get("partial") == "queue":
        return html_response(queue)
    body = (f'<section id="queue" class="live" data-live="/console/tickets?partial=queue" aria-live="polite">{queue}'
            f'</section><section>{await history_html(console, ctx)}</section>')
    return page(console, request, ctx, t(ctx.lang, "nav_tickets"), body, "tickets")


def _actions(ctx: Ctx, tk: dict[str, Any], managers: list[dict[str, Any]]) -> str:
    """A manager acts on waiting tickets and the ones it holds; an admin or operator on any open ticket."""
    lang, tid, out = ctx.lang, tk["id"], []
    if tk["state"] not in SERVED_TICKET or (ctx.role == MANAGER and not ctx.account.manager_id):
        return ""

    def act(name: str, inner: str, cls: str = "stack") -> str:
        return form(ctx, f"/api/admin/tickets/{tid}/{name}", inner, next_=f"/console/tickets/{tid}", cls=cls)

    me, staff = actor(ctx)
    mine = tk["state"] == TicketState.ACTIVE and (tk["manager_id"] == me or staff is not None)
    if tk["state"] == TicketState.WAITING:
        out.append(_claim(ctx, tk))
    if mine:
        out.append(act("reply", f'<label class="field"><span>{e(t(lang, "reply_to_user"))}</span><textarea name="text" '
                                f'rows="3" required></textarea></label><button class="primary">{e(t(lang, "send"))}</button>'))
        out.append(act("note", f'<label class="field"><span>{e(t(lang, "internal_note"))}</span><textarea name="text" '
                               f'rows="2" required></textarea></label><button>{e(t(lang, "add_note"))}</button>'))
        out.append(act("resolve", f'<input name="outcome" placeholder="{e(t(lang, "outcome"))}" maxlength="64">'
                                  f'<button>{e(t(lang, "resolve"))}</button>', "inline"))
        out.append(act("hand_back", f'<button>{e(t(lang, "hand_back"))}</button>', "inline"))
    others = [(m["id"], m["name"]) for m in managers if m["id"] != me and m["id"] != tk["manager_id"]]
    if (mine or tk["state"] == TicketState.WAITING) and others:
        out.append(act("transfer", select("to", others) + f'<button>{e(t(lang, "transfer"))}</button>', "inline"))
    if mine or tk["state"] == TicketState.WAITING:
        out.append(form(ctx, f"/api/admin/tickets/{tid}/cancel", f'<button class="danger">{e(t(lang, "cancel_ticket"))}'
                             f'</button>', next_=f"/console/tickets/{tid}", cls="inline",
                        confirm=t(lang, "cancel_ticket_confirm")))
    return f'<section class="actions"><h2>{e(t(lang, "actions"))}</h2>{"".join(out)}</section>'


def _side(console: ConsoleContext, ctx: Ctx, data: dict[str, Any]) -> str:
    lang, tk = ctx.lang, data["ticket"]
    events = "".join(f'<li><time>{e(_when(console, ev["at"]))}</time> {e(ev["actor"])} · {e(ev["action"])} '
                     f'{e(ev["detail"])}</li>' for ev in data["events"])
    return (f'<p class="meta">{badge(t(lang, "state_" + tk["state"]), "amber")}{unstaffed(ctx, tk)} {e(tk["channel"])} · '
            f'{e(t(lang, "manager"))}: {e(tk["manager_id"] or "—")} · {e(t(lang, "waited"))} '
            f'{e(duration(tk["waiting_seconds"], lang))}</p><pre class="card-text">{e(tk["card"])}</pre>'
            f'<h2>{e(t(lang, "history"))}</h2><ol class="events">{events}</ol>')


def _transcript(console: ConsoleContext, ctx: Ctx, data: dict[str, Any]) -> str:
    return "".join(turn_html(console, ctx, m) for m in data["messages"])


PREVIEW_TURNS = 6


def _preview(console: ConsoleContext, ctx: Ctx, data: dict[str, Any]) -> str:
    turns = data["messages"][-PREVIEW_TURNS:]
    more = len(data["messages"]) - len(turns)
    link = (f'<a href="/console/tickets/{data["ticket"]["id"]}">'
            f'{e(t(ctx.lang, "open_ticket_more", n=more) if more else t(ctx.lang, "open_ticket"))}</a>')
    return f'<div class="transcript compact">{"".join(turn_html(console, ctx, m) for m in turns)}</div>{link}'


def _live(attr: str, ticket_id: int, part: str, html: str) -> str:
    return (f'<section {attr} class="live" data-live="/console/tickets/{ticket_id}?partial={part}" '
            f'data-ticket="{ticket_id}" aria-live="polite">{html}</section>')


@endpoint(page=True)
async def ticket_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """The transcript on the left; actions, the intake card and the history on the right; both kept live."""
    ticket_id, part = number(request.match_info["id"]), request.query.get("partial")
    data = await ticket_data(console, ctx, ticket_id, audit=part is None)
    if part in ("transcript", "side"):
        return html_response((_transcript if part == "transcript" else _side)(console, ctx, data))
    if part == "preview":  # a queue card's details, opened: the latest turns (audited like the ticket page)
        await console.data.audit.record(ctx.account, "view_ticket", f"ticket:{ticket_id}", ctx.ip, preview=True)
        return html_response(_preview(console, ctx, data))
    body = (f'<div class="ticket-grid">{_live("id=ticket-transcript", ticket_id, "transcript", _transcript(console, ctx, data))}'
            f'<aside class="ticket-side">{_actions(ctx, data["ticket"], data["managers"])}'
            f'{_live("id=ticket-side", ticket_id, "side", _side(console, ctx, data))}</aside></div>')
    return page(console, request, ctx, t(ctx.lang, "ticket_title", id=ticket_id), body, "tickets")
