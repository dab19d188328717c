"""Knowledge gaps grouped by similarity, their states, and the curated answers operators write for them.

A gap question is open, answered (a curated answer covers it) or dismissed (`bot.gaps.states_of`); the
list shows one state at a time (open by default). Operators dismiss one group or many at once and
reopen them; a curated answer written from a group answers its questions. A curated answer is
preferred by the assistant for matching questions (`bot.curated.CuratedAnswers`); creating, editing
and retiring one, and every dismissal and reopening, is written to the audit log.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.filters import days, number
from adapters.console.cookies import Ctx
from adapters.console.auth import Refused, done, endpoint, json_response
from adapters.console.views import curated_json, iso, masker
from bot.accounts import STAFF
from bot.gaps import KEY, STATES, GapGrouper, GapItem, question_key, states_of
from bot.privacy import mask
from bot.text import detect_lang
from bot.types import utcnow


MAX_EXAMPLES = 20
MAX_KEYS = 1000  # question keys one dismissal or reopening may name


def state_of(query: Any) -> str:
    """The `state` the list shows: open (default), answered or dismissed."""
    state = query.get("state", "open") or "open"
    if state not in STATES:
        raise Refused(400, "error_bad_request", f"state must be one of {', '.join(STATES)}")
    return state


async def _states(console: ConsoleContext, items: list[GapItem]) -> dict[str, Any]:
    keys = {i.key for i in items}
    decisions = await console.data.gaps.decisions(keys)
    return states_of(keys, decisions, await console.data.curated.entries("active"))


async def gaps_data(console: ConsoleContext, request: web.Request, ctx: Ctx, days: int = 30,
                    state: str = "open") -> dict[str, Any]:
    since = utcnow() - timedelta(days=days)
    items = await console.data.gaps.collect(console.settings.retrieval_min_score, since)
    states = await _states(console, items)
    shown = [i for i in items if states[i.key].state == state]
    embedder = console.engine.answerer.embedder
    groups = await GapGrouper(embedder).group(shown)
    await console.data.audit.record(ctx.account, "view_gaps", "gaps", ctx.ip, days=days, state=state,
                                    groups=len(groups))
    m = masker(ctx.account)
    counts = {s: sum(1 for i in items if states[i.key].state == s) for s in STATES}
    return {"days": days, "state": state, "items": len(shown), "counts": counts, "groups": [
        {"question": m(g.question), "count": g.count, "reasons": g.reasons, "latest": iso(g.latest),
         "questions": [m(q) for q in g.questions[:MAX_EXAMPLES]], "keys": g.keys, "state": state,
         **_decision(states[g.items[0].key]),
         "conversations": sorted({i.conversation_id for i in g.items if i.conversation_id})[:20]}
        for g in groups]}


def _decision(state: Any) -> dict[str, Any]:
    return {"curated_id": state.curated_id, "decided_by": state.decided_by, "decided_at": iso(state.decided_at)}


@endpoint(*STAFF)
async def gaps(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    period = days(request.query)
    return json_response(await gaps_data(console, request, ctx, period, state_of(request.query)))


def _named_keys(ctx: Ctx, name: str = "keys") -> list[str]:
    """Question keys from JSON (a list, or one string) or a form (checkboxes; one value may hold several keys
    separated by spaces); a key that is not 32 hex digits is refused."""
    raw = ctx.lists.get(name) or ctx.body.get(name) or []
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if values is None or not all(isinstance(v, str) for v in values):
        raise Refused(400, "error_bad_request", f"{name} must be a list of gap keys")
    keys = list(dict.fromkeys(k for v in values for k in v.replace(",", " ").split()))
    bad = [k for k in keys if not KEY.match(k)]
    if bad:
        raise Refused(400, "error_bad_request", f"not a gap key: {bad[0][:40]}")
    if len(keys) > MAX_KEYS:
        raise Refused(400, "error_bad_request", f"at most {MAX_KEYS} keys at once")
    return keys


async def _known(console: ConsoleContext) -> dict[str, str]:
    """{key: question} of every gap question of the last year."""
    since = utcnow() - timedelta(days=366)
    return {i.key: i.question for i in await console.data.gaps.collect(console.settings.retrieval_min_score, since)}


async def _questions(console: ConsoleContext, ctx: Ctx) -> dict[str, str]:
    """{key: question} of the gaps the request names by `keys` (gaps asked in the last year) and `questions`
    (any wording); nothing named, or a key no gap has, is refused."""
    keys = _named_keys(ctx)
    asked = ctx.body.get("questions") or []
    if not isinstance(asked, list) or not all(isinstance(q, str) for q in asked):
        raise Refused(400, "error_bad_request", "questions must be a list of strings")
    named = {question_key(q): q.strip()[:500] for q in asked if q.strip()}
    if keys:
        known = await _known(console)
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise Refused(400, "error_bad_request", f"no gap has the key {unknown[0]}")
        named.update({k: known[k] for k in keys})
    if not named:
        raise Refused(400, "error_missing", "keys")
    return named


@endpoint(*STAFF)
async def dismiss_gaps(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """Dismiss gap questions (one group's or many groups' keys at once): they leave the open list."""
    return await _decide(console, request, ctx, "dismiss")


@endpoint(*STAFF)
async def reopen_gaps(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    """Forget the decisions on gap questions: dismissed ones are open again (answered ones stay answered while an
    active curated answer has them among its wordings)."""
    return await _decide(console, request, ctx, "reopen")


async def _decide(console: ConsoleContext, request: web.Request, ctx: Ctx, action: str) -> web.StreamResponse:
    named, states = await _questions(console, ctx), console.data.gaps
    if action == "dismiss":
        n, field = await states.decide(named, "dismissed", ctx.account.username), "dismissed"
    else:
        n, field = await states.reopen(named), "reopened"
    await console.data.audit.record(ctx.account, f"gaps_{action}", "gaps", ctx.ip, count=n,
                                    questions=[mask(q)[:100] for q in list(named.values())[:5]])
    return done(console, request, ctx, {field: n, "keys": sorted(named)}, key=f"done_gaps_{action}",
                default="/console/gaps", detail=str(n))


@endpoint(*STAFF)
async def list_curated(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    status = request.query.get("status") or None
    if status not in (None, "active", "retired"):
        raise Refused(400, "error_bad_request", "status must be active or retired")
    return json_response({"curated": [curated_json(c) for c in await console.data.curated.entries(status)]})


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
async def create_curated(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    question, answer = _required(ctx, "question", 500), _required(ctx, "answer", 4000)
    examples = [q for q in _examples(ctx.body.get("examples")) if q != question]
    lang = str(ctx.body["lang"]) if ctx.body.get("lang") in ("zh", "en") else detect_lang(question)
    gap_keys = _named_keys(ctx, "gap_keys")  # written for a gap group: its questions are answered
    record = await console.data.curated.add(question, answer, examples, lang, ctx.account.username)
    if gap_keys:
        known = await _known(console)
        await console.data.gaps.decide({k: known[k] for k in gap_keys if k in known}, "answered",
                                        ctx.account.username, curated_id=record.id)
    await console.data.audit.record(ctx.account, "curated_create", f"curated:{record.id}", ctx.ip,
                                    question=question, gaps=len(gap_keys))
    return done(console, request, ctx, {"curated": curated_json(record)}, key="done_curated_create",
                default="/console/curated", status=201)


@endpoint(*STAFF)
async def update_curated(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
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
async def retire_curated(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    return await _save(console, request, ctx, number(request.match_info["id"]), {"status": "retired"},
                       "curated_retire")


async def _save(console: ConsoleContext, request: web.Request, ctx: Ctx, curated_id: int, values: dict[str, Any],
                action: str) -> web.StreamResponse:
    record = await console.data.curated.update(curated_id, ctx.account.username, **values)
    if record is None:
        raise Refused(404, "error_not_found")
    await console.data.audit.record(ctx.account, action, f"curated:{curated_id}", ctx.ip,
                                    fields=sorted(values))
    return done(console, request, ctx, {"curated": curated_json(record)}, key=f"done_{action}",
                default="/console/curated")
