"""Technology managers in the WeCom self-built app: ticket notices out, commands in.

    desk "opened" / "renotify"  -> how to act and the intake card, to the listed managers'
                                   wecom_userid in one message/send (touser "a|b"), within the
                                   2048-byte limit and each member's budget
    desk "transferred"          -> the same, to the manager who now holds the ticket
    desk "user_message"         -> "#12 ..." to the manager holding the ticket (not when a WeChat
                                   Customer Service session is with that manager in the WeCom
                                   client: they read it there already)
    a roster manager's command  -> desk.claim / reply / note / resolve / hand_back / transfer;
                                   the result, or the desk's refusal, back to the manager

Commands (the ticket number follows the word; then a space before any text):

    认领 12              /claim 12
    回复 12 <text>       /reply 12 <text>       #12 <text>
    备注 12 <text>       /note 12 <text>
    结束 12 [结果]       /resolve 12 [outcome]
    交还 12              /back 12
    转交 12 <经理编号>   /transfer 12 <manager id>

Anything else, from a manager or anyone not on the roster, is a question for the assistant.
As in the Telegram staff group: while a ticket is active only its holder may reply, resolve, hand
it back or transfer it; a waiting ticket may be claimed, assigned (转交) or closed by any manager;
anyone on the roster may add notes. A reply is acknowledged only when it was not delivered (a
member receives at most 30 messages a minute, so silence means it went out).
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from adapters.wecom import texts
from adapters.wecom.translate import KF_CHANNEL
from bot.engine import Engine
from bot.errors import HandoffError
from bot.handoff import StaffEvent
from bot.records import ManagerRecord, TicketRecord
from bot.states import MessageStatus, StaffEventKind as Kind, TicketState
from bot.types import IncomingMessage

log = structlog.get_logger("qdbot.wecom")
Tell = Callable[[Sequence[str], str], Awaitable[None]]
WORDS = {"认领": "claim", "回复": "reply", "备注": "note", "结束": "resolve", "交还": "back", "转交": "transfer"}
NEEDS_TEXT = frozenset({"reply", "note", "transfer"})
HOLDER_ONLY = frozenset({"reply", "resolve", "back", "transfer"})
_WORD = re.compile(r"(认领|回复|备注|结束|交还|转交)\s*#?(\d{1,9})(?:\s+(.*))?", re.S)
_SLASH = re.compile(r"/(claim|reply|note|resolve|back|transfer)(?:\s+#?(\d{1,9}))?(?:\s+(.*))?", re.S | re.I)
_SHORT = re.compile(r"#(\d{1,9})\s+(.+)", re.S)


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # claim | reply | note | resolve | back | transfer
    ticket: int | None  # None: a slash command without a number (answered with the usage)
    arg: str = ""


def parse_command(text: str) -> Command | None:
    """A manager's ticket command, or None when the text is not one."""
    text = text.strip()
    if m := _WORD.fullmatch(text):
        return Command(WORDS[m[1]], int(m[2]), (m[3] or "").strip())
    if m := _SLASH.fullmatch(text):
        return Command(m[1].lower(), int(m[2]) if m[2] else None, (m[3] or "").strip())
    if m := _SHORT.fullmatch(text):
        return Command("reply", int(m[1]), m[2].strip())
    return None


def _t(key: str, **fields: object) -> str:
    return texts.text("zh", key, **fields)


class AppStaff:
    def __init__(self, engine: Engine, tell: Tell):
        self.engine, self.desk, self.tell = engine, engine.staff, tell

    # --- the desk's events ------------------------------------------------------------------

    async def on_event(self, event: StaffEvent) -> None:
        if event.kind in (Kind.OPENED, Kind.RENOTIFY, Kind.TRANSFERRED):
            await self._announce(event)
        elif event.kind == Kind.USER_MESSAGE:
            await self._relay(event)

    async def _announce(self, event: StaffEvent) -> None:
        users = [m.wecom_userid for m in event.managers if m.wecom_userid]
        if not users:
            return
        ticket = event.ticket.id
        how = _t("staff_how_active" if event.kind == Kind.TRANSFERRED else "staff_how_waiting", ticket=ticket)
        if event.channel == KF_CHANNEL:
            how += "\n" + _t("staff_kf_hint")
        await self.tell(users, f"{_t('staff_' + event.kind, ticket=ticket)}\n{how}\n\n{event.card}")
        log.info("wecom_staff_notified", ticket=ticket, kind=event.kind, members=len(users))

    async def _relay(self, event: StaffEvent) -> None:
        ticket = event.ticket
        manager = await self.desk.tickets.manager(ticket.manager_id) if ticket.manager_id else None
        if ticket.state != TicketState.ACTIVE or manager is None or not manager.wecom_userid:
            return
        if event.channel == KF_CHANNEL and ticket.meta.get("kf_state") == 3 \
                and ticket.meta.get("kf_servicer") == manager.kf_servicer_userid:
            return  # the manager reads it in the WeCom client
        await self.tell([manager.wecom_userid], _t("staff_user_message", ticket=ticket.id, text=event.text))

    # --- commands ---------------------------------------------------------------------------

    async def handle(self, msg: IncomingMessage) -> bool:
        """True when ``msg`` was a roster manager's command (then done and answered here)."""
        command = parse_command(msg.text) if msg.kind == "text" else None
        if command is None:
            return False
        manager = await self.desk.tickets.manager_by("wecom", msg.user_id)
        if manager is None or not manager.active:
            return False
        answer = await self._run(command, manager)
        log.info("wecom_staff_command", manager=manager.id, command=command.name, ticket=command.ticket)
        if answer:
            await self.tell([msg.user_id], answer)
        return True

    async def _run(self, c: Command, manager: ManagerRecord) -> str | None:
        if c.ticket is None or (c.name in NEEDS_TEXT and not c.arg):
            return _t("staff_usage")
        ticket = await self.desk.tickets.get(c.ticket)
        if ticket is None:
            return _t("staff_no_ticket", ticket=c.ticket)
        if c.name in HOLDER_ONLY and ticket.state == TicketState.ACTIVE and ticket.manager_id != manager.id:
            return _t("staff_held_by_other", ticket=ticket.id, name=await self._name(ticket.manager_id))
        try:
            run: Callable[[TicketRecord, ManagerRecord, str], Awaitable[str | None]] = getattr(self, f"_{c.name}")
            return await run(ticket, manager, c.arg)
        except HandoffError as exc:
            return _t("staff_refused", ticket=ticket.id, reason=str(exc))

    async def _claim(self, ticket: TicketRecord, manager: ManagerRecord, arg: str) -> str:
        await self.desk.claim(ticket.id, manager.id)
        now = await self.desk.tickets.get(ticket.id)
        conv = await self.engine.conversation(ticket.conversation_id)
        if conv is None or conv.channel != KF_CHANNEL:
            return _t("staff_claimed", ticket=ticket.id)
        if now and now.meta.get("kf_state") == 3 and now.meta.get("kf_servicer") == manager.kf_servicer_userid:
            return _t("staff_claimed_kf", ticket=ticket.id, servicer=manager.kf_servicer_userid)
        return _t("staff_claimed_plain", ticket=ticket.id)  # the kf notice said why and what to do

    async def _reply(self, ticket: TicketRecord, manager: ManagerRecord, text: str) -> str | None:
        if ticket.state == TicketState.WAITING:
            return _t("staff_claim_first", ticket=ticket.id)
        sent = await self.desk.reply(ticket.id, manager.id, text)
        stored = await self.engine.message(sent.message_id) if sent.message_id else None
        if stored is None or stored.status == MessageStatus.SENT:
            return None
        reason = stored.meta.get("error") or stored.status
        return _t("staff_not_delivered", ticket=ticket.id, reason=reason)

    async def _note(self, ticket: TicketRecord, manager: ManagerRecord, text: str) -> str:
        await self.desk.note(ticket.id, manager.id, text)
        return _t("staff_noted", ticket=ticket.id)

    async def _resolve(self, ticket: TicketRecord, manager: ManagerRecord, outcome: str) -> str:
        done = await self.desk.resolve(ticket.id, manager.id, outcome or "resolved")
        return _t("staff_resolved", ticket=ticket.id, outcome=done.outcome)

    async def _back(self, ticket: TicketRecord, manager: ManagerRecord, arg: str) -> str:
        await self.desk.hand_back(ticket.id, manager.id)
        return _t("staff_handed_back", ticket=ticket.id)

    async def _transfer(self, ticket: TicketRecord, manager: ManagerRecord, arg: str) -> str:
        moved = await self.desk.transfer(ticket.id, manager.id, arg.split()[0])
        return _t("staff_moved", ticket=ticket.id, name=await self._name(moved.manager_id))

    async def _name(self, manager_id: str | None) -> str:
        manager = await self.desk.tickets.manager(manager_id) if manager_id else None
        return manager.name if manager else str(manager_id or "?")
