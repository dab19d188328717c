"""Sending one `Reply`: HTML chunks with the keyboard under the last one, errors translated.

- 429: `AIORateLimiter` waits ``retry_after`` and retries (TELEGRAM_RATE_LIMIT_RETRIES times);
- 403 (the user blocked the bot, or it was removed from the group): the conversation is marked
  blocked and nothing is retried;
- 400 for HTML Telegram cannot parse or a text too long: sent again as plain text;
- anything else from PTB becomes a `DeliveryError` (``raise ... from``).

A reply to an inbound update goes through that update's `TurnResponder` (the engine's `Responder`): the
first chunk replaces the preview message, and group answers quote the question.
"""
from __future__ import annotations

import structlog
from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from adapters.telegram.render import html_chunks, keyboard, plain_chunks
from adapters.telegram.stream import Turn
from adapters.telegram.translate import CHANNEL
from bot.errors import DeliveryError, StorageError
from bot.engine import Engine
from bot.text import detect_lang
from bot.types import Reply

log = structlog.get_logger("qdbot.telegram")
_FORMAT_PROBLEMS = ("can't parse entities", "message is too long", "text is too long")


def _format_problem(exc: BadRequest) -> bool:
    return any(problem in str(exc).lower() for problem in _FORMAT_PROBLEMS)


class Sender:
    """Delivers replies to Telegram chats through one PTB bot."""

    def __init__(self, bot: Bot, engine: Engine):
        self.bot, self.engine = bot, engine

    async def send(self, chat_id: str, reply: Reply, turn: Turn | None = None) -> str | None:
        """Deliver reply (inside `turn`, the update it answers, when given); the platform id of its last
        message. DeliveryError when Telegram refuses."""
        try:
            message_id = await self._send(int(chat_id), reply, turn)
        except Forbidden as exc:
            await self._mark_blocked(chat_id)
            raise DeliveryError(f"telegram chat {chat_id} blocked the bot: {exc}") from exc
        except (TelegramError, ValueError) as exc:
            raise DeliveryError(f"telegram send to {chat_id} failed: {exc}") from exc
        return str(message_id) if message_id is not None else None

    async def _send(self, chat: int, reply: Reply, turn: Turn | None) -> int | None:
        lang = (turn.lang if turn else None) or detect_lang(reply.text)
        reuse = await turn.preview.settle() if turn and turn.preview.begun else None
        markup, quote = keyboard(reply), turn.reply_to if turn else None
        try:
            return await self._deliver(chat, html_chunks(reply, lang), markup, ParseMode.HTML, reuse, quote)
        except BadRequest as exc:
            if not _format_problem(exc):
                raise
            log.warning("html_refused", chat=chat, error=str(exc))
            return await self._deliver(chat, plain_chunks(reply, lang), markup, None, reuse, quote)

    async def _deliver(self, chat: int, chunks: list[str], markup: InlineKeyboardMarkup | None,
                       parse_mode: str | None, reuse: int | None, quote: int | None) -> int | None:
        last = None
        for i, text in enumerate(chunks):
            kb = markup if i == len(chunks) - 1 else None
            if i == 0 and reuse is not None:
                last = await self._edit(chat, reuse, text, kb, parse_mode)
                continue
            reply_to = ReplyParameters(quote, allow_sending_without_reply=True) if i == 0 and quote else None
            sent = await self.bot.send_message(chat, text, parse_mode=parse_mode, reply_markup=kb,
                                               reply_parameters=reply_to)
            last = sent.message_id
        return last

    async def _edit(self, chat: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None,
                    parse_mode: str | None) -> int:
        """Turn the preview message into the answer; a new message when it cannot be edited."""
        try:
            await self.bot.edit_message_text(text, chat, message_id, parse_mode=parse_mode, reply_markup=markup)
        except BadRequest as exc:
            if _format_problem(exc):
                raise
            if "not modified" not in str(exc).lower():
                return (await self.bot.send_message(chat, text, parse_mode=parse_mode, reply_markup=markup)).message_id
        return message_id

    async def _mark_blocked(self, chat_id: str) -> None:
        try:
            await self.engine.set_blocked(CHANNEL, chat_id)
        except StorageError as exc:
            log.warning("mark_blocked_failed", chat=chat_id, error=str(exc))
        log.info("telegram_blocked", chat=chat_id)


class TurnResponder:
    """The engine's `Responder` for one inbound update: replies in its `Turn`, deltas to its preview."""

    def __init__(self, sender: Sender, turn: Turn):
        self.sender, self.turn = sender, turn

    async def reply(self, reply: Reply) -> str | None:
        return await self.sender.send(str(self.turn.chat_id), reply, self.turn)

    async def delta(self, text: str) -> None:
        await self.turn.on_delta(text)

    async def typing(self) -> None:
        return None  # the Turn starts `typing` itself when the update asks a question
