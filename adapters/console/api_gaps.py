"""Knowledge gaps grouped by similarity, and the curated answers operators write for them.

A curated answer is preferred by the assistant for matching questions (`bot.curated.CuratedAnswers`);
creating, editing and retiring one is written to the audit log.
"""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.console.filters import days, number
from adapters.console.auth import Ctx, Refused, done, endpoint, json_response
from adapters.console.views import curated_json, iso, masker
from bot.accounts import STAFF
from bot.gaps import GapGrouper, collect
from bot.text import detect_lang
from bot.types import utcnow

if TYPE_CHECKING:
    from adapters.console.channel import ConsoleChannel

MAX_EXAMPLES = 20


async def gaps_data(console: "ConsoleChannel", request: web.Request, ctx: Ctx, days: int = 30) -> dict[str, Any]:
    since = utcnow() - timedelta(days=days)
    items = await collect(console.store, console.settings.retrieval_min_score, since)
    embedder = getattr(getattr(request.app.get("qdbot"), "answerer", None), "embedder", None)
    groups = await GapGrouper(embedder).group(items)
    await console.store.console.audit(ctx.account, "view_gaps", "gaps", ctx.ip, days=days, groups=len(groups))
    m = masker(ctx.account)
    return {"days": days, "items": len(items), "groups": [
        {"question": m(g.question), "count": g.count, "reasons": g.reasons, "latest": iso(g.latest),
         "questions": [m(q) for q in g.questions[:MAX_EXAMPLES]],
         "conversations": sorted({i.conversation_id for i in g.items if i.conversation_id})[:20]}
        for g in groups]}


@endpoint(*STAFF)
async def gaps(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    period = days(request.query)
    return json_response(await gaps_data(console, request, ctx, period))


@endpoint(*STAFF)
async def list_curated(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    status = request.query.get("status") or None
    if status not in (None, "active", "retired"):
        raise Refused(400, "error_bad_request", "status must be active or retired")
    return json_response({"curated": [curated_json(c) for c in await console.store.console.curated_list(status)]})


def _examples(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").splitlines()
    seen: dict[str, None] = {}
    for item in items:
        text = str(item).strip()[:500]
        if text:
            seen.setdefault(text)
    return list(seen)[:MAX_EXAMPLES]


def _required(ctx: Ctx, key: str, limit: int) -> str:
    value = str(ctx.body.get(key) or "").strip()
    if not value:
        raise Refused(400, "error_missing", key)
    return value[:limit]


@endpoint(*STAFF)
async def create_curated(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    question, answer = _required(ctx, "question", 500), _required(ctx, "answer", 4000)
    examples = [q for q in _examples(ctx.body.get("examples")) if q != question]
    lang = str(ctx.body["lang"]) if ctx.body.get("lang") in ("zh", "en") else detect_lang(question)
    record = await console.store.console.add_curated(question, answer, examples, lang, ctx.account.username)
    await console.store.console.audit(ctx.account, "curated_create", f"curated:{record.id}", ctx.ip,
                                      question=question)
    return done(console, request, ctx, {"curated": curated_json(record)}, key="done_curated_create",
                default="/console/curated", status=201)


@endpoint(*STAFF)
async def update_curated(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    curated_id = number(request.match_info["id"])
    values: dict[str, Any] = {}
    for key, limit in (("question", 500), ("answer", 4000)):
        if str(ctx.body.get(key) or "").strip():
            values[key] = _required(ctx, key, limit)
    if "examples" in ctx.body:
        values["examples"] = _examples(ctx.body["examples"])
    if ctx.body.get("status") in ("active", "retired"):
        values["status"] = ctx.body["status"]
    return await _save(console, request, ctx, curated_id, values, "curated_update")


@endpoint(*STAFF)
async def retire_curated(console: "ConsoleChannel", request: web.Request, ctx: Ctx) -> web.StreamResponse:
    return await _save(console, request, ctx, number(request.match_info["id"]), {"status": "retired"},
                       "curated_retire")


async def _save(console: "ConsoleChannel", request: web.Request, ctx: Ctx, curated_id: int, values: dict[str, Any],
                action: str) -> web.StreamResponse:
    record = await console.store.console.update_curated(curated_id, ctx.account.username, **values)
    if record is None:
        raise Refused(404, "error_not_found")
    await console.store.console.audit(ctx.account, action, f"curated:{curated_id}", ctx.ip,
                                      fields=sorted(values))
    return done(console, request, ctx, {"curated": curated_json(record)}, key=f"done_{action}",
                default="/console/curated")
