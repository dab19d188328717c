"""Who is calling, may they, and did their form come from our page: the `endpoint` decorator.

    anonymous              -> 401 (pages: redirect to the login page)
    role not allowed       -> 403
    unsafe method by cookie -> the CSRF token (header X-CSRF-Token, form field _csrf, or the first part
                              of a multipart form) must match the session's, else 403
    API token (Bearer)     -> no CSRF check: browsers never attach it by themselves; a read-only token
                              (scope "read") may only call GET/HEAD/OPTIONS, else 403 read_only

Errors the core raises on purpose become answers here: bad input 400, someone else's ticket 403, not
allowed in this state 409, an unreadable document 422. A browser form gets a redirect with a one-time
flash message instead. Every 403 is written to the audit log (`refused`, with the method, path and why).
"""
from __future__ import annotations

import base64
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from adapters.client_address import client_ip
from adapters.console.context import ConsoleContext
from adapters.console.cookies import FLASH_COOKIE, SESSION_COOKIE, Ctx, set_cookie
from adapters.console.html import error_page
from adapters.console.i18n import lang_of, t
from bot import links
from bot.errors import BadRequestError, DocumentError, HandoffError, NotPermittedError


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
Handler = Callable[[ConsoleContext, web.Request, "Ctx"], Awaitable[web.StreamResponse]]
Route = Callable[[ConsoleContext, web.Request], Awaitable[web.StreamResponse]]  # a handler behind `endpoint`


class Refused(Exception):
    """A request the console refuses: `key` names the sentence in console.toml."""

    def __init__(self, status: int, key: str, detail: str = ""):
        super().__init__(key)
        self.status, self.key, self.detail = status, key, detail








async def authenticate(console: ConsoleContext, request: web.Request) -> Ctx | None:
    lang, ip = lang_of(request), client_ip(request, console.config.trusted_proxies)
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        grant = await console.accounts.grant(header[7:].strip())
        return Ctx(grant.account, "token", lang, ip, read_only=grant.read_only) if grant else None
    raw = request.cookies.get(SESSION_COOKIE, "")
    account = await console.accounts.session(raw) if raw else None
    if account is None:
        return None
    return Ctx(account, "session", lang, ip, session=raw, csrf=console.accounts.csrf_token(raw))


async def read_body(console: ConsoleContext, request: web.Request, ctx: Ctx) -> None:
    """Parse the body (JSON, form or multipart) and check the CSRF token of cookie sessions."""
    ctype = request.content_type
    ctx.form = ctype in FORM_TYPES and ctx.via == "session"  # a browser form: answered with a redirect
    token = request.headers.get("X-CSRF-Token")
    if ctype == "multipart/form-data":
        ctx.multipart = await request.multipart()
        first = await ctx.multipart.next()
        if isinstance(first, BodyPartReader) and first.name == "_csrf":
            token = token or (await first.text())
        elif isinstance(first, BodyPartReader):
            ctx.pending_part = first
    elif ctype == "application/x-www-form-urlencoded":
        posted = await request.post()
        ctx.body = {k: v for k, v in posted.items() if isinstance(v, str)}
        ctx.lists = {k: [v for v in posted.getall(k) if isinstance(v, str)] for k in set(posted)}
        token = token or ctx.body.get("_csrf")
    elif ctype == "application/json":
        ctx.body = await _json(request)
    if ctx.via == "session" and not console.accounts.check_csrf(ctx.session or "", token):
        raise Refused(403, "error_csrf")


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "error_bad_json") from None
    if not isinstance(data, dict):
        raise Refused(400, "error_bad_json")
    return data


def endpoint(*roles: str, page: bool = False) -> Callable[[Handler], Route]:
    """Authenticate, authorise (`roles`; none: every role), check CSRF, translate refusals."""
    def decorate(fn: Handler) -> Route:
        @functools.wraps(fn)
        async def wrapper(console: ConsoleContext, request: web.Request) -> web.StreamResponse:
            ctx = await authenticate(console, request)
            if ctx is None:
                return _anonymous(request, page)
            try:
                if roles and ctx.role not in roles:
                    raise Refused(403, "error_forbidden")
                if ctx.read_only and request.method not in SAFE_METHODS:
                    raise Refused(403, "error_read_only")
                if request.method not in SAFE_METHODS:
                    await read_body(console, request, ctx)
                return await fn(console, request, ctx)
            except Refused as exc:
                return await _refused(console, request, ctx, exc.status, exc.key, exc.detail, page)
            except NotPermittedError as exc:
                return await _refused(console, request, ctx, 403, "error_forbidden", str(exc), page)
            except BadRequestError as exc:
                return refusal(console, request, ctx, 400, "error_bad_request", str(exc), page)
            except HandoffError as exc:
                return refusal(console, request, ctx, 409, "error_not_allowed", str(exc), page)
            except DocumentError as exc:
                return refusal(console, request, ctx, 422, "error_document", exc.reason, page)
        wrapper.roles = roles  # type: ignore[attr-defined]
        return wrapper
    return decorate


async def _refused(console: ConsoleContext, request: web.Request, ctx: Ctx, status: int, key: str, detail: str,
                   page: bool) -> web.StreamResponse:
    if status == 403:
        await console.data.audit.record(ctx.account, "refused", f"{request.method} {request.path}", ctx.ip,
                                        code=key.removeprefix("error_"), detail=detail[:200])
    return refusal(console, request, ctx, status, key, detail, page)


def _anonymous(request: web.Request, page: bool) -> web.StreamResponse:
    lang = lang_of(request)
    if page:
        raise web.HTTPSeeOther(f"/console/login?next={_quote(request.path_qs)}")
    return web.json_response({"error": t(lang, "error_unauthorized"), "code": "unauthorized"}, status=401,
                             headers={"WWW-Authenticate": 'Bearer realm="qdbot"'})


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="")


def refusal(console: ConsoleContext, request: web.Request, ctx: Ctx, status: int, key: str, detail: str,
            page: bool) -> web.StreamResponse:
    if ctx.form and status != 403:
        return redirect(console, request, ctx, "error", key, detail)
    if page:
        return error_page(ctx, status, t(ctx.lang, key), detail)
    return web.json_response({"error": t(ctx.lang, key), "code": key.removeprefix("error_"), "detail": detail},
                             status=status)


def safe_next(value: object, default: str) -> str:
    text = str(value or "")
    return text if text.startswith("/console") and not text.startswith("//") and "\\" not in text else default


def redirect(console: ConsoleContext, request: web.Request, ctx: Ctx, kind: str, key: str, detail: str = "",
             default: str = "/console") -> web.Response:
    """303 back to the page the form came from, with a signed one-time message."""
    return flash_redirect(console, request, safe_next(ctx.body.get("next"), default), kind, key, detail)


def flash_redirect(console: ConsoleContext, request: web.Request, location: str, kind: str, key: str,
                   detail: str = "") -> web.Response:
    resp = web.HTTPSeeOther(location)
    payload = base64.urlsafe_b64encode(json.dumps([kind, key, detail[:300]]).encode()).decode()
    set_cookie(resp, request, console, FLASH_COOKIE, links.sign(console.secret, "flash", payload, ttl_seconds=300))
    return resp


def done(console: ConsoleContext, request: web.Request, ctx: Ctx, data: Any, key: str = "saved",
         default: str = "/console", status: int = 200, detail: str = "") -> web.StreamResponse:
    """The JSON answer of an action, or for a browser form a redirect with a success message."""
    if ctx.form:
        return redirect(console, request, ctx, "ok", key, detail, default)
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps, headers={"Cache-Control": "no-store"})
