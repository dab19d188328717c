"""Console API of issue 16: correct calendar entries, pause notices, set a document's policy status."""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.cookies import Ctx
from adapters.console.auth import Refused, done, endpoint
from bot.accounts import STAFF
from bot.status import Status


_DATE = re.compile(r"^(\d{4}-)?\d{2}-\d{2}$")
_TEXT = ("what", "who", "clause")


def _entry_changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {k: str(body[k]).strip()[:1000] for k in _TEXT if k in body}
    for key in ("opens", "closes"):
        if key in body:
            value = str(body[key]).strip()
            if value and not _DATE.match(value):
                raise Refused(400, "error_invalid", key)
            changes[key] = value
    if body.get("recurrence") in ("once", "yearly", "rolling"):
        changes["recurrence"] = body["recurrence"]
    changes["hidden"] = str(body.get("hidden", "")).lower() in ("1", "true", "on", "yes")
    return changes


@endpoint(*STAFF)
async def update_entry(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    entry_id = request.match_info["id"]
    if not entry_id.isdigit() or not await console.data.calendar.update_entry(int(entry_id), **_entry_changes(ctx.body)):
        raise Refused(404, "error_not_found")
    await console.data.audit.record(ctx.account, "calendar_update", f"calendar:{entry_id}", ctx.ip)
    _forget(console)
    return done(console, request, ctx, {"ok": True}, default="/console/calendar")


@endpoint(*STAFF)
async def pause_notices(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    paused = str(ctx.body.get("paused", "")).lower() in ("1", "true", "on", "yes")
    await console.data.calendar.pause_notices(paused)
    await console.data.audit.record(ctx.account, "notices_pause" if paused else "notices_resume", "notices", ctx.ip)
    return done(console, request, ctx, {"paused": paused}, default="/console/calendar")


@endpoint(*STAFF)
async def set_status(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    status = str(ctx.body.get("status", "")).strip()
    if status and status not in Status.__members__.values():
        raise Refused(400, "error_invalid", "status")
    override = {"status": status, "successor": str(ctx.body.get("successor", "")).strip()[:300]}
    if not await console.data.calendar.set_policy_override(request.match_info["id"], override):
        raise Refused(404, "error_not_found")
    await console.data.audit.record(ctx.account, "kb_status", f"document:{request.match_info['id']}", ctx.ip,
                                    status=status or "auto")
    _forget(console)
    return done(console, request, ctx, {"ok": True}, default="/console/kb")


def _forget(console: ConsoleContext) -> None:
    policy = console.engine.answerer.policy
    if policy is not None:
        policy.forget()
