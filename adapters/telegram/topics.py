"""The staff supergroup's forum topics: one per handoff ticket, with its intake card.

    ticket opened --> createForumTopic "#12 专利许可 · 海洋生物" --> the card (HTML), the on-duty
    managers mentioned, a keyboard for the ticket's state (Claim | Resolve, Back | none)
    --> ticket meta: tg_chat, tg_topic (message_thread_id), tg_card (the card's message id)

The mapping lives in our store (shared by every worker), so any worker finds a ticket's topic and
a topic's ticket. Creating or recreating a topic holds a store lock named after the ticket, so two
workers never open two topics for one ticket. A post that Telegram refuses with "message thread not
found" (a manager deleted the topic) recreates the topic, reposts the card, updates the mapping and
is sent again.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import structlog
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

import prompts
from adapters.telegram import render
from bot.ports import StaffDesk
from bot.records import ManagerRecord, TicketRecord
from bot.states import TicketState

log = structlog.get_logger("qdbot.telegram.staff")
CALLBACK = re.compile(r"tk:(claim|resolve|back):(\d{1,12})")
TOPIC_NAME_MAX = 128
CARD_CHARS = 3500  # room for the mention line and the hint under the last chunk
_GONE = ("message thread not found", "topic_deleted", "thread_id_invalid")


class Html(str):
    """A fragment that is HTML already (a mention link): `staff_text` does not escape it again."""


def staff_text(lang: str, key: str, **fields: object) -> str:
    """A staff-group sentence from prompts/<lang>/telegram.toml as HTML, its fields escaped."""
    values = {k: v if isinstance(v, Html) else render.escape(str(v)) for k, v in fields.items()}
    return render.phrase(lang, key).format(**values)


def mentions(managers: tuple[ManagerRecord, ...] | list[ManagerRecord]) -> Html:
    """Managers as tg://user links (Telegram notifies them); a plain name without a Telegram id."""
    return Html("、".join(_mention(m) for m in managers))


def _mention(m: ManagerRecord) -> str:
    uid = m.telegram_user_id or ""
    return f'<a href="tg://user?id={int(uid)}">{render.escape(m.name)}</a>' if uid.isdigit() else render.escape(m.name)


def topic_name(ticket: TicketRecord, lang: str) -> str:
    """``#12 专利许可 · 海洋生物``: the ticket number, the kind of need and the field (<= 128 chars)."""
    kind, field = ticket.fields.get("kind"), ticket.fields.get("field")
    parts = [prompts.text(lang, f"kind_{kind}") if kind else "", str(field or "").strip()]
    label = " · ".join(p for p in parts if p) or render.phrase(lang, "staff_topic_default")
    return f"#{ticket.id} {' '.join(label.split())}"[:TOPIC_NAME_MAX]


def keyboard(ticket: TicketRecord, lang: str) -> InlineKeyboardMarkup | None:
    """Claim while waiting; Resolve and Back while active; nothing once closed."""
    def button(key: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(render.phrase(lang, key), callback_data=f"tk:{action}:{ticket.id}")
    if ticket.state == TicketState.WAITING:
        return InlineKeyboardMarkup([[button("staff_claim_button", "claim")]])
    if ticket.state == TicketState.ACTIVE:
        return InlineKeyboardMarkup([[button("staff_resolve_button", "resolve"),
                                      button("staff_back_button", "back")]])
    return None


def thread_gone(exc: TelegramError) -> bool:
    return isinstance(exc, BadRequest) and any(gone in str(exc).lower() for gone in _GONE)


class StaffTopics:
    """Topics of one staff supergroup, mapped to tickets through the ticket's meta (`tg_topic`); `hold` is the
    engine's lock shared by all workers (one topic per ticket)."""

    def __init__(self, bot: Bot, desk: StaffDesk, hold: Callable[[str], AbstractAsyncContextManager[None]],
                 chat_id: int, lang: str):
        self.bot, self.tickets, self.hold, self.chat_id, self.lang = bot, desk.tickets, hold, chat_id, lang

    def _thread(self, ticket: TicketRecord | None) -> int | None:
        meta = ticket.meta if ticket else {}
        same_chat = str(meta.get("tg_chat")) == str(self.chat_id)
        return int(meta["tg_topic"]) if same_chat and meta.get("tg_topic") is not None else None

    async def thread_of(self, ticket_id: int) -> int | None:
        """The ticket's topic in this group, if it has one."""
        return self._thread(await self.tickets.get(ticket_id))

    async def ticket_in(self, thread_id: int) -> TicketRecord | None:
        """The open ticket whose topic this is."""
        ticket = await self.tickets.find_by_meta("tg_topic", str(thread_id))
        return ticket if self._thread(ticket) == thread_id else None

    # -- opening ---------------------------------------------------------------

    async def open(self, ticket_id: int, card: str, managers: tuple[ManagerRecord, ...] | None = None) -> int:
        """The ticket's topic, created with its card when it has none; `managers` (the on-duty ones to
        mention, possibly none) are given when the ticket is new, None for a topic opened late."""
        async with self.hold(f"telegram:topic:{ticket_id}"):
            ticket = await self.tickets.get(ticket_id)
            thread = self._thread(ticket)
            if thread is None:
                assert ticket is not None  # the desk tells about tickets it has stored
                thread = await self._create(ticket, card, self._notify_line(managers))
            return thread

    async def _reopen(self, ticket_id: int, card: str, gone: int) -> int:
        """A new topic for a ticket whose topic was deleted (unless another worker made one already)."""
        async with self.hold(f"telegram:topic:{ticket_id}"):
            ticket = await self.tickets.get(ticket_id)
            thread = self._thread(ticket)
            if thread is None or thread == gone:
                log.info("staff_topic_recreated", ticket=ticket_id, deleted=gone)
                assert ticket is not None  # it had a topic, so it is stored
                thread = await self._create(ticket, card, staff_text(self.lang, "staff_recreated", ticket=ticket_id))
            return thread

    def _notify_line(self, managers: tuple[ManagerRecord, ...] | None) -> str:
        if managers is None:
            return ""
        if not managers:
            return staff_text(self.lang, "staff_nobody_on_duty")
        return staff_text(self.lang, "staff_notify", names=mentions(managers))

    async def _create(self, ticket: TicketRecord, card: str, line: str) -> int:
        topic = await self.bot.create_forum_topic(self.chat_id, topic_name(ticket, self.lang))
        thread = topic.message_thread_id
        pieces = render.split_text(card, CARD_CHARS) or [f"#{ticket.id}"]
        for piece in pieces[:-1]:
            await self._send(thread, render.escape(piece))
        lines = (line, staff_text(self.lang, "staff_card_hint"))
        tail = render.escape(pieces[-1]) + "\n\n" + "\n".join(part for part in lines if part)
        sent = await self._send(thread, tail, keyboard(ticket, self.lang))
        await self.tickets.set_meta(ticket.id, tg_chat=self.chat_id, tg_topic=thread, tg_card=sent.message_id)
        log.info("staff_topic_opened", ticket=ticket.id, thread=thread)
        return thread

    # -- posting ---------------------------------------------------------------

    async def post(self, ticket_id: int, card: str, html: str, *, quote: int | None = None) -> Message:
        """Send html into the ticket's topic (opened first if needed, recreated if deleted)."""
        thread = await self.thread_of(ticket_id) or await self.open(ticket_id, card)
        try:
            return await self._send(thread, html, quote=quote)
        except TelegramError as exc:
            if not thread_gone(exc):
                raise
        thread = await self._reopen(ticket_id, card, thread)
        return await self._send(thread, html)

    async def answer(self, thread: int, html: str, quote: int | None = None) -> None:
        """Tell a manager something in the topic they wrote in (failures are only logged)."""
        try:
            await self._send(thread, html, quote=quote)
        except TelegramError as exc:
            log.warning("staff_answer_failed", thread=thread, error=str(exc))

    async def _send(self, thread: int, html: str, markup: InlineKeyboardMarkup | None = None, *,
                    quote: int | None = None) -> Message:
        reply_to = ReplyParameters(quote, allow_sending_without_reply=True) if quote else None
        return await self.bot.send_message(self.chat_id, html, parse_mode=ParseMode.HTML, message_thread_id=thread,
                                           reply_markup=markup, reply_parameters=reply_to)

    # -- the card's keyboard and the end of a ticket ---------------------------------

    async def refresh_keyboard(self, ticket_id: int) -> None:
        """The card's keyboard for the ticket's current state (Claim -> Resolve/Back -> none)."""
        ticket = await self.tickets.get(ticket_id)
        card = ticket.meta.get("tg_card") if ticket and self._thread(ticket) else None
        if card is None or ticket is None:
            return
        try:
            await self.bot.edit_message_reply_markup(self.chat_id, int(card),
                                                     reply_markup=keyboard(ticket, self.lang))
        except TelegramError as exc:  # "not modified", or the card was deleted
            log.info("staff_card_keyboard_unchanged", ticket=ticket_id, error=str(exc))

    async def close(self, ticket_id: int) -> None:
        """Close the topic of a finished ticket (the bot, an admin, can still post there)."""
        thread = await self.thread_of(ticket_id)
        if thread is None:
            return
        try:
            await self.bot.close_forum_topic(self.chat_id, thread)
        except TelegramError as exc:
            log.info("staff_topic_not_closed", ticket=ticket_id, error=str(exc))
