"""Pages: the conversation list with its filters and keyset pager, and one transcript."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.api_conversations import conversations_data, transcript_data
from adapters.console.cookies import Ctx
from adapters.console.auth import endpoint
from adapters.console.filters import number, query_string
from adapters.console.html import badge, e, field, page, select, table, when
from adapters.console.i18n import outcome, t
from bot.accounts import STAFF
from bot.types import TEST_CHANNELS



def _filters(console: ConsoleContext, ctx: Ctx, q: Any) -> str:
    lang = ctx.lang
    channels = sorted({*console.engine.channel_names(), "web", "telegram", "wecom"} - {"console"}) + list(TEST_CHANNELS)
    any_ = ("", t(lang, "any"))
    controls = [
        field(t(lang, "channel"), select("channel", [any_, *((c, c) for c in channels)], q.get("channel", ""))),
        field(t(lang, "date_from"), f'<input type="date" name="from" value="{e(q.get("from", ""))}">'),
        field(t(lang, "date_to"), f'<input type="date" name="to" value="{e(q.get("to", ""))}">'),
        field(t(lang, "keyword"), f'<input type="search" name="q" value="{e(q.get("q", ""))}" maxlength="100">'),
        field(t(lang, "handoff"), select("handoff", [any_, ("yes", t(lang, "yes")), ("no", t(lang, "no"))],
                                         q.get("handoff", ""))),
        field(t(lang, "feedback"), select("feedback", [any_, ("up", t(lang, "thumbs_up")), ("down", t(lang, "thumbs_down"))],
                                          q.get("feedback", ""))),
        field(t(lang, "mode"), select("mode", [any_, *((m, t(lang, "mode_" + m)) for m in ("llm", "extractive", "curated"))],
                                      q.get("mode", ""))),
        f'<label class="check"><input type="checkbox" name="unanswered" value="1"'
        f'{" checked" if q.get("unanswered") else ""}> {e(t(lang, "unanswered"))}</label>',
    ]
    return (f'<form method="get" class="filters" role="search">{"".join(controls)}'
            f'<button class="primary">{e(t(lang, "apply"))}</button>'
            f'<a class="button" href="/console/conversations">{e(t(lang, "reset"))}</a>'
            + "".join(f'<a class="button{" active" if q.get("period") == p else ""}" href="/console/conversations?'
                      f'{e(query_string(q, period=p, **{"from": None}, cursor=None))}">{e(t(lang, "period_" + p))}</a>'
                      for p in ("today", "24h")) + '</form>')


def _flags(ctx: Ctx, c: dict[str, Any]) -> str:
    lang, out = ctx.lang, []
    if c["ticket_state"]:
        out.append(badge(t(lang, "handoff") + " · " + t(lang, "state_" + c["ticket_state"]), "amber"))
    if c["feedback_up"]:
        out.append(badge(f'{t(lang, "thumbs_up")} {c["feedback_up"]}', "ok"))
    if c["feedback_down"]:
        out.append(badge(f'{t(lang, "thumbs_down")} {c["feedback_down"]}', "error"))
    if c["no_answer"]:
        out.append(badge(f'{t(lang, "unanswered")} {c["no_answer"]}', "muted"))
    return " ".join(out)


def _row(console: ConsoleContext, ctx: Ctx, c: dict[str, Any]) -> list[str]:
    link = f'<a href="/console/conversations/{c["id"]}">{e(c["first_question"] or "#" + str(c["id"]))}</a>'
    modes = " ".join(t(ctx.lang, "mode_" + m) for m in c["modes"])
    return [e(when(datetime.fromisoformat(c["updated_at"]), console.tz)), e(c["channel"]), e(c["user"]), link,
            str(c["messages"]), _flags(ctx, c), e(modes)]


@endpoint(*STAFF, page=True)
async def list_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    q, lang = request.query, ctx.lang
    data = await conversations_data(console, ctx, q)
    headers = [t(lang, k) for k in ("last_activity", "channel", "user", "first_question", "messages", "flags", "mode")]
    rows = [_row(console, ctx, c) for c in data["conversations"]]
    pager = []
    if q.get("cursor"):
        pager.append(f'<a class="button" href="?{e(query_string(q, cursor=None))}">{e(t(lang, "first_page"))}</a>')
    if data["next_cursor"]:
        pager.append(f'<a class="button" rel="next" href="?{e(query_string(q, cursor=data["next_cursor"]))}">'
                     f'{e(t(lang, "next_page"))}</a>')
    exports = "".join(f'<a class="button" href="/api/admin/export?{e(query_string(q, cursor=None, format=fmt))}" '
                      f'download>{e(t(lang, "export_" + fmt))}</a>' for fmt in ("csv", "jsonl"))
    body = (f'{_filters(console, ctx, q)}<div class="toolbar"><span class="muted">{e(t(lang, "search_" + data["search"]))}'
            f'</span><span class="spacer"></span>{exports}</div>'
            f'{table(headers, rows, empty=t(lang, "no_conversations"))}<nav class="pager">{"".join(pager)}</nav>')
    return page(console, request, ctx, t(lang, "nav_conversations"), body, "conversations")


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else e(value if value is not None else "—")


def _passages(ctx: Ctx, items: list[dict[str, Any]]) -> str:
    rows = [[e(p.get("title")), e(p.get("section")), _num(p.get("score")), _num(p.get("dense")), _num(p.get("lexical")),
             f'<div class="snippet">{e(p.get("text"))}</div>'] for p in items]
    return table([t(ctx.lang, k) for k in ("doc_title", "section", "score", "dense", "lexical", "text")], rows,
                 cls="grid compact")


def _answer_details(ctx: Ctx, m: dict[str, Any]) -> str:
    lang = ctx.lang
    facts = [(t(lang, "mode"), t(lang, "mode_" + m["mode"]) if m.get("mode") else "—"),
             (t(lang, "latency"), f'{m["latency_ms"]} ms' if m.get("latency_ms") is not None else "—"),
             (t(lang, "rewritten_query"), m.get("rewritten_query") or "—"),
             (t(lang, "feedback"), t(lang, "thumbs_" + m["feedback"]) if m.get("feedback") else "—")]
    if m.get("notice"):
        facts.append((t(lang, "notice"), m["notice"]))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    sources = "".join(f'<li>[{n}] {e(s.get("title"))} · {e(s.get("section"))}</li>'
                      for n, s in enumerate(m.get("sources") or [], 1))
    return (f'<details class="answer-details"><summary>{e(t(lang, "answer_details"))}</summary><dl>{dl}</dl>'
            f'<h4>{e(t(lang, "citations"))}</h4><ol class="sources">{sources}</ol>'
            f'<h4>{e(t(lang, "passages"))}</h4>{_passages(ctx, m.get("passages") or [])}</details>')


def turn_html(console: ConsoleContext, ctx: Ctx, m: dict[str, Any]) -> str:
    """One turn with its author; assistant answers with what they were built from."""
    author = t(ctx.lang, "role_turn_" + m["role"]) + (f' · {m["author"]}' if m.get("author") and m["role"] == "manager" else "")
    extra = _answer_details(ctx, m) if m["role"] == "assistant" and m.get("mode") else ""
    flag = badge(t(ctx.lang, "unanswered"), "muted") if m.get("no_answer") else ""
    flag += badge(t(ctx.lang, "stopped_by_user"), "amber") if m.get("stopped") else ""
    return (f'<article class="turn {e(m["role"])}" data-id="{m["id"]}"><header><strong>{e(author)}</strong> '
            f'<time>{e(when(datetime.fromisoformat(m["created_at"]), console.tz))}</time> {flag}</header>'
            f'<div class="text">{e(m["text"])}</div>{extra}</article>')


@endpoint(*STAFF, page=True)
async def transcript_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    data = await transcript_data(console, ctx, number(request.match_info["id"]))
    c, lang = data["conversation"], ctx.lang
    tickets = "".join(f'<li><a href="/console/tickets/{tk["id"]}">#{tk["id"]}</a> '
                      f'{badge(t(lang, "state_" + tk["state"]), "amber")} {e(outcome(lang, tk["outcome"]))}</li>'
                      for tk in data["tickets"])
    head = (f'<p class="meta">{e(c["channel"])} · {e(c["user"])} · {e(t(lang, "started"))} '
            f'{e(when(datetime.fromisoformat(c["created_at"]), console.tz))}</p>'
            + (f'<h2>{e(t(lang, "nav_tickets"))}</h2><ul class="plain">{tickets}</ul>' if tickets else ""))
    turns = "".join(turn_html(console, ctx, m) for m in data["messages"])
    body = f'{head}<section class="transcript">{turns}</section>'
    return page(console, request, ctx, t(lang, "transcript_title", id=c["id"]), body, "conversations")

