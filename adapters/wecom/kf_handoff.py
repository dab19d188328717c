"""WeChat Customer Service sessions follow the handoff ticket: the technology manager serves the
customer natively in the WeCom client (service_state 3), and ticket and transcript stay in step.

    desk "opened" (the queued notice went out in state 0/1)   -> trans to 2 (the waiting pool)
    desk "claimed" / "transferred" -> trans to 3 with the holder's kf_servicer_userid when
                                      kf/servicer/list shows it receiving (status 0)
    a servicer picks the customer up or transfers in the client (session_status_change 1/2/4)
                                   -> desk.claim / desk.transfer when the servicer is on the roster
    a servicer's message (origin 5) -> stored as the manager's (kf_channel); first response marked
    the servicer ends the session (session_status_change 3)
                                   -> desk.resolve(ticket, holder, "ended in WeCom"); its closing
                                      notices go out once with the event's msg_code (without one
                                      they are recorded as not delivered)
    the ticket is closed anywhere else (console, Telegram, app, timers) while the session is 2/3
                                   -> the desk's first closing notice ends the session (trans to
                                      4) and the notices go out once with the returned msg_code

Decisions:
- WeCom has no way back from 2 or 3 to 1 (2 -> 3|4, 3 -> 3|4): a session the assistant takes back
  is ended (4); the customer's next message reopens it (0) and the assistant answers again.
- A claiming manager with no kf_servicer_userid, or whose servicer is not receiving, keeps the
  ticket; the customer stays in the pool (only a receiving servicer can take state 3) and the
  manager is told through the app, and in a ticket note, to pick the customer up in the WeCom
  client or transfer the ticket. Until then messages from the console or the app cannot reach the
  customer and are recorded as not delivered (the app tells the manager so).
- Closing notices (back to the assistant, the rating request, an expiry notice) share the one
  msg_code: texts are held and go out with the first notice that has buttons, as one msgmenu, or
  alone when the desk's closing event arrives.
- The bot never calls kf/send_msg in states 2 and 3 (``KfSender`` refuses before calling).

Where a session stands is kept in the ticket's meta (``kf_state``, ``kf_servicer``) and per chat in
the store (``wecom_kf:handover:<chat id>`` = the ticket id while the session is with a human).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from adapters.wecom import render, texts
from adapters.wecom.api import WeComAPIError, WeComClient
from adapters.wecom.kf_send import KfSender, SendSkipped, derive_msgid
from adapters.wecom.ports import StaffTeller
from adapters.wecom.translate import APP_CHANNEL, KF_CHANNEL, KfEvent, split_chat_id
from bot.errors import HandoffError
from bot.handoff import StaffEvent
from bot.records import ManagerRecord, TicketRecord
from bot.states import OPEN_TICKET, SERVED_TICKET, TICKET_ENDED, StaffEventKind as Kind, TicketState
from bot.types import Reply

if TYPE_CHECKING:
    from bot.engine import Engine

log = structlog.get_logger("qdbot.wecom")
TRANS, SERVICERS = "/cgi-bin/kf/service_state/trans", "/cgi-bin/kf/servicer/list"
POOL, HUMAN, ENDED = 2, 3, 4
WITH_HUMAN = (POOL, HUMAN)
ENDED_IN_WECOM = "ended in WeCom"
CODE_TTL = 20.0  # seconds an event's msg_code stays usable


@dataclass
class Closing:
    """The one msg_code of a session being ended and the notices that go out with it."""

    code: str
    made: float = field(default_factory=time.monotonic)
    held: list[Reply] = field(default_factory=list)
    used: bool = False

    def fresh(self) -> bool:
        return time.monotonic() - self.made < CODE_TTL


def _key(chat_id: str) -> str:
    return f"{KF_CHANNEL}:handover:{chat_id}"


class KfHandoff:
    def __init__(self, engine: Engine, client: WeComClient, secret: str, sender: KfSender):
        self.engine, self.desk, self.client, self.secret = engine, engine.staff, client, secret
        self.sender = sender
        self._closings: dict[str, Closing] = {}

    # --- the desk's events ----------------------------------------------------------------------

    async def on_event(self, event: StaffEvent) -> None:
        if event.channel != KF_CHANNEL:
            return
        conv = await self.engine.conversation(event.ticket.conversation_id)
        if conv is None:
            return
        if event.kind == Kind.OPENED:
            await self._to_pool(event.ticket, conv.chat_id)
        elif event.kind in (Kind.CLAIMED, Kind.TRANSFERRED):
            await self._to_servicer(event.ticket, conv.chat_id)
        elif event.kind in TICKET_ENDED:
            await self._closed(event.ticket, conv.chat_id)

    async def _to_pool(self, ticket: TicketRecord, chat: str) -> None:
        """After the queued notice: the session waits in the pool and the bot sends nothing."""
        self.sender.forget_state(chat)
        state = await self.sender.state(chat)
        if state not in WITH_HUMAN:
            try:
                await self._trans(chat, POOL)
            except WeComAPIError as exc:  # the session stays with the bot: replies still reach it
                log.warning("wecom_kf_pool_failed", ticket=ticket.id, chat=chat, error=str(exc))
                await self.desk.tickets.set_meta(ticket.id, kf_error=str(exc)[:200])
                return
            state = POOL
        await self._handed_over(ticket.id, chat, kf_state=state)

    async def _to_servicer(self, ticket: TicketRecord, chat: str) -> None:
        manager = await self.desk.tickets.manager(ticket.manager_id) if ticket.manager_id else None
        servicer = manager.kf_servicer_userid if manager else None
        if servicer and ticket.meta.get("kf_state") == HUMAN and ticket.meta.get("kf_servicer") == servicer:
            return  # already served by them (picked up in the WeCom client)
        problem = await self._why_not(ticket, chat, servicer)
        if problem is None:
            try:
                await self._trans(chat, HUMAN, servicer or "")
                await self._handed_over(ticket.id, chat, kf_state=HUMAN, kf_servicer=servicer)
                return
            except WeComAPIError as exc:
                problem = texts.text("zh", "kf_transfer_failed", ticket=ticket.id, reason=str(exc))
        await self._tell(ticket, manager, problem)

    async def _why_not(self, ticket: TicketRecord, chat: str, servicer: str | None) -> str | None:
        """Why the session cannot go to ``servicer`` (None when it can): no servicer account,
        or not receiving (``kf/servicer/list`` status 0 is receiving)."""
        if not servicer:
            return texts.text("zh", "kf_no_servicer", ticket=ticket.id)
        try:
            data = await self.client.call(SERVICERS, self.secret, None, method="GET", idempotent=True,
                                          params={"open_kfid": split_chat_id(chat)[0]})
        except WeComAPIError as exc:
            return texts.text("zh", "kf_transfer_failed", ticket=ticket.id, reason=str(exc))
        status = {str(s.get("userid")): s.get("status") for s in data.get("servicer_list") or []}
        if status.get(servicer) != 0:
            return texts.text("zh", "kf_not_receiving", ticket=ticket.id, servicer=servicer)
        return None

    async def _tell(self, ticket: TicketRecord, manager: ManagerRecord | None, text: str) -> None:
        """A ticket note, and the manager told through the self-built app when there is one."""
        await self.desk.system_note(ticket.id, text)
        app = self.engine.channel(APP_CHANNEL)
        if manager is None or not manager.wecom_userid or not isinstance(app, StaffTeller):
            log.warning("wecom_kf_manager_not_told", ticket=ticket.id, manager=manager.id if manager else None)
            return
        await app.tell([manager.wecom_userid], text)

    async def _closed(self, ticket: TicketRecord, chat: str) -> None:
        closing = self._closings.pop(chat, None)
        if closing is not None:
            try:
                await self._flush(closing)
            except WeComAPIError as exc:
                log.warning("wecom_kf_closing_failed", ticket=ticket.id, error=str(exc))
        if await self._handover(chat) == ticket.id:  # closed without a notice: end it quietly
            await self._end(chat, ticket.id)

    # --- sending while a session is being ended -------------------------------------------------

    async def closing_for(self, chat: str) -> Closing | None:
        """The closing of ``chat`` when its handed-over ticket is closed: the session is ended
        (trans to 4) on the first notice and its msg_code kept for the notices; None otherwise."""
        closing = self._closings.get(chat)
        if closing is not None and closing.fresh():
            return closing
        if closing is not None:
            del self._closings[chat]
            await self._mark_failed(closing.held, texts.text("zh", "kf_code_expired"))
        if await self.sender.state(chat) not in WITH_HUMAN:
            return None
        ticket_id = await self._handover(chat)
        ticket = await self.desk.tickets.get(ticket_id) if ticket_id else None
        if ticket is None or ticket.state in OPEN_TICKET:
            return None
        code = await self._end(chat, ticket.id)
        if not code:
            return None  # the sender then refuses (state 4): recorded as not delivered
        self._closings[chat] = closing = Closing(code)
        return closing

    async def send_closing(self, closing: Closing, reply: Reply) -> str | None:
        """Hold a text notice; send what is held with the first notice that has buttons."""
        if closing.used:
            raise SendSkipped(texts.text("zh", "kf_code_used"))
        closing.held.append(reply)
        if not reply.buttons:
            return None  # goes out with the next notice, or when the desk's closing event arrives
        return await self._flush(closing)

    async def _flush(self, closing: Closing) -> str | None:
        held, closing.held = closing.held, []
        if not held or closing.used:
            return None
        closing.used = True
        msgid = derive_msgid(f"close{held[0].message_id}", 0, 0)
        try:
            return await self.sender.send_on_event(closing.code, render.closing_payload(held), msgid)
        except WeComAPIError as exc:
            await self._mark_failed(held, str(exc))
            raise

    async def _mark_failed(self, replies: list[Reply], reason: str) -> None:
        for reply in replies:
            if reply.message_id is not None:
                await self.engine.mark_undelivered(reply.message_id, reason)

    # --- what happens in the WeCom client ------------------------------------------------------

    async def on_session_change(self, event: KfEvent) -> None:
        """session_status_change: 3 ended by the servicer -> resolve; 1/2/4 picked up, transferred
        or re-joined -> the desk follows when the servicer is on the roster."""
        change, chat = event.data.get("change_type"), event.chat_id
        ticket = await self._open_ticket(chat)
        if change == 3:
            await self._ended_in_client(event, ticket)
        elif change in (1, 2, 4) and ticket is not None and event.data.get("new_servicer_userid"):
            await self._served_in_client(ticket, chat, str(event.data["new_servicer_userid"]))

    async def _ended_in_client(self, event: KfEvent, ticket: TicketRecord | None) -> None:
        chat = event.chat_id
        await self.engine.set_state(_key(chat), "")
        self.sender.remember(chat, ENDED)
        if ticket is None:
            return
        await self.desk.tickets.set_meta(ticket.id, kf_state=ENDED)
        if event.data.get("msg_code"):
            self._closings[chat] = Closing(str(event.data["msg_code"]))
        holder = ticket.manager_id or await self.manager_id(str(event.data.get("old_servicer_userid") or ""))
        try:
            await self.desk.resolve(ticket.id, holder or "wecom", ENDED_IN_WECOM)
        except HandoffError as exc:  # closed meanwhile elsewhere
            log.info("wecom_kf_end_not_resolved", ticket=ticket.id, reason=str(exc))
            self._closings.pop(chat, None)

    async def _served_in_client(self, ticket: TicketRecord, chat: str, servicer: str) -> None:
        await self._handed_over(ticket.id, chat, kf_state=HUMAN, kf_servicer=servicer)
        self.sender.remember(chat, HUMAN)
        manager = await self.desk.tickets.manager_by("kf", servicer)
        try:
            if manager is None:
                await self.desk.system_note(ticket.id, texts.text("zh", "kf_served_off_roster", servicer=servicer))
            elif ticket.state == TicketState.WAITING:
                await self.desk.claim(ticket.id, manager.id)
            elif ticket.manager_id != manager.id:
                await self.desk.transfer(ticket.id, ticket.manager_id or "wecom", manager.id)
        except HandoffError as exc:
            log.info("wecom_kf_client_change_refused", ticket=ticket.id, reason=str(exc))

    async def servicer_spoke(self, chat: str) -> None:
        """A servicer's message was delivered by WeCom itself: the ticket's first response."""
        ticket = await self.engine.open_ticket(KF_CHANNEL, chat)
        if ticket is not None:
            await self.desk.first_response(ticket.id)

    async def manager_id(self, servicer: str) -> str | None:
        """The roster manager whose kf servicer account this is."""
        manager = await self.desk.tickets.manager_by("kf", servicer) if servicer else None
        return manager.id if manager else None

    async def has_ticket(self, chat: str) -> bool:
        return await self._open_ticket(chat) is not None

    # --- bookkeeping ----------------------------------------------------------------------------

    async def _open_ticket(self, chat: str) -> TicketRecord | None:
        ticket = await self.engine.open_ticket(KF_CHANNEL, chat)
        return ticket if ticket is not None and ticket.state in SERVED_TICKET else None

    async def _handover(self, chat: str) -> int | None:
        raw = await self.engine.get_state(_key(chat))
        return int(raw) if raw and raw.isdigit() else None

    async def _handed_over(self, ticket_id: int, chat: str, **meta: object) -> None:
        await self.engine.set_state(_key(chat), str(ticket_id))
        await self.desk.tickets.set_meta(ticket_id, **meta)

    async def _end(self, chat: str, ticket_id: int) -> str:
        """End the session (trans to 4); its msg_code, or "" when WeCom refused."""
        await self.engine.set_state(_key(chat), "")
        await self.desk.tickets.set_meta(ticket_id, kf_state=ENDED)
        try:
            return await self._trans(chat, ENDED)
        except WeComAPIError as exc:  # e.g. already ended in the client, its event not pulled yet
            log.warning("wecom_kf_end_failed", chat=chat, ticket=ticket_id, error=str(exc))
            self.sender.forget_state(chat)
            return ""

    async def _trans(self, chat: str, state: int, servicer: str = "") -> str:
        open_kfid, user = split_chat_id(chat)
        body: dict[str, object] = {"open_kfid": open_kfid, "external_userid": user, "service_state": state}
        if servicer:
            body["servicer_userid"] = servicer
        data = await self.client.call(TRANS, self.secret, body)
        self.sender.remember(chat, state)
        log.info("wecom_kf_service_state", chat=chat, state=state, servicer=servicer or None)
        return str(data.get("msg_code") or "")
