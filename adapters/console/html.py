"""The console's page shell and small HTML pieces. Every value goes through `e` (html.escape).

No inline script or style: the Content-Security-Policy allows only this app's own files; charts are
inline SVG drawn on the server (`charts.py`).
"""
from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.console.cookies import FLASH_COOKIE, Ctx, pop_flash, set_cookie
from adapters.console.i18n import LANG_COOKIE, t
from bot.accounts import ADMIN, MANAGER, STAFF


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NAV = [("dashboard", "/console/dashboard", STAFF), ("conversations", "/console/conversations", STAFF),
       ("tickets", "/console/tickets", (*STAFF, MANAGER)), ("kb", "/console/kb", STAFF), ("calendar", "/console/calendar", STAFF),
       ("support", "/console/support", STAFF),
       ("gaps", "/console/gaps", STAFF), ("curated", "/console/curated", STAFF),
       ("accounts", "/console/accounts", (ADMIN,)), ("audit", "/console/audit", (ADMIN,))]


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"


def duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 1:
        return t(lang, "seconds", n=int(seconds))
    if minutes < 120:
        return t(lang, "minutes", n=minutes)
    return t(lang, "hours", n=round(minutes / 60, 1))


def csrf_field(ctx: Ctx) -> str:
    return f'<input type="hidden" name="_csrf" value="{e(ctx.csrf)}">'


def form(ctx: Ctx, action: str, inner: str, *, next_: str = "", cls: str = "", multipart: bool = False,
         confirm: str = "", ident: str = "") -> str:
    """A POST form carrying the CSRF token first (multipart forms are checked on their first part); `ident` is
    its id, for controls elsewhere on the page that belong to it (`form="..."`)."""
    enc = ' enctype="multipart/form-data"' if multipart else ""
    data = f' data-confirm="{e(confirm)}"' if confirm else ""
    data += f' id="{e(ident)}"' if ident else ""
    back = f'<input type="hidden" name="next" value="{e(next_)}">' if next_ else ""
    return (f'<form method="post" action="{e(action)}" class="{e(cls)}"{enc}{data}>{csrf_field(ctx)}{back}'
            f'{inner}</form>')


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "grid", empty: str = "") -> str:
    """`rows` are HTML already (escape the values when building them)."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body and empty:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    return f'<div class="table-wrap"><table class="{e(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def field(label: str, control: str, cls: str = "") -> str:
    return f'<label class="field {e(cls)}"><span>{e(label)}</span>{control}</label>'


def select(name: str, options: Iterable[tuple[str, str]], current: str = "") -> str:
    opts = "".join(f'<option value="{e(v)}"{" selected" if v == current else ""}>{e(label)}</option>'
                   for v, label in options)
    return f'<select name="{e(name)}">{opts}</select>'


def period_tabs(lang: str, current: int, choices: tuple[int, ...] = (7, 30, 90), keep: str = "") -> str:
    """Links to the last 7, 30 or 90 days; `keep` is the rest of the query string (e.g. `state=open`)."""
    rest = f"&amp;{e(keep)}" if keep else ""
    links = "".join(f'<a href="?days={n}{rest}"{" aria-current=page" if n == current else ""}>'
                    f'{e(t(lang, "last_days", n=n))}</a>' for n in choices)
    return f'<nav class="tabs">{links}</nav>'


def badge(text: str, kind: str = "") -> str:
    return f'<span class="badge {e(kind)}">{e(text)}</span>'


def _nav(ctx: Ctx, active: str) -> str:
    links = "".join(f'<a href="{href}"{" aria-current=page" if key == active else ""}>{e(t(ctx.lang, "nav_" + key))}</a>'
                    for key, href, roles in NAV if ctx.role in roles)
    return f'<nav class="nav" aria-label="{e(t(ctx.lang, "nav_label"))}">{links}</nav>'


def _user(ctx: Ctx, request: web.Request) -> str:
    other = "en" if ctx.lang == "zh" else "zh"
    logout = form(ctx, "/api/admin/logout", f'<button class="link">{e(t(ctx.lang, "logout"))}</button>',
                  next_="/console/login", cls="inline")
    return (f'<div class="user"><span>{e(ctx.account.username)} · {e(t(ctx.lang, "role_" + ctx.role))}</span>'
            f'<a href="{e(request.path)}?lang={other}" lang="{other}">{e(t(ctx.lang, "lang_switch"))}</a>{logout}</div>')


def _flash(console: ConsoleContext, request: web.Request, lang: str) -> str:
    flash = pop_flash(console, request)
    if flash is None:
        return ""
    kind, key, detail = flash
    text = t(lang, key) + (f" {detail}" if detail else "")
    return f'<div class="flash {"error" if kind == "error" else "ok"}" role="status">{e(text)}</div>'


def shell(lang: str, title: str, body: str, header: str = "") -> str:
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)} · '
            f'{e(t(lang, "console_name"))}</title><link rel="icon" href="/static/icon.svg" type="image/svg+xml">'
            f'<link rel="stylesheet" href="/console/static/console.css">'
            f'<script src="/console/static/console.js" defer></script></head>'
            f'<body>{header}<main class="main">{body}</main></body></html>')


def page(console: ConsoleContext, request: web.Request, ctx: Ctx, title: str, body: str, active: str = "") -> web.Response:
    """A full console page for a signed-in user; the one-time message is shown and cleared."""
    header = (f'<header class="top"><a class="brand" href="/console">{e(t(ctx.lang, "console_name"))}</a>'
              f'{_nav(ctx, active)}{_user(ctx, request)}</header>')
    flash = _flash(console, request, ctx.lang)
    resp = html_response(shell(ctx.lang, title, f"{flash}<h1>{e(title)}</h1>{body}", header))
    remember_lang(resp, request, console)
    if flash:
        resp.del_cookie(FLASH_COOKIE, path="/")
    return resp


def remember_lang(resp: web.StreamResponse, request: web.Request, console: ConsoleContext) -> None:
    lang = request.query.get("lang")
    if lang in ("zh", "en"):
        set_cookie(resp, request, console, LANG_COOKIE, lang, max_age=365 * 86400)


def html_response(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS)


def error_page(ctx: Ctx, status: int, message: str, detail: str = "") -> web.Response:
    body = (f'<p class="flash error">{e(message)} {e(detail)}</p>'
            f'<p><a class="button" href="/console">{e(t(ctx.lang, "back_home"))}</a></p>')
    return html_response(shell(ctx.lang, str(status), f"<h1>{status}</h1>{body}"), status)


def token_page(ctx: Ctx, username: str, raw: str) -> web.Response:
    """The one time an issued API token is shown."""
    lang = ctx.lang
    body = (f'<h1>{e(t(lang, "token_issued", username=username))}</h1><p>{e(t(lang, "token_once"))}</p>'
            f'<pre class="token">{e(raw)}</pre><p><a class="button" href="/console/accounts">{e(t(lang, "back"))}</a></p>')
    return html_response(shell(lang, t(lang, "issue_token"), body))
