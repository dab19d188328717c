"""`Reply` -> Telegram: HTML parse-mode chunks of at most 4096 characters, and an inline keyboard.

HTML parse mode needs only ``& < >`` escaped. Telegram counts a message's length in UTF-16 code
units of the text after entity parsing, so the plain text is measured and split before escaping:
on paragraph, then line, then sentence, then word boundaries. Citations follow the answer as a
quoted "来源" / "Sources" list (the last chunk, or one of their own when they do not fit).

Callback data (<= 64 bytes): ``fb:up:<message_id>``, ``fb:down:<message_id>``, ``human``, and any
other engine action as it is (e.g. ``rate:<ticket>:<stars>``, handed to `Engine.button`).
"""
from __future__ import annotations

import html
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

import prompts
from bot.extractive import render_sources
from bot.states import ButtonAction
from bot.types import Button, Reply

MAX_CHARS = 4096
CHOSEN = "✅ "
HUMAN = "human"
_FEEDBACK, _RATE, _SAY = (f"{a}:" for a in (ButtonAction.FEEDBACK, ButtonAction.RATE, ButtonAction.SAY))  # action prefixes
_BREAKS = ("\n\n", "\n", "。", "！", "？", "；", ". ", "! ", "? ", "; ", " ")


def phrase(lang: str | None, key: str) -> str:
    """A Telegram-only user-facing sentence from prompts/<lang>/telegram.toml (zh by default)."""
    return prompts.text_from("telegram", lang, key)


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fitting(text: str, limit: int) -> int:
    """The longest prefix length (in characters) of text within limit UTF-16 units."""
    units, n = 0, 0
    for n, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return n
    return len(text)


def _cut(window: str) -> int:
    """Where to end a chunk inside window: after the last good break in its second half."""
    for mark in _BREAKS:
        at = window.rfind(mark)
        if at >= len(window) // 2:
            return at + len(mark)
    return len(window)


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Pieces of text, each within limit UTF-16 units, cut on the best boundary available."""
    pieces: list[str] = []
    text = text.strip()
    while utf16_len(text) > limit:
        cut = _cut(text[:_fitting(text, limit)])
        pieces.append(text[:cut].rstrip())
        text = text[cut:].strip()
    return pieces + ([text] if text else [])


def _body_and_sources(reply: Reply, lang: str) -> tuple[list[str], str]:
    sources = render_sources(reply.citations, lang)
    body = split_text(reply.text) or [""]
    return body, sources


def html_chunks(reply: Reply, lang: str) -> list[str]:
    """The reply as HTML messages: escaped text, then the sources as a quote."""
    body, sources = _body_and_sources(reply, lang)
    chunks = [escape(piece) for piece in body if piece]
    if sources:
        quote = f"<blockquote>{escape(sources)}</blockquote>"
        if chunks and utf16_len(body[-1]) + utf16_len(sources) + 2 <= MAX_CHARS:
            chunks[-1] = f"{chunks[-1]}\n\n{quote}"
        else:
            chunks += [f"<blockquote>{escape(s)}</blockquote>" for s in split_text(sources)]
    return chunks


def plain_chunks(reply: Reply, lang: str) -> list[str]:
    """The reply as plain-text messages (the fallback when Telegram refuses the HTML)."""
    body, sources = _body_and_sources(reply, lang)
    return split_text("\n\n".join(part for part in ("\n".join(body), sources) if part))


def _button(button: Button, message_id: int | None) -> InlineKeyboardButton | None:
    kind, _, rest = button.action.partition(":")
    if kind == ButtonAction.FEEDBACK:
        value, _, given = rest.partition(":")
        target = given or (str(message_id) if message_id is not None else "")
        return InlineKeyboardButton(button.label, callback_data=f"fb:{value}:{target}") if target else None
    if kind == ButtonAction.HANDOFF:
        return InlineKeyboardButton(button.label, callback_data=HUMAN)
    if kind == ButtonAction.URL:
        return InlineKeyboardButton(button.label, url=rest)
    if len(button.action.encode()) <= 64:
        return InlineKeyboardButton(button.label, callback_data=button.action)
    return None


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """👍/👎 on one row, the stars of a rating on one row, quick replies (intake choices, skip, cancel) two
    to a row, every other button on a row of its own."""
    made = [(b, _button(b, reply.message_id)) for b in reply.buttons]
    shared = [[k for b, k in made if k and b.action.startswith(kind)] for kind in (_FEEDBACK, _RATE)]
    quick = [k for b, k in made if k and b.action.startswith(_SAY)]
    others = [[k] for b, k in made if k and not b.action.startswith((_FEEDBACK, _RATE, _SAY))]
    rows = [row for row in shared if row] + [quick[i:i + 2] for i in range(0, len(quick), 2)] + others
    return InlineKeyboardMarkup(rows) if rows else None


def parse_callback(data: str | None) -> tuple[str, str | None, int | None] | None:
    """("feedback", "up"|"down", message_id), ("human", None, None), ("action", data, None) for
    another engine action (``name:...``); None when it is none of these."""
    if data == HUMAN:
        return HUMAN, None, None
    match = re.fullmatch(r"fb:(up|down):(\d{1,19})", data or "")
    if match:
        return "feedback", match.group(1), int(match.group(2))
    return ("action", data, None) if data and re.fullmatch(r"(?!fb:)[a-z]+:[\w:]+", data) else None


def is_chosen(markup: InlineKeyboardMarkup | None, data: str) -> bool:
    """Is the button with this callback data currently marked as chosen?"""
    return any(b.callback_data == data and b.text.startswith(CHOSEN) for b in _buttons(markup))


def _buttons(markup: InlineKeyboardMarkup | None) -> list[InlineKeyboardButton]:
    return [b for row in (markup.inline_keyboard if markup else ()) for b in row]


def _marked(button: InlineKeyboardButton, on: bool) -> InlineKeyboardButton:
    label = button.text.removeprefix(CHOSEN)
    return InlineKeyboardButton(CHOSEN + label if on else label, callback_data=button.callback_data,
                                url=button.url)


def _family(data: str) -> str:
    """Buttons of one family exclude each other: 👍/👎 ("fb"), the stars of one ticket ("rate:<id>")."""
    return "fb" if data.startswith("fb:") else data.rpartition(":")[0] or data


def with_choice(markup: InlineKeyboardMarkup, data: str, chosen: bool) -> InlineKeyboardMarkup:
    """The keyboard with data's button marked (or unmarked), its family's other buttons unmarked."""
    def on(button: InlineKeyboardButton) -> bool:
        if button.callback_data == data:
            return chosen
        exclusive = isinstance(button.callback_data, str) and _family(button.callback_data) == _family(data)
        return button.text.startswith(CHOSEN) and not exclusive
    return InlineKeyboardMarkup([[_marked(b, on(b)) for b in row] for row in markup.inline_keyboard])
