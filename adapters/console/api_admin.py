"""Signing in and out, who am I, the dashboard, accounts and API tokens, the audit log, the OpenAPI document.

Login takes JSON (integrators, tests) or the login page's form; the form carries a double-submit CSRF
token (cookie and field must match) since there is no session yet. Failed and locked logins are
answered alike for unknown and known usernames, and written to the audit log.
"""
from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console import openapi as spec
from adapters.console.filters import days, number
from adapters.client_address import client_ip
from adapters.console.auth import Refused, _json, done, endpoint, flash_redirect, json_response, safe_next
from adapters.console.cookies import SESSION_COOKIE, Ctx, set_cookie
from adapters.console.html import token_page
from adapters.console.i18n import lang_of, t
from adapters.console.views import account_json, audit_json, changes, token_json
from bot import dashboard as dash
from bot.accounts import ADMIN, MANAGER, ROLES, STAFF
from bot.types import utcnow


LOGIN_CSRF_COOKIE = "qdbot_login_csrf"


async def openapi(console: ConsoleContext, request: web.Request) -> web.StreamResponse:
    return json_response(spec.document())


def home_for(role: str) -> str:
    return "/console/tickets" if role == MANAGER else "/console/dashboard"


async def _login_body(request: web.Request) -> tuple[dict[str, Any], bool]:
    if request.content_type == "application/json":
        return await _json(request), False
    if request.content_type == "application/x-www-form-urlencoded":
        body = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie, str(body.get("_csrf", ""))):
            raise Refused(403, "error_csrf")
        return body, True
    raise Refused(415, "error_bad_request", "JSON or a form")


async def login(console: ConsoleContext, request: web.Request) -> web.StreamResponse:
    lang = lang_of(request)
    try:
        body, form = await _login_body(request)
    except Refused as exc:
        return web.json_response({"error": t(lang, exc.key), "code": exc.key}, status=exc.status)
    username, password = str(body.get("username") or "").strip()[:64], str(body.get("password") or "")
    ip = client_ip(request, console.config.trusted_proxies)
    result = await console.accounts.login(username, password, ip)
    await console.data.audit.record(result.account, f"login_{result.status}", username, ip)
    if result.status != "ok" or result.account is None or result.session_token is None:
        key = "error_login_locked" if result.status == "locked" else "error_login_invalid"
        if form:
            target = safe_next(body.get("next"), "")
            back = "/console/login" + (f"?{urlencode({'next': target})}" if target else "")
            return flash_redirect(console, request, back, "error", key)
        status = 429 if result.status == "locked" else 401
        headers = {"Retry-After": str(max(1, int(result.retry_after + 0.999)))} if result.status == "locked" else None
        return web.json_response({"error": t(lang, key), "code": result.status}, status=status, headers=headers)
    account = result.account
    if form:
        resp: web.StreamResponse = web.HTTPSeeOther(safe_next(body.get("next"), home_for(account.role)))
    else:
        resp = json_response({"account": account_json(account),
                              "csrf": console.accounts.csrf_token(result.session_token)})
    set_cookie(resp, request, console, SESSION_COOKIE, result.session_token,
               max_age=int(console.accounts.session_ttl.total_seconds()))
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@endpoint()
async def logout(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    if ctx.session:
        await console.accounts.logout(ctx.session)
    await console.data.audit.record(ctx.account, "logout", "", ctx.ip)
    resp = done(console, request, ctx, {"ok": True}, key="done_logout", default="/console/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


@endpoint()
async def me(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    return json_response({"account": account_json(ctx.account), "via": ctx.via, "csrf": ctx.csrf})


async def dashboard_data(console: ConsoleContext, days: int) -> dash.Dashboard:
    tz = console.settings.handoff_timezone
    since, until = dash.period(days, tz, utcnow())
    return await console.data.figures.dashboard(since, until, tz)


@endpoint(*STAFF)
async def dashboard(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    period = days(request.query)
    return json_response((await dashboard_data(console, period)).as_json())


@endpoint(ADMIN)
async def list_accounts(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    accounts = await console.data.accounts.accounts()
    return json_response({"accounts": [account_json(a) | {"tokens": [
        token_json(tk) for tk in await console.data.accounts.tokens(a.id)]} for a in accounts]})


@endpoint(ADMIN)
async def list_tokens(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    names = {a.id: a.username for a in await console.data.accounts.accounts()}
    return json_response({"tokens": [token_json(tk) | {"username": names.get(tk.account_id, "")}
                                     for tk in await console.data.accounts.tokens()]})


@endpoint(ADMIN)
async def revoke_token(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    token_id = number(request.match_info["id"])
    token = await console.data.accounts.token(token_id)
    if token is None:
        raise Refused(404, "error_not_found")
    await console.data.accounts.revoke_token(token_id)
    await console.data.audit.record(ctx.account, "token_revoke", f"token:{token_id}", ctx.ip,
                                    account_id=token.account_id, name=token.name)
    return done(console, request, ctx, {"ok": True}, key="done_token_revoke", default="/console/accounts",
                detail=token.name or f"#{token_id}")


def _flag(value: Any) -> bool | None:
    if value in (None, ""):
        return None
    return str(value).lower() in ("1", "true", "yes", "on")


@endpoint(ADMIN)
async def create_account(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    b = ctx.body
    account = await console.accounts.create(str(b.get("username") or "").strip(), str(b.get("role") or ""),
                                            str(b.get("password") or ""), str(b.get("manager_id") or "").strip() or None)
    await console.data.audit.record(ctx.account, "account_create", f"account:{account.id}", ctx.ip,
                                    username=account.username, role=account.role)
    return done(console, request, ctx, {"account": account_json(account)}, key="done_account_create",
                default="/console/accounts", status=201, detail=account.username)


@endpoint(ADMIN)
async def update_account(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    account_id, b = number(request.match_info["id"]), ctx.body
    role = str(b.get("role") or "") or None
    if role is not None and role not in ROLES:
        raise Refused(400, "error_bad_request", "role")
    active = _flag(b.get("active"))
    if account_id == ctx.account.id and (active is False or (role and role != ADMIN)):
        raise Refused(400, "error_self_lockout")
    before = await console.data.accounts.account(account_id)
    updated = await console.accounts.update(account_id, role=role, active=active,
                                            manager_id=str(b.get("manager_id") or "").strip() or None,
                                            password=str(b.get("password") or "") or None)
    if updated is None:
        raise Refused(404, "error_not_found")
    changed = sorted(k for k in ("role", "active", "manager_id", "password") if b.get(k) not in (None, ""))
    await console.data.audit.record(ctx.account, "account_update", f"account:{account_id}", ctx.ip, fields=changed,
                                    **changes(before, updated))
    return done(console, request, ctx, {"account": account_json(updated)}, key="done_account_update",
                default="/console/accounts", detail=updated.username)


@endpoint(ADMIN)
async def issue_token(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    account = await console.data.accounts.account(number(request.match_info["id"]))
    if account is None:
        raise Refused(404, "error_not_found")
    name = str(ctx.body.get("name") or "").strip()[:128]
    scope = str(ctx.body.get("scope") or "full")
    days_raw = ctx.body.get("days")
    try:
        days = None if days_raw in (None, "") else float(days_raw)
    except (TypeError, ValueError):
        raise Refused(400, "error_bad_request", "days") from None
    if days is not None and not 0 <= days <= 3650:
        raise Refused(400, "error_bad_request", "days")
    raw = await console.accounts.issue_token(account, name, scope, days)
    await console.data.audit.record(ctx.account, "token_issue", f"account:{account.id}", ctx.ip, name=name,
                                    scope=scope, days=days)
    if ctx.form:
        return token_page(ctx, account.username, raw)
    return json_response({"token": raw, "account": account_json(account)}, status=201)


@endpoint(ADMIN)
async def audit(console: ConsoleContext, request: web.Request, ctx: Ctx) -> web.StreamResponse:
    before = request.query.get("before")
    rows = await console.data.audit.entries(200, number(before) if before else None,
                                            request.query.get("action") or None)
    return json_response({"audit": [audit_json(r) for r in rows],
                          "next_before": rows[-1].id if len(rows) == 200 else None})
