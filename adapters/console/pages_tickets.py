"""Pages: the live ticket queue with SLA history, and one ticket with its actions and transcript.

The queue and the ticket's transcript are sections the page's script reloads (`?partial=...`) when the
server announces a ticket event (server-sent events), and every 30 s in case the event came from
another worker.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.console.api_tickets import actor, history_data, queue_data, ticket_data
from adapters.console.filters import number
from adapters.console.auth import Ctx, endpoint
from adapters.console.html import badge, duration, e, form, html_response, page, select, table, when
from adapters.console.i18n import t
from adapters.console.pages_conversations import turn_html
from bot.accounts import MANAGER

if TYPE_CHECKING:
    from adapters.console.channel import ConsoleChannel


def _when(console: "ConsoleChannel", value: str | None) -> str:
    return when(datetime.fromisoformat(value), console.tz) if value else "—"


def _claim(ctx: Ctx, tk: dict[str, Any]) -> str:
    if tk["state"] != "waiting" or (ctx.role == MANAGER and not ctx.account.manager_id):
        return ""
    return form(ctx, f"/api/admin/tickets/{tk['id']}/claim", f'<button class="primary">{e(t(ctx.lang, "claim"))}</button>',
                next_=f"/console/tickets/{tk['id']}", cls="inline")


def unstaffed(ctx: Ctx, tk: dict[str, Any]) -> str:
    """The flag on a ticket nobody could be reached for when it was queued (no roster, nobody on duty)."""
    return badge(t(ctx.lang, "unstaffed_" + tk["unstaffed"]), "error") if tk.get("unstaffed") else ""


def _waiting_row(console: "ConsoleChannel", ctx: Ctx, tk: dict[str, Any]) -> list[str]:
    return [f'<a href="/console/tickets/{tk["id"]}">#{tk["id"]}</a>', e(tk["channel"]),
            badge(duration(tk["waiting_seconds"], ctx.lang), "amber") + unstaffed(ctx, tk),
            f'<pre class="card-text">{e(tk["card"])}</pre>', _claim(ctx, tk)]


def _active_row(console: "ConsoleChannel", ctx: Ctx, tk: dict[str, Any]) -> list[str]:
    mine = badge(t(ctx.lang, "mine"), "ok") if tk["manager_id"] and tk["manager_id"] == ctx.account.manager_id else ""
    return [f'<a href="/console/tickets/{tk["id"]}">#{tk["id"]}</a>', e(tk["channel"]), f'{e(tk["manager_id"])} {mine}',
            e(_when(console, tk["claimed_at"])), e(duration(tk["waiting_seconds"], ctx.lang)),
            f'<pre class="card-text">{e(tk["card"])}</pre>']


async def queue_html(console: "ConsoleChannel", ctx: Ctx) -> str:
    q, lang = await queue_data(console, ctx), ctx.lang
    waiting = table([t(lang, k) for k in ("ticket", "channel", "waiting", "card", "actions")],
                    [_waiting_row(console, ctx, tk) for tk in q["waiting"]], empty=t(lang, "no_waiting"))
    active = table([t(lang, k) for k in ("ticket", "channel", "manager", "claimed_at", "waited", "card")],
                   [_active_row(console, ctx, tk) for tk in q["active"]], empty=t(lang, "no_active"))
    return (f'<h2>{e(t(lang, "waiting_tickets"))} <span class="count">{len(q["waiting"])}</span></h2>{waiting}'
            f'<h2>{e(t(lang, "active_tickets"))} <span class="count">{len(q["active"])}</span></h2>{active}')


async def history_html(console: "ConsoleChannel", ctx: Ctx) -> str:
    h, lang = await history_data(console, ctx), ctx.lang
    s = h["sla"]
    figures = [(t(lang, "sla_tickets"), str(s["tickets"])), (t(lang, "sla_wait"), duration(s["median_wait_to_claim_s"], lang)),
               (t(lang, "sla_first_response"), duration(s["median_first_response_s"], lang)),
               (t(lang, "sla_resolution"), duration(s["median_resolution_s"], lang)),
               (t(lang, "sla_expired"), str(s["expired"]))]
    cards = '<div class="cards">' + "".join(f'<div class="card"><div class="card-label">{e(k)}</div>'
                                             f'<div class="card-value">{e(v)}</div></div>' for k, v in figures) + "</div>"
    rows = [[f'<a href="/console/tickets/{tk["id"]}">#{tk["id"]}</a>', badge(t(lang, "state_" + tk["state"])),
             e(tk["manager_id"] or "—"), e(tk["outcome"] or ""), e(tk["rating"] or "—"),
             e(_when(console, tk["resolved_at"]))] for tk in h["history"]]
    return (f'<h2>{e(t(lang, "ticket_history", n=h["days"]))}</h2>{cards}'
            + table([t(lang, k) for k in ("ticket", "state", "manager", "outcome", "rating", "resolved_at")], rows,
                    empty=t(lang, "empty")))


@endpoint(page=True)
async def queue_page(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    queue = await queue_html(console, ctx)
    if request.query.get("partial") == "queue":
        return html_response(queue)
    body = (f'<section id="queue" class="live" data-live="/console/tickets?partial=queue" aria-live="polite">{queue}'
            f'</section><section>{await history_html(console, ctx)}</section>')
    return page(console, request, ctx, t(ctx.lang, "nav_tickets"), body, "tickets")


def _actions(ctx: Ctx, tk: dict[str, Any], managers: list[dict[str, Any]]) -> str:
    """A manager acts on waiting tickets and the ones it holds; an admin or operator on any open ticket."""
    lang, tid, out = ctx.lang, tk["id"], []
    if tk["state"] not in ("waiting", "active") or (ctx.role == MANAGER and not ctx.account.manager_id):
        return ""
    act = lambda name, inner, cls="stack": form(ctx, f"/api/admin/tickets/{tid}/{name}", inner,  # noqa: E731
                                                next_=f"/console/tickets/{tid}", cls=cls)
    me, staff = actor(ctx)
    mine = tk["state"] == "active" and (tk["manager_id"] == me or staff is not None)
    if tk["state"] == "waiting":
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
    if (mine or tk["state"] == "waiting") and others:
        out.append(act("transfer", select("to", others) + f'<button>{e(t(lang, "transfer"))}</button>', "inline"))
    if mine or tk["state"] == "waiting":
        out.append(form(ctx, f"/api/admin/tickets/{tid}/cancel", f'<button class="danger">{e(t(lang, "cancel_ticket"))}'
                             f'</button>', next_=f"/console/tickets/{tid}", cls="inline",
                        confirm=t(lang, "cancel_ticket_confirm")))
    return f'<section class="actions"><h2>{e(t(lang, "actions"))}</h2>{"".join(out)}</section>'


def _side(console: "ConsoleChannel", ctx: Ctx, data: dict[str, Any]) -> str:
    lang, tk = ctx.lang, data["ticket"]
    events = "".join(f'<li><time>{e(_when(console, ev["at"]))}</time> {e(ev["actor"])} · {e(ev["action"])} '
                     f'{e(ev["detail"])}</li>' for ev in data["events"])
    return (f'<p class="meta">{badge(t(lang, "state_" + tk["state"]), "amber")}{unstaffed(ctx, tk)} {e(tk["channel"])} · '
            f'{e(t(lang, "manager"))}: {e(tk["manager_id"] or "—")} · {e(t(lang, "waited"))} '
            f'{e(duration(tk["waiting_seconds"], lang))}</p><pre class="card-text">{e(tk["card"])}</pre>'
            f'<h2>{e(t(lang, "history"))}</h2><ol class="events">{events}</ol>')


def _transcript(console: "ConsoleChannel", ctx: Ctx, data: dict[str, Any]) -> str:
    return "".join(turn_html(console, ctx, m) for m in data["messages"])


def _live(attr: str, ticket_id: int, part: str, html: str) -> str:
    return (f'<section {attr} class="live" data-live="/console/tickets/{ticket_id}?partial={part}" '
            f'data-ticket="{ticket_id}" aria-live="polite">{html}</section>')


@endpoint(page=True)
async def ticket_page(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """The transcript on the left; actions, the intake card and the history on the right; both kept live."""
    ticket_id, part = number(request.match_info["id"]), request.query.get("partial")
    data = await ticket_data(console, ctx, ticket_id, audit=part is None)
    if part in ("transcript", "side"):
        return html_response((_transcript if part == "transcript" else _side)(console, ctx, data))
    body = (f'<div class="ticket-grid">{_live("id=ticket-transcript", ticket_id, "transcript", _transcript(console, ctx, data))}'
            f'<aside class="ticket-side">{_actions(ctx, data["ticket"], data["managers"])}'
            f'{_live("id=ticket-side", ticket_id, "side", _side(console, ctx, data))}</aside></div>')
    return page(console, request, ctx, t(ctx.lang, "ticket_title", id=ticket_id), body, "tickets")
