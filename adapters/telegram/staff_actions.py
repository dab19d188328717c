"""What technology managers do in the staff supergroup, turned into the desk's operations.

    Claim button / /claim       desk.claim          (first one wins, atomically)
    text in the ticket's topic  desk.reply          (to the user, on the user's own channel)
    /note <text>                desk.note           (internal: never shown to the user)
    /transfer <manager id>      desk.transfer
    /resolve [outcome]          desk.resolve        Resolve button: the same, outcome "resolved"
    /back                       desk.hand_back      Back button: the same

- Only messages inside a topic (``is_topic_message``) count; the group's General chat, service
  messages and other bots are ignored. Nothing from the staff group ever reaches the engine as a
  user question.
- The sender must be an active manager on the roster (matched by Telegram user id); anyone else is
  told they are not on the roster and nothing happens.
- Claim first (no auto-claim): a manager's text reaches the user only once that manager holds the
  ticket. Text on a waiting ticket is not sent and the manager is asked to claim; text from a
  colleague while someone else holds the ticket is not sent either. A remark between colleagues
  in a topic therefore never reaches the user or claims the ticket by accident, and the user is
  told "manager joined" before the first manager message.
- While a ticket is active only its holder may resolve, hand back or transfer it; while it waits
  any manager may claim, assign it (/transfer) or close it. Anyone on the roster may add notes.
- The desk's refusals (`HandoffError`) are explained politely: taken by whom, already yours, closed.
"""
from __future__ import annotations

import re

import structlog
from telegram import CallbackQuery, Message, User
from telegram.error import TelegramError

from adapters.telegram import render, translate
from adapters.telegram.topics import CALLBACK, StaffTopics, staff_text
from bot.errors import HandoffError
from bot.ports import StaffDesk
from bot.records import ManagerRecord, TicketRecord
from bot.states import CLOSED_TICKET, TicketState

log = structlog.get_logger("qdbot.telegram.staff")
#: The desk's events caused by an action taken here carry this origin: the topic shows them already.
ORIGIN = "telegram_staff"
COMMANDS = ("claim", "resolve", "transfer", "note", "back")
_COMMAND = re.compile(r"/([A-Za-z_]+)(?:@(\w+))?(?:\s+(.*))?", re.S)


def parse_command(text: str, bot_username: str | None) -> tuple[str, str] | None:
    """("name", "argument") for ``/name[@bot] [argument]``; ("", "") for a command to another bot;
    None when the text is not a command."""
    match = _COMMAND.fullmatch(text.strip())
    if match is None:
        return None
    if match.group(2) and match.group(2).lower() != (bot_username or "").lower():
        return "", ""
    return match.group(1).lower(), (match.group(3) or "").strip()


class StaffActions:
    """Managers' messages, commands and button presses in the staff group."""

    def __init__(self, topics: StaffTopics, desk: StaffDesk, lang: str):
        self.topics, self.desk, self.lang = topics, desk, lang

    def _html(self, key: str, **fields: object) -> str:
        return staff_text(self.lang, key, **fields)

    def _plain(self, key: str, **fields: object) -> str:
        return render.phrase(self.lang, key).format(**fields)

    async def manager_of(self, user: User | None) -> ManagerRecord | None:
        if user is None or user.is_bot:
            return None
        manager = await self.desk.tickets.manager_by("telegram", str(user.id))
        return manager if manager is not None and manager.active else None

    async def _name(self, manager_id: str | None) -> str:
        manager = await self.desk.tickets.manager(manager_id) if manager_id else None
        return manager.name if manager else str(manager_id or "?")

    # -- messages in a topic ---------------------------------------------------------

    async def on_message(self, message: Message) -> None:
        if not message.is_topic_message or message.from_user is None or message.from_user.is_bot:
            return
        kind = translate.kind_of(message)
        if kind is None:  # service messages: topic created, closed, member joined...
            return
        thread, quote = message.message_thread_id, message.message_id
        if thread is None:  # a topic message always has its thread id
            return
        manager = await self.manager_of(message.from_user)
        if manager is None:
            log.info("staff_not_on_roster", user=message.from_user.id)
            await self.topics.answer(thread, self._html("staff_not_on_roster"), quote)
            return
        command = parse_command(message.text or "", self.topics.bot.username) if kind == "text" else None
        if command == ("", ""):
            return
        ticket = await self.topics.ticket_in(thread)
        if ticket is None:
            if command is not None:
                await self.topics.answer(thread, self._html("staff_no_ticket"), quote)
            return
        answer = await self._act(ticket, manager, kind, command, (message.text or "").strip())
        if answer:
            await self.topics.answer(thread, answer, quote)

    async def _act(self, ticket: TicketRecord, manager: ManagerRecord, kind: str,
                   command: tuple[str, str] | None, text: str) -> str | None:
        """Do what the manager asked; what to tell them (HTML), or None when the topic shows it."""
        name = command[0] if command else "reply"
        try:
            if command is not None:
                return await self._command(ticket, manager, *command)
            if kind != "text":
                return self._html("staff_text_only")
            return await self._relay(ticket, manager, text)
        except HandoffError as exc:
            return await self.explain(ticket.id, manager, name, exc, html=True)

    async def _relay(self, ticket: TicketRecord, manager: ManagerRecord, text: str) -> str | None:
        if ticket.state == TicketState.WAITING:
            return self._html("staff_claim_first", ticket=ticket.id)
        if ticket.manager_id != manager.id:
            return self._html("staff_held_by_other", ticket=ticket.id, name=await self._name(ticket.manager_id))
        await self.desk.reply(ticket.id, manager.id, text, origin=ORIGIN)
        log.info("staff_reply_relayed", ticket=ticket.id, manager=manager.id)
        return None

    async def _command(self, ticket: TicketRecord, manager: ManagerRecord, name: str, arg: str) -> str | None:
        if name == "claim":
            await self.desk.claim(ticket.id, manager.id, origin=ORIGIN)
        elif name == "note":
            if not arg:
                return self._html("staff_note_usage")
            await self.desk.note(ticket.id, manager.id, arg, origin=ORIGIN)
        elif name not in COMMANDS:
            return self._html("staff_help")
        elif ticket.state == TicketState.ACTIVE and ticket.manager_id != manager.id:
            return self._html("staff_taken", ticket=ticket.id, name=await self._name(ticket.manager_id))
        elif name == "transfer":
            return await self._transfer(ticket, manager, arg)
        elif name == "resolve":
            await self.desk.resolve(ticket.id, manager.id, arg or "resolved", origin=ORIGIN)
        else:
            await self.desk.hand_back(ticket.id, manager.id, origin=ORIGIN)
        return None

    async def _transfer(self, ticket: TicketRecord, manager: ManagerRecord, arg: str) -> str | None:
        """To a manager named by roster id (or name, or Telegram user id)."""
        roster = await self.desk.tickets.managers()
        wanted = arg.strip().lstrip("@")
        target = next((m for m in roster if wanted and wanted in (m.id, m.name, m.telegram_user_id)), None)
        if target is None:
            listing = "、".join(f"{m.id}（{m.name}）" for m in roster)
            return self._html("staff_transfer_usage", text=listing)
        await self.desk.transfer(ticket.id, manager.id, target.id, origin=ORIGIN)
        return None

    async def explain(self, ticket_id: int, manager: ManagerRecord, action: str, exc: HandoffError, *,
                      html: bool) -> str:
        """A polite sentence for a refused operation, from the ticket's state now."""
        say = self._html if html else self._plain
        ticket = await self.desk.tickets.get(ticket_id)
        log.info("staff_action_refused", ticket=ticket_id, manager=manager.id, action=action, error=str(exc))
        if ticket is None:
            return say("staff_failed", text=str(exc))
        if ticket.state == TicketState.ACTIVE and ticket.manager_id == manager.id and action == "claim":
            return say("staff_yours", ticket=ticket_id)
        if ticket.state == TicketState.ACTIVE and ticket.manager_id != manager.id:
            return say("staff_taken", ticket=ticket_id, name=await self._name(ticket.manager_id))
        if ticket.state in CLOSED_TICKET:
            return say("staff_closed", ticket=ticket_id)
        return say("staff_failed", text=str(exc))

    # -- buttons ---------------------------------------------------------------

    async def on_callback(self, query: CallbackQuery) -> None:
        """Claim / Resolve / Back under a ticket's card; every press is answered."""
        match = CALLBACK.fullmatch(query.data or "")
        manager = await self.manager_of(query.from_user) if match else None
        toast, alert = None, False
        if match and manager is None:
            toast, alert = self._plain("staff_not_on_roster"), True
        elif match and manager is not None:
            toast = await self._press(match.group(1), int(match.group(2)), manager)
        try:
            await query.answer(toast, show_alert=alert)
        except TelegramError as exc:
            log.info("callback_answer_failed", error=str(exc))

    async def _press(self, action: str, ticket_id: int, manager: ManagerRecord) -> str:
        try:
            if action == "claim":
                await self.desk.claim(ticket_id, manager.id, origin=ORIGIN)
                return self._plain("staff_toast_claimed", ticket=ticket_id)
            ticket = await self.desk.tickets.get(ticket_id)
            if ticket is not None and ticket.state == TicketState.ACTIVE and ticket.manager_id != manager.id:
                return self._plain("staff_taken", ticket=ticket_id, name=await self._name(ticket.manager_id))
            if action == "resolve":
                await self.desk.resolve(ticket_id, manager.id, "resolved", origin=ORIGIN)
            else:
                await self.desk.hand_back(ticket_id, manager.id, origin=ORIGIN)
            return self._plain("staff_toast_done", ticket=ticket_id)
        except HandoffError as exc:
            return await self.explain(ticket_id, manager, action, exc, html=False)
