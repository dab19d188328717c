"""The page, its assets (served from memory, no CDN), its UI sentences and the standalone answer page."""
from __future__ import annotations

import hashlib
import html
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web

import prompts
from bot.records import StoredMessage

STATIC = Path(__file__).parent / "static"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_MARKER = re.compile(r"\[(\d{1,2})\]")


def ui(lang: str) -> dict[str, Any]:
    """Every sentence of the page in `lang` (prompts/{zh,en}/web.toml)."""
    return prompts.table(lang, "web")


def say(lang: str, key: str, **fields: object) -> str:
    return prompts.text_from("web", lang, key, **fields)


class Asset:
    def __init__(self, path: Path):
        self.body = path.read_bytes()
        self.content_type = TYPES.get(path.suffix, "application/octet-stream")
        self.etag = hashlib.sha256(self.body).hexdigest()[:20]

    def response(self, request: web.Request) -> web.Response:
        """The file, or 304 when the browser's copy is current (revalidated on every use)."""
        headers = {"ETag": f'"{self.etag}"', "Cache-Control": "no-cache", **SECURITY_HEADERS}
        if request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.body, content_type=self.content_type, charset="utf-8", headers=headers)


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    return {p.name: Asset(p) for p in STATIC.iterdir() if p.suffix in TYPES}


def asset_response(request: web.Request, name: str) -> web.Response:
    asset = assets().get(name)
    if asset is None:
        raise web.HTTPNotFound(text="not found")
    return asset.response(request)


# ---------------------------------------------------------------- the standalone answer page

def _e(text: object) -> str:
    return html.escape(str(text or ""), quote=True)


def _marked(text: str) -> str:
    """Escaped answer text whose [n] markers link to the n-th source below."""
    return _MARKER.sub(lambda m: f'<a class="cite" href="#source-{m[1]}">[{m[1]}]</a>', _e(text))


def _source_item(n: int, s: dict[str, Any], lang: str) -> str:
    meta = "".join(f'<div class="meta"><span class="label">{_e(say(lang, key))}</span> {_e(s.get(field))}</div>'
                   for key, field in (("source_section", "section"), ("source_file", "source")) if s.get(field))
    return (f'<li id="source-{n}"><div class="source-title">[{n}] {_e(s.get("title"))}</div>{meta}'
            f'<blockquote>{_e(s.get("text"))}</blockquote></li>')


def _page(lang: str, title: str, body: str) -> str:
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(title)}</title><link rel="icon" href="/static/icon.svg" type="image/svg+xml">'
            f'<link rel="stylesheet" href="/static/style.css"></head>'
            f'<body class="standalone"><main class="answer-page">{body}'
            f'<p><a class="button" href="/">{_e(say(lang, "open_chat"))}</a></p></main></body></html>')


def answer_html(answer: StoredMessage, question: StoredMessage | None, lang: str) -> str:
    """One stored answer with its question and every citation in full."""
    sources = answer.meta.get("sources") or []
    items = "".join(_source_item(n, s, lang) for n, s in enumerate(sources, 1))
    q = (f'<section><h2>{_e(say(lang, "answer_question"))}</h2><p class="question">{_e(question.text)}</p>'
         f'</section>') if question else ""
    body = (f'<h1>{_e(say(lang, "answer_page_title"))}</h1>{q}'
            f'<section><h2>{_e(say(lang, "answer_answer"))}</h2><p class="answer-text">{_marked(answer.text)}</p>'
            f'</section>')
    if items:
        body += f'<section><h2>{_e(say(lang, "sources"))}</h2><ol class="source-list">{items}</ol></section>'
    return _page(lang, say(lang, "answer_page_title"), body)


def not_found_html(lang: str) -> str:
    body = f'<h1>{_e(say(lang, "answer_not_found_title"))}</h1><p>{_e(say(lang, "answer_not_found"))}</p>'
    return _page(lang, say(lang, "answer_not_found_title"), body)


def html_response(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store", **SECURITY_HEADERS})
