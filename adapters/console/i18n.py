"""The console's sentences (prompts/{zh,en}/console.toml): Chinese by default, English on request."""
from __future__ import annotations


from aiohttp import web

import prompts

LANG_COOKIE = "qdbot_console_lang"


def strings(lang: str) -> dict[str, str]:
    return prompts.table(lang, "console")


def t(lang: str, key: str, **fields: object) -> str:
    raw = strings(lang).get(key) or strings("zh").get(key) or key
    return raw.format(**fields) if fields else raw


def outcome(lang: str, text: str | None) -> str:
    """A ticket's outcome: the desk's own codes ("cancelled by staff", "nobody claimed") in the console's
    language; what a manager typed, as typed."""
    if not text:
        return ""
    return strings(lang).get(f"outcome:{text}") or text


def lang_of(request: web.Request) -> str:
    """?lang= first (the page then remembers it in a cookie), then the cookie, else Chinese."""
    for value in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in prompts.LANGS:
            return value
    return "zh"
