"""Outbound rendering: a ``Reply`` -> WeCom text messages or kf payloads.

A text message carries at most 2048 UTF-8 bytes (WeCom cuts the rest), and a member may receive
30 messages a minute, so an answer is packed into at most two messages split at sentence
boundaries. An answer that does not fit is cut at a sentence boundary and its last message ends
with the sources and a link to the full answer with its citations on the web chat. On WeChat
Customer Service the buttons become one ``msgmenu`` (head and tail text at most 1024 bytes): a
short answer travels inside it, a longer one as text followed by the menu.
"""
from __future__ import annotations

import re
from typing import Any

from adapters.wecom import texts
from adapters.wecom.translate import menu_id
from bot import links
from bot.extractive import render_sources
from bot.settings import Settings
from bot.text import detect_lang
from bot.types import Reply

TEXT_LIMIT = 2048
MENU_TEXT_LIMIT = 1024
MAX_PARTS = 2
_PIECE = re.compile(r".+?(?:(?:[。！？!?；;…]+|\.(?=\s|$))[”’\"」』）)\]]*[ \t]*|\n+|$)", re.S)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def cut_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-8 bytes (never half a character)."""
    return text.encode("utf-8")[:max(limit, 0)].decode("utf-8", "ignore")


def pieces(text: str) -> list[str]:
    """Sentences and line breaks, in order, joining back to ``text``."""
    return [p for p in _PIECE.findall(text) if p]


def _fill(rest: list[str], limit: int) -> tuple[str, list[str]]:
    """As many whole pieces as fit in ``limit`` bytes; a lone piece too long is cut."""
    taken, used = [], 0
    for i, piece in enumerate(rest):
        size = utf8_len(piece)
        if used + size <= limit:
            taken.append(piece)
            used += size
        elif taken:
            return "".join(taken), rest[i:]
        else:
            head = cut_utf8(piece, limit)
            return head, [piece[len(head):], *rest[i + 1:]]
    return "".join(taken), []


def split_text(text: str, limit: int = TEXT_LIMIT, max_parts: int = MAX_PARTS) -> list[str] | None:
    """``text`` in at most ``max_parts`` messages of at most ``limit`` bytes; None if it does not fit."""
    parts: list[str] = []
    rest = pieces(text.strip())
    while rest and len(parts) < max_parts:
        part, rest = _fill(rest, limit)
        parts.append(part.strip())
    return None if rest else [p for p in parts if p]


def pack(text: str, tail: str, limit: int = TEXT_LIMIT, max_parts: int = MAX_PARTS) -> list[str]:
    """Like ``split_text``, but an overlong ``text`` is cut at a sentence boundary and the last
    message ends with ``tail`` (which must fit in one message)."""
    whole = split_text(text, limit, max_parts)
    if whole is not None:
        return whole
    parts: list[str] = []
    rest = pieces(text.strip())
    for i in range(max_parts):
        budget = limit if i < max_parts - 1 else limit - utf8_len(tail) - 1
        part, rest = _fill(rest, budget)
        parts.append(part.strip())
    parts[-1] = f"{parts[-1]}\n{tail}".strip()
    return [p for p in parts if p]


def reply_lang(reply: Reply) -> str:
    return detect_lang(reply.text) if reply.text.strip() else "zh"


def _with_sources(reply: Reply, lang: str) -> str:
    sources = render_sources(reply.citations, lang)
    return f"{reply.text.strip()}\n\n{sources}" if sources else reply.text.strip()


def _tail(reply: Reply, lang: str, link: str | None, limit: int) -> str:
    """The end of a cut answer: a cut mark, the sources when they fit, the full-answer link."""
    lines = [texts.text(lang, "cut_mark")]
    end = [texts.text(lang, "full_answer", url=link)] if link else []
    sources = render_sources(reply.citations, lang)
    if sources and utf8_len("\n".join([*lines, sources, *end])) <= limit // 2:
        lines.append(sources)
    return "\n".join(lines + end)


def text_messages(reply: Reply, link: str | None, max_parts: int = MAX_PARTS,
                  limit: int = TEXT_LIMIT) -> list[str]:
    """A reply as at most ``max_parts`` plain-text messages (the self-built app's form)."""
    lang = reply_lang(reply)
    return pack(_with_sources(reply, lang), _tail(reply, lang, link, limit), limit, max_parts)


def _menu_items(reply: Reply) -> list[dict[str, Any]]:
    items = []
    for button in reply.buttons:
        ident = menu_id(button.action, reply.message_id)
        if ident:
            items.append({"type": "click", "click": {"id": ident, "content": cut_utf8(button.label, 128)}})
    return items[:10]


def _menu(head: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"msgtype": "msgmenu", "msgmenu": {"head_content": head, "list": items}}


def text_payload(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def kf_payloads(reply: Reply, link: str | None, quota: int) -> list[dict[str, Any]]:
    """A reply as at most ``quota`` kf payloads (msgtype and its body; no touser, msgid).

    Short: one msgmenu whose head is the answer. Longer: text parts, then a msgmenu asking for
    feedback; when the quota is short the menu goes first, then text parts.
    """
    if quota <= 0:
        return []
    lang = reply_lang(reply)
    items, body = _menu_items(reply), _with_sources(reply, lang)
    if items and utf8_len(body) <= MENU_TEXT_LIMIT:
        return [_menu(body, items)]
    room = min(MAX_PARTS, quota - 1) if items else min(MAX_PARTS, quota)
    if room < 1:
        items, room = [], 1
    parts = [text_payload(t) for t in text_messages(reply, link, room)]
    return parts + ([_menu(texts.text(lang, "menu_head"), items)] if items else [])


def closing_payload(replies: list[Reply]) -> dict[str, Any]:
    """Several short notices in the one message an event code allows: their texts together, and
    the buttons of all of them as a msgmenu (e.g. "back to the assistant" + the rating stars)."""
    body = "\n\n".join(r.text.strip() for r in replies if r.text.strip())
    items = [item for r in replies for item in _menu_items(r)][:10]
    if items:
        return _menu(cut_utf8(body, MENU_TEXT_LIMIT), items)
    return text_payload(cut_utf8(body, TEXT_LIMIT))


class AnswerLinks:
    """Signed, expiring links to a stored answer on the web chat: ``{public_url}/answer/{token}``."""

    def __init__(self, settings: Settings):
        self.base = (settings.qdbot_public_url or f"http://{settings.qdbot_host}:{settings.qdbot_port}").rstrip("/")
        self._key = settings.secret_key()

    def __call__(self, message_id: int | None) -> str | None:
        if message_id is None:
            return None
        return f"{self.base}/answer/{links.sign(self._key, 'answer', message_id)}"
