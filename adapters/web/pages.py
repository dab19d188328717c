"""The page, its assets (served from memory, no CDN), its UI sentences and the standalone answer page."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.static_files import StaticFiles

import prompts
from bot.records import StoredMessage

STATIC = Path(__file__).parent / "static"
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


def say(lang: str, key: str, /, **fields: object) -> str:
    return prompts.text_from("web", lang, key, **fields)


FILES = StaticFiles(STATIC, (".html", ".js", ".css", ".svg"), SECURITY_HEADERS)


def asset_response(request: web.Request, name: str) -> web.Response:
    return FILES.response(request, name)


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
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}" data-scheme="light dark">'
            f'<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
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
