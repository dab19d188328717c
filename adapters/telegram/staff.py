"""The technology managers' staff supergroup (TELEGRAM_STAFF_CHAT_ID): one forum topic per ticket.

The handoff desk tells every staff channel about every ticket event; here each becomes a post in
the ticket's topic (`topics.StaffTopics`), and what managers do there becomes the desk's
operations (`staff_actions.StaffActions`):

    opened          a new topic: the intake card, the on-duty managers mentioned, a Claim button
    renotify        a reminder mentioning the on-duty managers
    user_message    👤 the user's message
    reply           💬 a manager's reply written elsewhere (the console); one written in the topic is there already
    note            📝 a note written elsewhere; "note saved" for one written in the topic
    claimed, transferred                     a status line; the card's buttons become Resolve / Back
    resolved, handed_back, cancelled, expired  a status line; the card's buttons go, the topic is closed
    rated           ⭐ the user's rating

The bot must be an administrator of the forum supergroup with the right to manage topics (and so
receives every message there). Its posts are in TELEGRAM_STAFF_LANG (zh by default).
"""
from __future__ import annotations

import structlog
from telegram import Bot, BotCommand, BotCommandScopeChat, CallbackQuery, Message
from telegram.error import TelegramError

from adapters.telegram import render
from adapters.telegram.staff_actions import COMMANDS, ORIGIN, StaffActions
from adapters.telegram.topics import StaffTopics, mentions, staff_text
from bot.engine import Engine
from bot.handoff import StaffEvent
from bot.states import TICKET_ENDED, StaffEventKind as Kind

log = structlog.get_logger("qdbot.telegram.staff")
_KEYBOARD_CHANGES = (Kind.CLAIMED, Kind.TRANSFERRED, *TICKET_ENDED)
_POSTED = (Kind.RENOTIFY, Kind.USER_MESSAGE, Kind.REPLY, Kind.NOTE, Kind.CLAIMED, Kind.TRANSFERRED, *TICKET_ENDED, Kind.RATED)


class StaffRoom:
    """Ticket events into forum topics, managers' messages and buttons back to the desk."""

    def __init__(self, bot: Bot, engine: Engine, chat_id: int, lang: str = "zh"):
        self.bot, self.desk, self.chat_id, self.lang = bot, engine.staff, chat_id, lang
        self.topics = StaffTopics(bot, engine.staff, engine.hold, chat_id, lang)
        self.actions = StaffActions(self.topics, engine.staff, lang)

    async def start(self) -> None:
        """Check the group is a forum and give managers the topic commands (problems only logged)."""
        try:
            chat = await self.bot.get_chat(self.chat_id)
            if not chat.is_forum:
                log.warning("staff_chat_not_a_forum", chat=self.chat_id)
            commands = [BotCommand(c, render.phrase(self.lang, f"staff_command_{c}")) for c in COMMANDS]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeChat(self.chat_id))
        except TelegramError as exc:
            log.warning("staff_chat_unusable", chat=self.chat_id, error=str(exc))

    async def on_message(self, message: Message) -> None:
        await self.actions.on_message(message)

    async def on_callback(self, query: CallbackQuery) -> None:
        await self.actions.on_callback(query)

    async def on_event(self, event: StaffEvent) -> None:
        """Post the event in the ticket's topic; Telegram failures are logged, never raised."""
        try:
            await self._on_event(event)
        except TelegramError as exc:
            log.warning("staff_post_failed", ticket=event.ticket.id, kind=event.kind, error=str(exc))

    async def _on_event(self, event: StaffEvent) -> None:
        ticket, kind = event.ticket, event.kind
        if kind == Kind.OPENED:
            await self.topics.open(ticket.id, event.card, event.managers)
            return
        from_topic = event.origin == ORIGIN
        if kind not in _POSTED or (kind == Kind.REPLY and from_topic):
            return
        if kind in (*TICKET_ENDED, Kind.RATED) and await self.topics.thread_of(ticket.id) is None:
            return  # no topic to tell (e.g. an intake cancelled before the ticket was queued)
        key = "staff_note_saved" if kind == Kind.NOTE and from_topic else f"staff_{kind}"
        await self.topics.post(ticket.id, event.card, staff_text(self.lang, key, **await self._fields(event)))
        if kind in _KEYBOARD_CHANGES:
            await self.topics.refresh_keyboard(ticket.id)
        if kind in TICKET_ENDED:
            await self.topics.close(ticket.id)

    async def _fields(self, event: StaffEvent) -> dict[str, object]:
        return {"ticket": event.ticket.id, "name": await self._actor(event.actor), "text": event.text,
                "count": event.ticket.notify_count, "names": mentions(event.managers)}

    async def _actor(self, actor: str | None) -> str:
        if actor in (None, "", "system"):
            return render.phrase(self.lang, "staff_system")
        if actor == "user":
            return render.phrase(self.lang, "staff_user")
        manager = await self.desk.tickets.manager(actor)
        return manager.name if manager else actor
