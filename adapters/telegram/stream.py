"""While one update is being answered: `typing`, and a live preview of the streaming answer.

A `Turn` lives for one inbound update; the engine reaches it through the update's `TurnResponder`
(`adapters.telegram.delivery`). The preview is a `sendMessageDraft` in private chats
(non-zero draft_id, ~1 update per 0.6 s); in groups, or when drafts are refused, a first message
that is edited in place (more slowly: groups allow ~20 messages a minute). Preview updates run in
the background and are skipped while one is in flight, so a slow Bot API never slows the LLM
stream. The final, formatted reply is sent by the channel: it replaces a draft with a real
message, or edits the group preview message into the answer.
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field

import structlog
from telegram import Bot, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, TelegramError

log = structlog.get_logger("qdbot.telegram")
TYPING_EVERY = 4.0  # `typing` shows for 5 s
DRAFT_EVERY = 0.6
EDIT_EVERY_PRIVATE = 1.0
EDIT_EVERY_GROUP = 3.0
PREVIEW_CHARS = 4000


class Typing:
    """`sendChatAction typing` now and every 4 s until stopped."""

    def __init__(self, bot: Bot, chat_id: int):
        self._task = asyncio.create_task(self._loop(bot, chat_id))

    @staticmethod
    async def _loop(bot: Bot, chat_id: int) -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as exc:
                log.debug("typing_failed", chat=chat_id, error=str(exc))
                return
            await asyncio.sleep(TYPING_EVERY)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Preview:
    """The partial answer shown while it streams: a draft (private chats) or an edited message."""

    def __init__(self, bot: Bot, chat_id: int, *, private: bool, reply_to: int | None = None):
        self.bot, self.chat_id, self.reply_to = bot, chat_id, reply_to
        self.mode = "draft" if private else "edit"
        self.every = DRAFT_EVERY if private else EDIT_EVERY_GROUP
        self.draft_id = secrets.randbelow(2**31 - 2) + 1  # must be non-zero
        self.message_id: int | None = None
        self.begun = False
        self._closed = False
        self._last = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def update(self, text: str) -> None:
        """Show text unless an update is in flight or the last one was too recent."""
        now = asyncio.get_running_loop().time()
        busy = self._task is not None and not self._task.done()
        if self._closed or busy or now - self._last < self.every or not text.strip():
            return
        self._last, self.begun = now, True
        self._task = asyncio.create_task(self._push(_shown(text)))

    async def _push(self, text: str) -> None:
        try:
            await self._show(text)
        except TelegramError as exc:
            await self._failed(exc, text)

    async def _show(self, text: str) -> None:
        if self.mode == "draft":
            await self.bot.send_message_draft(self.chat_id, self.draft_id, text)
        elif self.message_id is None:
            sent = await self.bot.send_message(self.chat_id, text, reply_parameters=self._quote())
            self.message_id = sent.message_id
        else:
            await self.bot.edit_message_text(text, self.chat_id, self.message_id)

    async def _failed(self, exc: TelegramError, text: str) -> None:
        if isinstance(exc, BadRequest) and "not modified" in str(exc).lower():
            return
        if self.mode == "draft" and not isinstance(exc, Forbidden):  # drafts refused: edit a message instead
            log.info("draft_refused", chat=self.chat_id, error=str(exc))
            self.mode, self.every = "edit", EDIT_EVERY_PRIVATE
            await self._push(text)
            return
        log.info("preview_stopped", chat=self.chat_id, error=str(exc))
        self._closed = True

    def _quote(self) -> ReplyParameters | None:
        return ReplyParameters(self.reply_to, allow_sending_without_reply=True) if self.reply_to else None

    async def settle(self) -> int | None:
        """Stop previewing, let an update in flight land; the preview message to reuse, if any."""
        self._closed = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        message_id, self.message_id = self.message_id, None
        return message_id


def _shown(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


@dataclass
class Turn:
    """One inbound update being handled: where replies go, in which language, typing and preview."""

    chat_id: int
    private: bool
    lang: str | None
    preview: Preview
    reply_to: int | None = None
    typing: Typing | None = field(default=None, repr=False)

    async def on_delta(self, text: str) -> None:
        """The engine's streaming callback: the text so far."""
        if self.typing is not None:  # the preview shows progress from now on
            await self.typing.stop()
            self.typing = None
        await self.preview.update(text)

    async def close(self) -> None:
        if self.typing is not None:
            await self.typing.stop()
        await self.preview.settle()


def begin(bot: Bot, chat_id: int, *, private: bool, lang: str | None, reply_to: int | None = None,
          typing: bool = False) -> Turn:
    """A Turn for this update (typing starts at once when asked)."""
    preview = Preview(bot, chat_id, private=private, reply_to=None if private else reply_to)
    return Turn(chat_id, private, lang, preview, None if private else reply_to,
                Typing(bot, chat_id) if typing else None)
