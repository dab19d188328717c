"""Pages: sign-in, the dashboard, accounts and API tokens (admin), the audit log (admin)."""
from __future__ import annotations

import secrets
from zoneinfo import ZoneInfo

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console import charts
from adapters.console.api_admin import LOGIN_CSRF_COOKIE, dashboard_data, home_for
from adapters.console.filters import days
from adapters.console.auth import authenticate, endpoint, safe_next
from adapters.console.cookies import FLASH_COOKIE, Ctx, pop_flash, set_cookie
from adapters.console.html import (
    badge, duration, e, field, form, html_response, page, period_tabs, remember_lang, select, shell, table, when,
)
from adapters.console.i18n import lang_of, t
from bot.accounts import ADMIN, ROLES, STAFF
from bot.records import AccountRecord, ApiTokenRecord
from bot.types import utcnow



async def home(console: ConsoleContext, request: web.Request) -> web.StreamResponse:
    ctx = await authenticate(console, request)
    raise web.HTTPSeeOther(home_for(ctx.role) if ctx else "/console/login")


async def login_page(console: ConsoleContext, request: web.Request) -> web.StreamResponse:
    """The sign-in form, with a double-submit CSRF token (cookie and hidden field)."""
    lang, nxt = lang_of(request), safe_next(request.query.get("next"), "")
    if await authenticate(console, request) is not None:
        raise web.HTTPSeeOther(nxt or "/console")
    token, flash = secrets.token_urlsafe(24), pop_flash(console, request)
    message = f'<div class="flash error" role="alert">{e(t(lang, flash[1]))}</div>' if flash else ""
    other = "en" if lang == "zh" else "zh"
    body = (f'<div class="login-card"><h1>{e(t(lang, "console_name"))}</h1>{message}'
            f'<form method="post" action="/api/admin/login"><input type="hidden" name="_csrf" value="{token}">'
            f'<input type="hidden" name="next" value="{e(nxt)}">'
            + field(t(lang, "username"), '<input name="username" autocomplete="username" required autofocus>')
            + field(t(lang, "password"), '<input name="password" type="password" autocomplete="current-password" '
                                         'required>')
            + f'<button class="primary">{e(t(lang, "login"))}</button></form>'
            f'<p class="muted"><a href="/console/login?lang={other}" lang="{other}">{e(t(lang, "lang_switch"))}</a>'
            f'</p></div>')
    resp = html_response(shell(lang, t(lang, "login"), body))
    set_cookie(resp, request, console, LOGIN_CSRF_COOKIE, token, max_age=3600)
    remember_lang(resp, request, console)
    if flash:
        resp.del_cookie(FLASH_COOKIE, path="/")
    return resp


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _cards(items: list[tuple[str, str]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="card-label">{e(k)}</div><div class="card-value">{e(v)}</div></div>'
        for k, v in items) + "</div>"


@endpoint(*STAFF, page=True)
async def dashboard_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    period = days(request.query)
    d, lang = await dashboard_data(console, period), ctx.lang
    cards = _cards([
        (t(lang, "kpi_messages"), f"{d.messages:,}"), (t(lang, "kpi_users"), f"{d.unique_users:,}"),
        (t(lang, "kpi_answered_rate"), _percent(d.answered_rate)), (t(lang, "kpi_handoffs"), str(d.sla.tickets)),
        (t(lang, "kpi_median_wait"), duration(d.sla.median_wait_to_claim_s, lang)),
        (t(lang, "kpi_feedback"), f'{t(lang, "thumbs_up")} {d.feedback_up} · {t(lang, "thumbs_down")} '
                                  f'{d.feedback_down} ({_percent(d.feedback_ratio)})'),
        (t(lang, "kpi_latency"), f"p50 {_ms(d.latency_p50_ms)} · p95 {_ms(d.latency_p95_ms)}"),
    ])
    answered = charts.share_bar([(t(lang, "answered"), d.answered), (t(lang, "not_answered"), d.not_answered)],
                                t(lang, "kpi_answered_rate"))
    modes = charts.share_bar([(t(lang, "mode_" + m), n) for m, n in sorted(d.by_mode.items())], t(lang, "by_mode"))
    body = (f'{period_tabs(lang, period)}{cards}<section><h2>{e(t(lang, "messages_per_day"))}</h2>'
            f'{charts.stacked_bars(d.days, d.per_day, t(lang, "messages_per_day"))}</section>'
            f'<div class="two"><section><h2>{e(t(lang, "kpi_answered_rate"))}</h2>{answered}'
            f'<h2>{e(t(lang, "by_mode"))}</h2>{modes}</section>'
            f'<section><h2>{e(t(lang, "top_topics"))}</h2>{charts.bar_list(d.top_topics, t(lang, "top_topics"))}'
            f'</section></div>')
    return page(console, request, ctx, t(lang, "nav_dashboard"), body, "dashboard")


def _token_item(ctx: Ctx, tk: ApiTokenRecord, tz: ZoneInfo) -> str:
    lang, now = ctx.lang, utcnow()
    state = "revoked" if tk.revoked else ("expired" if not tk.valid(now) else "")
    revoke = "" if state else form(ctx, f"/api/admin/tokens/{tk.id}/revoke",
                                   f'<button>{e(t(lang, "revoke_token"))}</button>', next_="/console/accounts",
                                   cls="row-form")
    return (f'<li>{e(tk.name or "#" + str(tk.id))} · {e(t(lang, "scope_" + tk.scope))} · '
            f'{e(t(lang, "token_expires"))} {e(when(tk.expires_at, tz) if tk.expires_at else "—")} · '
            f'{e(t(lang, "token_last_used"))} {e(when(tk.last_used_at, tz) if tk.last_used_at else "—")}'
            f'{" · " + e(t(lang, state)) if state else ""}{revoke}</li>')


def _account_row(ctx: Ctx, a: AccountRecord, tokens: list[ApiTokenRecord], tz: ZoneInfo) -> list[str]:
    lang = ctx.lang
    roles = select("role", [(r, t(lang, "role_" + r)) for r in ROLES], a.role)
    active = select("active", [("true", t(lang, "active")), ("false", t(lang, "inactive"))], "true" if a.active else "false")
    edit = form(ctx, f"/api/admin/accounts/{a.id}", roles + active
                + f'<input name="manager_id" value="{e(a.manager_id or "")}" placeholder="{e(t(lang, "manager_id"))}">'
                + f'<input name="password" type="password" placeholder="{e(t(lang, "new_password"))}" autocomplete="new-password">'
                + f'<button>{e(t(lang, "save"))}</button>', next_="/console/accounts", cls="row-form")
    scopes = select("scope", [(s, t(lang, "scope_" + s)) for s in ("full", "read")], "full")
    token = form(ctx, f"/api/admin/accounts/{a.id}/tokens",
                 f'<input name="name" placeholder="{e(t(lang, "token_name"))}">{scopes}'
                 f'<input name="days" type="number" min="0" max="3650" placeholder="{e(t(lang, "token_days"))}">'
                 f'<button>{e(t(lang, "issue_token"))}</button>', cls="row-form")
    listed = f'<ul class="tokens">{"".join(_token_item(ctx, tk, tz) for tk in tokens)}</ul>' if tokens else "0"
    return [e(a.username), e(t(lang, "role_" + a.role)), e(a.manager_id or "—"),
            badge(t(lang, "active" if a.active else "inactive"), "ok" if a.active else "muted"),
            e(when(a.last_login_at, tz)), listed, edit + token]


@endpoint(ADMIN, page=True)
async def accounts_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    lang, directory = ctx.lang, console.data.accounts
    rows = [_account_row(ctx, a, await directory.tokens(a.id), console.tz) for a in await directory.accounts()]
    create = form(ctx, "/api/admin/accounts",
                  field(t(lang, "username"), '<input name="username" required>')
                  + field(t(lang, "role"), select("role", [(r, t(lang, "role_" + r)) for r in ROLES], "operator"))
                  + field(t(lang, "manager_id"), '<input name="manager_id">')
                  + field(t(lang, "password"), '<input name="password" type="password" required minlength="10" '
                                               'autocomplete="new-password">')
                  + f'<button class="primary">{e(t(lang, "create_account"))}</button>', next_="/console/accounts",
                  cls="stack")
    headers = [t(lang, k) for k in ("username", "role", "manager_id", "status", "last_login", "tokens", "actions")]
    body = f'{table(headers, rows)}<section><h2>{e(t(lang, "create_account"))}</h2>{create}</section>'
    return page(console, request, ctx, t(lang, "nav_accounts"), body, "accounts")




@endpoint(ADMIN, page=True)
async def audit_page(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    action = request.query.get("action") or None
    rows = await console.data.audit.entries(200, None, action)
    lang = ctx.lang
    body = table([t(lang, k) for k in ("time", "username", "action", "target", "ip", "detail")],
                 [[e(when(r.at, console.tz)), e(r.username), e(r.action), e(r.target), e(r.ip or ""),
                   f'<code>{e(r.detail) if r.detail else ""}</code>'] for r in rows], empty=t(lang, "empty"))
    return page(console, request, ctx, t(lang, "nav_audit"), body, "audit")
