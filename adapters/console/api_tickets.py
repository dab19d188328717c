"""Tickets: the queue (waiting and active, with intake cards and waiting times), history with SLA figures,
one ticket with its transcript, live updates (server-sent events), and the managers' actions.

Actions run through the same `HandoffDesk` methods the Telegram staff group uses: a manager account acts as
the roster manager it links to; an admin or operator acts as ``console:<username>`` on any ticket (claims
it, writes on it even when someone else holds it, transfers, closes, cancels). The desk refuses what the
ticket's state does not allow (409).
"""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.filters import days, number
from adapters.console.cookies import Ctx
from adapters.console.auth import Refused, Route, done, endpoint, json_response
from adapters.console.views import event_json, masker, message_json, ticket_json
from bot.accounts import MANAGER
from bot.dashboard import sla
from bot.records import TicketRecord
from bot.states import CLOSED_TICKET, SERVED_TICKET, TicketState
from bot.types import utcnow


KEEPALIVE_SECONDS = 15.0


async def _with_card(console: ConsoleContext, ctx: Ctx, t: TicketRecord) -> dict[str, Any]:
    conv = await console.data.transcripts.conversation(t.conversation_id)
    channel = conv.channel if conv else ""
    return ticket_json(t, ctx.account, channel=channel, card=console.desk.card(t, channel))


async def queue_data(console: ConsoleContext, ctx: Ctx) -> dict[str, Any]:
    tickets = await console.data.tickets.in_states(SERVED_TICKET, limit=500)
    rows = [await _with_card(console, ctx, t) for t in tickets]
    waiting = sorted((r for r in rows if r["state"] == TicketState.WAITING), key=lambda r: r["waiting_since"] or "")
    return {"waiting": waiting, "active": [r for r in rows if r["state"] == TicketState.ACTIVE],
            "me": ctx.account.manager_id}


async def history_data(console: ConsoleContext, ctx: Ctx, days: int = 30) -> dict[str, Any]:
    since = utcnow() - timedelta(days=days)
    recent = await console.data.figures.tickets(since, utcnow() + timedelta(seconds=1))
    closed = [t for t in recent if t.state in CLOSED_TICKET][:100]
    return {"days": days, "sla": _sla_json(recent),
            "history": [ticket_json(t, ctx.account) for t in closed]}


def _sla_json(tickets: list[TicketRecord]) -> dict[str, Any]:
    figures = sla(tickets)
    return {name: getattr(figures, name) for name in figures.__dataclass_fields__}


@endpoint()
async def list_tickets(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """?view=queue (default): waiting and active tickets; ?view=history: closed ones with SLA figures."""
    if request.query.get("view") == "history":
        return json_response(await history_data(console, ctx, days(request.query)))
    return json_response(await queue_data(console, ctx))


async def ticket_data(console: ConsoleContext, ctx: Ctx, ticket_id: int, audit: bool = True) -> dict[str, Any]:
    t = await console.data.tickets.get(ticket_id)
    if t is None:
        raise Refused(404, "error_not_found")
    m = masker(ctx.account, t.manager_id)
    if audit:
        await console.data.audit.record(ctx.account, "view_ticket", f"ticket:{t.id}", ctx.ip)
    messages = await console.data.transcripts.messages(t.conversation_id)
    return {"ticket": await _with_card(console, ctx, t),
            "events": [event_json(ev, m) for ev in await console.data.tickets.events(t.id)],
            "messages": [message_json(msg, m) for msg in messages],
            "managers": [{"id": mg.id, "name": mg.name} for mg in await console.data.tickets.managers()]}


@endpoint()
async def get_ticket(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    return json_response(await ticket_data(console, ctx, number(request.match_info["id"])))


@endpoint()
async def managers(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    roster = await console.data.tickets.managers()
    return json_response({"managers": [{"id": m.id, "name": m.name, "specialties": list(m.specialties),
                                        "working_hours": m.working_hours} for m in roster]})


def _text(ctx: Ctx, key: str, limit: int = 4000) -> str:
    value = str(ctx.body.get(key) or "").strip()
    if not value:
        raise Refused(400, "error_missing", key)
    return value[:limit]


def actor(ctx: Ctx) -> tuple[str, str | None]:
    """(who acts, the name the user sees when staff claim): a manager acts as its roster id; an admin or
    operator as ``console:<username>`` (not on the roster)."""
    if ctx.role != MANAGER:
        return f"console:{ctx.account.username}", ctx.account.username
    if not ctx.account.manager_id:
        raise Refused(403, "error_no_manager")
    return ctx.account.manager_id, None


async def _run(console: ConsoleContext, ctx: Ctx, action: str, ticket_id: int) -> Any:
    desk, (me, staff) = console.desk, actor(ctx)
    if action == "claim":
        return await desk.claim(ticket_id, me, staff_name=staff)
    if action == "reply":
        return await desk.reply(ticket_id, me, _text(ctx, "text"), any_holder=staff is not None)
    if action == "cancel":
        return await desk.cancel(ticket_id, me)
    if action == "note":
        return await desk.note(ticket_id, me, _text(ctx, "text"))
    if action == "transfer":
        return await desk.transfer(ticket_id, me, _text(ctx, "to", 64))
    if action == "resolve":
        return await desk.resolve(ticket_id, me, str(ctx.body.get("outcome") or "resolved").strip()[:64] or "resolved")
    return await desk.hand_back(ticket_id, me)


def _action(action: str) -> Route:
    @endpoint()
    async def handler(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        ticket_id = number(request.match_info["id"])
        if await console.data.tickets.get(ticket_id) is None:
            raise Refused(404, "error_not_found")
        await _run(console, ctx, action, ticket_id)
        await console.data.audit.record(ctx.account, f"ticket_{action}", f"ticket:{ticket_id}", ctx.ip)
        ticket = await console.data.tickets.get(ticket_id)
        assert ticket is not None
        return done(console, request, ctx, {"ok": True, "ticket": ticket_json(ticket, ctx.account)},
                    key=f"done_{action}", default=f"/console/tickets/{ticket_id}")
    handler.__name__ = f"ticket_{action}"
    return handler


ACTIONS = {name: _action(name) for name in ("claim", "reply", "note", "transfer", "resolve", "hand_back", "cancel")}


@endpoint()
async def events(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """Server-sent events: `ticket` {kind, ticket_id, state} whenever a ticket changes (in any worker)."""
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                       "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    queue = console.hub.subscribe()
    try:
        await resp.write(b"retry: 5000\n\n")
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            if item is None:
                break
            await resp.write(f"event: ticket\ndata: {json.dumps(item)}\n\n".encode())
    except ConnectionResetError:
        pass
    finally:
        console.hub.unsubscribe(queue)
    return resp
