"""Conversations: the filtered list (keyset pages), one transcript, and the export (CSV / JSONL).

Listing and searching, viewing a transcript and exporting are written to the audit log with the filter
used. Whoever sees contact details masked (operators; exports are masked for everyone) searches the masked
text: hidden digits of a phone or ID number cannot be recovered by trying keywords.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.cookies import Ctx
from adapters.console.auth import Refused, endpoint, json_response
from adapters.console.filters import number, parse_filter
from adapters.console.views import conversation_json, event_json, masker, message_json, ticket_json
from bot.accounts import STAFF, sees_contacts
from bot.types import utcnow


log = structlog.get_logger("qdbot.console")


async def conversations_data(console: ConsoleContext, ctx: Ctx, query: Any) -> dict[str, Any]:
    f = replace(parse_filter(query, console.tz), masked=not sees_contacts(ctx.account))
    page = await console.data.conversations.page(f, query.get("cursor") or None, console.config.console_page_size)
    await console.data.audit.record(ctx.account, "search" if f.keyword else "list_conversations", "conversations",
                                    ctx.ip, filter=_filter_json(f), cursor=bool(query.get("cursor")),
                                    shown=len(page.rows))
    m = masker(ctx.account)
    return {"conversations": [conversation_json(c, m) for c in page.rows], "next_cursor": page.next_cursor,
            "search": page.search, "filter": _filter_json(f)}


def _filter_json(f: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(f).items()}


@endpoint(*STAFF)
async def list_conversations(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    return json_response(await conversations_data(console, ctx, request.query))


async def transcript_data(console: ConsoleContext, ctx: Ctx, conversation_id: int) -> dict[str, Any]:
    """Every turn with its author, the tickets with their history; audited as a view."""
    data = console.data
    conv = await data.transcripts.conversation(conversation_id)
    if conv is None:
        raise Refused(404, "error_not_found")
    m = masker(ctx.account)
    tickets = (await data.conversations.tickets_of([conv.id]))[conv.id]
    await data.audit.record(ctx.account, "view_transcript", f"conversation:{conv.id}", ctx.ip)
    return {
        "conversation": {"id": conv.id, "channel": conv.channel, "user": m(conv.user_name or conv.user_id),
                         "lang": conv.lang, "created_at": conv.created_at.isoformat(),
                         "updated_at": conv.updated_at.isoformat()},
        "messages": [message_json(msg, m) for msg in await data.transcripts.messages(conv.id)],
        "tickets": [ticket_json(t, ctx.account, channel=conv.channel)
                    | {"events": [event_json(ev, m) for ev in await data.tickets.events(t.id)]} for t in tickets],
    }


@endpoint(*STAFF)
async def get_conversation(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    return json_response(await transcript_data(console, ctx, number(request.match_info["id"])))


@endpoint(*STAFF)
async def export(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """The filtered conversations as CSV (one row per message) or JSON Lines, streamed, personal data masked."""
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise Refused(400, "error_bad_request", "format must be csv or jsonl")
    f = replace(parse_filter(request.query, console.tz), masked=True)  # exports are masked for everyone
    await console.data.audit.record(ctx.account, "export", fmt, ctx.ip, filter=_filter_json(f))
    name = f"conversations-{utcnow().astimezone(console.tz):%Y%m%d-%H%M}.{fmt}"
    ctype = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    resp = web.StreamResponse(headers={"Content-Type": ctype, "Cache-Control": "no-store",
                                       "Content-Disposition": f'attachment; filename="{name}"',
                                       "X-Content-Type-Options": "nosniff"})
    await resp.prepare(request)
    try:
        async for chunk in console.data.conversations.export(fmt, f, console.tz):
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionResetError:  # the browser went away mid-download: nothing to report as an error
        log.info("export_client_gone", format=fmt)
    return resp
