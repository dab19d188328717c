"""The HandoffDesk: tickets, intake, routing to technology managers, relay, hand-back.

    bot answering --(request / button / /human)--> INTAKE --(fields done or skipped)--> WAITING
    WAITING --(a manager claims)--> ACTIVE --(resolve / hand back / timeout)--> RESOLVED --> bot
    INTAKE --(cancel / idle)--> CANCELLED        WAITING --(nobody claims in time)--> EXPIRED

The ticket is the single source of truth: while a conversation has a WAITING or ACTIVE ticket the
assistant stays silent there. Every message in both directions goes through the engine's send path
and the store. Managers act through the same methods from every place they work.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable

import prompts
from bot import llm as llm_ops
from bot.errors import HandoffError, LLMError, NotPermittedError
from bot.handoff import intake, policy
from bot.handoff.availability import availability, hours_text
from bot.handoff.events import StaffChannel, StaffEvent
from bot.handoff.roster import load_roster, matches, on_duty, parse_hours
from bot.exchange import Exchange
from bot.outbox import Outbox
from bot.ports import Responder, TicketBook
from bot.settings import Settings
from bot.states import OPEN_TICKET, SERVED_TICKET, ButtonAction, StaffEventKind as Kind, TicketState as T
from bot.store import Store
from bot.records import ManagerRecord, TicketRecord
from bot.types import Button, Conversation, Reply, Role, utcnow

log = structlog.get_logger("qdbot.handoff")
UNRESOLVED = OPEN_TICKET


class HandoffDesk:
    def __init__(self, settings: Settings, store: Store, outbox: Outbox, llm: Runnable[Any, Any] | None = None):
        self.settings, self.store, self.outbox, self.llm = settings, store, outbox, llm
        self.tickets: TicketBook = store.tickets  # what staff channels read (the `StaffDesk` port)
        self.tz = ZoneInfo(settings.handoff_timezone)
        parse_hours(settings.handoff_office_hours)  # a malformed HANDOFF_OFFICE_HOURS stops the start
        self.staff: list[StaffChannel] = []

    def add_staff(self, channel: StaffChannel) -> None:
        self.staff.append(channel)

    async def load_roster(self) -> int:
        if self.settings.handoff_roster_file is None:
            return 0
        managers = load_roster(self.settings.handoff_roster_file)
        for m in managers:
            await self.store.tickets.upsert_manager(m)
        return len(managers)

    # ------------------------------------------------------------------ the user's side

    async def start(self, ex: Exchange) -> TicketRecord:
        """Open a ticket in INTAKE for the exchange's request and ask the first missing question (or queue it
        at once)."""
        conv = ex.conv
        fields = await self._prefill(conv, ex.text, ex.lang)
        step = intake.next_step(fields)
        ticket = await self.store.tickets.create(conv.id, state=T.INTAKE, lang=ex.lang, trigger=ex.text,
                                                 fields=fields, intake_step=step)
        if ticket is None:  # a concurrent request already opened one
            ticket = await self.store.tickets.open_for(conv.id)
            assert ticket is not None
            return ticket
        await self._say(conv, ex.lang, "intake_notice", ex)
        return await self._advance(conv, ticket, ex)

    async def on_user_message(self, ex: Exchange, ticket: TicketRecord) -> str:
        """A user message while a ticket is open: "cancelled" (cancel words, /cancel), "new_chat" ("新对话",
        /new: cancelled and the context forgotten), "intake" (the next intake answer), "answer" (a policy
        question while waiting: the engine answers it), else "relayed" to the manager."""
        conv, text = ex.conv, ex.text
        if intake.is_cancel(text) or intake.is_new_chat(text):
            await self.cancel_by_user(ex, ticket)
            if not intake.is_new_chat(text):
                return "cancelled"
            await self.store.reset_context(conv.id)
            await self._say(conv, ticket.lang, "context_reset", ex)
            return "new_chat"
        if ticket.state == T.INTAKE:
            return await self._intake_answer(ex, ticket)
        await self.store.tickets.transition(ticket.id, SERVED_TICKET)
        await self._emit(Kind.USER_MESSAGE, ticket, conv, text=text, actor="user")
        if ticket.state == T.WAITING and intake.looks_like_question(text):
            return "answer"
        if ticket.state == T.WAITING:
            await self.remind_waiting(ex, ticket.id, ticket.lang)
        return "relayed"

    async def remind_waiting(self, ex: Exchange, ticket_id: int, lang: str) -> None:
        await self._say(ex.conv, lang, "waiting_reminder", ex, self._cancel_button(lang), ticket=ticket_id)

    async def cancel_by_user(self, ex: Exchange, ticket: TicketRecord) -> bool:
        """The user withdraws the request at any step: intake, waiting or with a manager."""
        done = await self.store.tickets.transition(ticket.id, UNRESOLVED, T.CANCELLED, resolved_at=utcnow(),
                                                   outcome="cancelled by user")
        if done is None:
            return False
        await self.store.tickets.add_event(ticket.id, "user", Kind.CANCELLED)
        key = "intake_cancelled" if ticket.state == T.INTAKE else "ticket_cancelled"
        await self._say(ex.conv, ticket.lang, key, ex, ticket=ticket.id)
        if ticket.state != T.INTAKE:
            await self._emit(Kind.CANCELLED, done, ex.conv, text="cancelled by user", actor="user")
        return True

    def _cancel_button(self, lang: str) -> tuple[Button, ...]:
        return (Button(prompts.text(lang, "button_cancel_ticket"), f"{ButtonAction.SAY}:" + prompts.text(lang, "cancel_word")),)

    def _step_buttons(self, lang: str, step: str) -> tuple[Button, ...]:
        """Quick replies for an intake question: the kinds (1-7), skip, cancel; typed answers work too."""
        kinds = tuple(Button(f"{n} {prompts.text(lang, 'kind_' + k)}", f"say:{n}")
                      for n, k in enumerate(intake.KINDS, 1)) if step == "kind" else ()
        return kinds + (Button(prompts.text(lang, "button_skip"), "say:" + prompts.text(lang, "skip_word")),
                        Button(prompts.text(lang, "button_cancel"), "say:" + prompts.text(lang, "cancel_word")))

    async def _intake_answer(self, ex: Exchange, ticket: TicketRecord) -> str:
        step = ticket.intake_step or intake.next_step(ticket.fields)
        ok, value = intake.accept(step, ex.text) if step else (True, None)
        if not ok:
            await self._say(ex.conv, ticket.lang, "invalid_kind" if step == "kind" else "invalid_contact", ex,
                            self._step_buttons(ticket.lang, step or ""))
            return "intake"
        fields = {**ticket.fields, step: value} if step else ticket.fields
        updated = await self.store.tickets.transition(ticket.id, (T.INTAKE,), fields=fields,
                                                      intake_step=intake.next_step(fields))
        await self._advance(ex.conv, updated or ticket, ex)
        return "intake"

    async def _advance(self, conv: Conversation, ticket: TicketRecord, ex: Exchange) -> TicketRecord:
        step = intake.next_step(ticket.fields)
        if step is not None:
            await self._say(conv, ticket.lang, f"ask_{step}", ex, self._step_buttons(ticket.lang, step))
            return ticket
        return await self._queue(conv, ticket, ex)

    async def _queue(self, conv: Conversation, ticket: TicketRecord, ex: Exchange) -> TicketRecord:
        summary = await self._summary(conv, ticket.lang, before=ticket.created_at)
        now = utcnow()
        queued = await self.store.tickets.transition(ticket.id, (T.INTAKE,), T.WAITING, waiting_since=now,
                                                     intake_step=None, summary=summary, notified_at=now,
                                                     notify_count=1)
        if queued is None:
            return ticket
        managers = await self._recipients(queued)
        avail = availability(await self.store.tickets.managers(), managers, now, self.tz,
                             self.settings.handoff_office_hours)
        if avail.status != "staffed":  # flagged for operators: nobody will see it before the next working time
            await self.store.tickets.set_meta(queued.id, unstaffed=avail.status)
            queued = await self.store.tickets.get(queued.id) or queued
        when = avail.opening.astimezone(self.tz).strftime("%m-%d %H:%M") if avail.opening else ""
        key = {"staffed": "queued", "off_hours": "queued_off_hours",
               "no_roster": "queued_no_roster" if when else "queued_no_roster_now"}[avail.status]
        await self._say(conv, queued.lang, key, ex, self._cancel_button(queued.lang), ticket=queued.id,
                        when=when, hours=hours_text(avail.hours, queued.lang))
        await self._emit(Kind.OPENED, queued, conv, managers=managers)
        return queued

    async def _prefill(self, conv: Conversation, trigger: str, lang: str) -> dict[str, str | None]:
        fields: dict[str, str | None] = dict(intake.prefill(trigger))
        if self.llm is None:
            return fields
        history = await self._history(conv)
        try:
            raw = await llm_ops.complete(self.llm, [HumanMessage(
                prompts.template(lang, "intake").format(history=history or trigger))])
        except LLMError as exc:
            log.warning("intake_llm_failed", error=str(exc))
            return fields
        return {**intake.parse_llm_fields(raw), **fields}

    async def _history(self, conv: Conversation, limit: int = 12, before: datetime | None = None) -> str:
        turns = await self.store.recent_turns(conv.id, limit + 12)
        if before is not None:  # the conversation that led to the request, not the intake itself
            turns = [t for t in turns if t.created_at < before]
        return llm_ops.history_text(turns[-limit:])

    async def _summary(self, conv: Conversation, lang: str, before: datetime | None = None) -> str:
        history = await self._history(conv, before=before)
        if self.llm is None or not history:
            return history
        try:
            return (await llm_ops.complete(self.llm, [HumanMessage(
                prompts.template(lang, "summary").format(history=history))])).strip()
        except LLMError as exc:
            log.warning("summary_llm_failed", error=str(exc))
            return history

    # ------------------------------------------------------------------ routing

    async def _recipients(self, ticket: TicketRecord, exclude: str | None = None) -> tuple[ManagerRecord, ...]:
        """On-duty managers whose specialties match the ticket; everyone on duty when none match."""
        now = utcnow()
        duty = [m for m in await self.store.tickets.managers() if on_duty(m.working_hours, now, self.tz)
                and m.id != exclude]
        text = " ".join(str(v) for v in ticket.fields.values() if v) + " " + ticket.trigger
        matched = [m for m in duty if matches(m, text)]
        return tuple(matched or duty)

    def card(self, ticket: TicketRecord, channel: str) -> str:
        lang = "zh"
        missing = prompts.text(lang, "card_missing")
        f = {k: (v or missing) for k, v in ticket.fields.items()}
        kind = prompts.text(lang, f"kind_{ticket.fields['kind']}") if ticket.fields.get("kind") else missing
        return prompts.text(lang, "card", ticket=ticket.id, kind=kind, field=f.get("field", missing),
                            organisation=f.get("organisation", missing), contact_name=f.get("contact_name", missing),
                            contact=f.get("contact", missing), description=f.get("description", missing),
                            channel=channel, summary=ticket.summary or missing)

    async def _emit(self, kind: Kind, ticket: TicketRecord, conv: Conversation, *, text: str = "",
                    actor: str | None = None, managers: tuple[ManagerRecord, ...] = (), origin: str = "") -> None:
        event = StaffEvent(kind, ticket, text, actor, managers, self.card(ticket, conv.channel), conv.channel, origin)
        for channel in self.staff:
            try:
                await channel.on_ticket_event(event)
            except Exception:
                log.exception("staff_notify_failed", staff=channel.name, ticket=ticket.id, kind=kind)

    async def _say(self, conv: Conversation, lang: str, key: str, ex: Exchange | None = None,
                   buttons: tuple[Button, ...] = (), **fields: object) -> Reply:
        """A system line to the user: part of the exchange when one is being handled, else on its own."""
        return await self.outbox.deliver(conv, Reply(prompts.text(lang, key, **fields), buttons=buttons,
                                                     role=Role.SYSTEM), ex=ex, handoff=True)

    # ------------------------------------------------------------------ the managers' side

    async def _ticket_conv(self, ticket_id: int) -> tuple[TicketRecord, Conversation]:
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is None:
            raise HandoffError(f"ticket #{ticket_id} does not exist")
        conv = await self.store.get_conversation(ticket.conversation_id)
        assert conv is not None
        return ticket, conv

    async def _manager(self, manager_id: str) -> ManagerRecord:
        manager = await self.store.tickets.manager(manager_id)
        if manager is None or not manager.active:
            raise HandoffError(f"unknown technology manager {manager_id!r}")
        return manager

    async def authorize(self, action: str, ticket_id: int, actor: str) -> TicketRecord:
        """The ticket, when `actor` may do `action` to it now (`bot.handoff.policy`); a roster manager is held
        to the policy, the platform ("system", WeCom) only to the state transitions."""
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is None:
            raise HandoffError(f"ticket #{ticket_id} does not exist")
        if await self.store.tickets.manager(actor) is None:
            return ticket
        refused = policy.refusal(action, ticket, actor)
        if refused is not None:
            raise (NotPermittedError if refused.ownership else HandoffError)(refused.reason)
        return ticket

    async def claim(self, ticket_id: int, manager_id: str, staff_name: str | None = None,
                    origin: str = "") -> TicketRecord:
        """The first manager to claim a waiting ticket gets it (atomic across workers). With `staff_name` the
        claimer is a console admin or operator (`manager_id` is then their actor id, not a roster id).
        `origin`: the staff channel the action came from (it does not echo the action back)."""
        manager = await self._manager(manager_id) if staff_name is None else ManagerRecord(manager_id, staff_name)
        await self.authorize("claim", ticket_id, manager.id)
        claimed = await self.store.tickets.transition(ticket_id, (T.WAITING,), T.ACTIVE, manager_id=manager.id,
                                                      claimed_at=utcnow())
        if claimed is None:
            current = await self.store.tickets.get(ticket_id)
            raise HandoffError(f"ticket #{ticket_id} is {current.state if current else 'missing'}"
                               + (f" (claimed by {current.manager_id})" if current and current.manager_id else ""))
        _, conv = await self._ticket_conv(ticket_id)
        await self.store.tickets.add_event(ticket_id, manager.id, Kind.CLAIMED)
        await self._say(conv, claimed.lang, "manager_joined", name=manager.name)
        await self._emit(Kind.CLAIMED, claimed, conv, actor=manager.id, origin=origin)
        return claimed

    async def reply(self, ticket_id: int, manager_id: str, text: str, any_holder: bool = False,
                    origin: str = "") -> Reply:
        """A manager's message to the user, on the user's own channel (`any_holder`: an admin or operator
        may write on an active ticket someone else holds)."""
        await self.authorize("reply", ticket_id, manager_id)
        ticket, conv = await self._ticket_conv(ticket_id)
        if ticket.state != T.ACTIVE or (ticket.manager_id != manager_id and not any_holder):
            raise HandoffError(f"ticket #{ticket_id} is not active for {manager_id}")
        values: dict[str, Any] = {} if ticket.first_response_at else {"first_response_at": utcnow()}
        await self.store.tickets.transition(ticket_id, (T.ACTIVE,), **values)
        sent = await self.outbox.deliver(conv, Reply(text, role=Role.MANAGER), author=manager_id)
        await self._emit(Kind.REPLY, ticket, conv, text=text, actor=manager_id, origin=origin)
        return sent

    async def note(self, ticket_id: int, manager_id: str, text: str, origin: str = "") -> None:
        """An internal note: never shown to the user."""
        await self.authorize("note", ticket_id, manager_id)
        ticket, conv = await self._ticket_conv(ticket_id)
        await self.store.tickets.add_event(ticket_id, manager_id, Kind.NOTE, text)
        await self._emit(Kind.NOTE, ticket, conv, text=text, actor=manager_id, origin=origin)

    async def system_note(self, ticket_id: int, text: str) -> None:
        """A note by the platform (e.g. why a WeChat Customer Service transfer failed): in the ticket's history."""
        await self.store.tickets.add_event(ticket_id, "system", Kind.NOTE, text)

    async def first_response(self, ticket_id: int) -> None:
        """A person answered the user outside the desk (in the platform's own client): the ticket's first
        response, once."""
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is not None and ticket.state == T.ACTIVE and ticket.first_response_at is None:
            await self.store.tickets.transition(ticket_id, (T.ACTIVE,), first_response_at=utcnow())

    async def transfer(self, ticket_id: int, manager_id: str, to_manager_id: str, origin: str = "") -> TicketRecord:
        await self.authorize("transfer", ticket_id, manager_id)
        target = await self._manager(to_manager_id)
        moved = await self.store.tickets.transition(ticket_id, (T.ACTIVE, T.WAITING), T.ACTIVE,
                                                    manager_id=target.id, claimed_at=utcnow())
        if moved is None:
            raise HandoffError(f"ticket #{ticket_id} cannot be transferred")
        _, conv = await self._ticket_conv(ticket_id)
        await self.store.tickets.add_event(ticket_id, manager_id, Kind.TRANSFERRED, target.id)
        await self._say(conv, moved.lang, "manager_transferred", name=target.name)
        await self._emit(Kind.TRANSFERRED, moved, conv, actor=manager_id, managers=(target,), origin=origin)
        return moved

    async def resolve(self, ticket_id: int, manager_id: str, outcome: str = "resolved",
                      kind: Kind = Kind.RESOLVED, origin: str = "") -> TicketRecord:
        """Close the ticket, hand the conversation back to the assistant, ask for a rating."""
        await self.authorize("hand_back" if kind == Kind.HANDED_BACK else "resolve", ticket_id, manager_id)
        done = await self.store.tickets.transition(ticket_id, SERVED_TICKET, T.RESOLVED,
                                                   resolved_at=utcnow(), outcome=outcome[:64])
        if done is None:
            raise HandoffError(f"ticket #{ticket_id} is not open")
        _, conv = await self._ticket_conv(ticket_id)
        await self.store.tickets.add_event(ticket_id, manager_id, kind, outcome)
        await self._say(conv, done.lang, "back_to_assistant")
        stars = tuple(Button("★" * n, f"{ButtonAction.RATE}:{ticket_id}:{n}") for n in range(1, 6))
        await self._say(conv, done.lang, "rate_request", buttons=stars)
        await self._emit(kind, done, conv, text=outcome, actor=manager_id, origin=origin)
        return done

    async def cancel(self, ticket_id: int, actor: str, origin: str = "") -> TicketRecord:
        """Staff withdraw a ticket (a duplicate, spam, a request handled elsewhere): the user is told, no rating."""
        await self.authorize("cancel", ticket_id, actor)
        done = await self.store.tickets.transition(ticket_id, UNRESOLVED, T.CANCELLED, resolved_at=utcnow(),
                                                   outcome="cancelled by staff")
        if done is None:
            raise HandoffError(f"ticket #{ticket_id} is not open")
        _, conv = await self._ticket_conv(ticket_id)
        await self.store.tickets.add_event(ticket_id, actor, Kind.CANCELLED, "cancelled by staff")
        await self._say(conv, done.lang, "ticket_cancelled_by_staff", ticket=ticket_id)
        await self._emit(Kind.CANCELLED, done, conv, text="cancelled by staff", actor=actor, origin=origin)
        return done

    async def hand_back(self, ticket_id: int, manager_id: str, origin: str = "") -> TicketRecord:
        return await self.resolve(ticket_id, manager_id, "handed back", kind=Kind.HANDED_BACK, origin=origin)

    async def rate(self, conv: Conversation, ticket_id: int, stars: int, ex: Exchange | None = None,
                   via: Responder | None = None) -> bool:
        """The user's 1-5 stars for a resolved ticket (typed in the exchange `ex`, or a button press `via`)."""
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is None or ticket.conversation_id != conv.id or ticket.state != T.RESOLVED or not 1 <= stars <= 5:
            return False
        rated = await self.store.tickets.transition(ticket_id, (T.RESOLVED,), rating=stars)
        await self.store.tickets.add_event(ticket_id, "user", Kind.RATED, str(stars))
        await self.outbox.deliver(conv, Reply(prompts.text(ticket.lang, "rate_thanks"), role=Role.SYSTEM), ex=ex,
                                  via=via, handoff=True)
        await self._emit(Kind.RATED, rated or ticket, conv, text=str(stars), actor="user")
        return True

    # ------------------------------------------------------------------ timers

    async def tick(self, now: datetime | None = None) -> None:
        """Re-notify unclaimed tickets, expire stale ones, time out idle intakes and sessions."""
        now = now or utcnow()
        s = self.settings
        for t in await self.store.tickets.list(UNRESOLVED, limit=1000):
            idle = now - (t.last_activity_at or t.created_at)
            if t.state == T.INTAKE and idle > timedelta(minutes=s.handoff_intake_timeout_minutes):
                await self._close(t, T.INTAKE, T.CANCELLED, "intake abandoned", None)
            elif t.state == T.WAITING and now - (t.waiting_since or t.created_at) > timedelta(hours=s.handoff_expire_hours):
                await self._close(t, T.WAITING, T.EXPIRED, "nobody claimed", "ticket_expired")
            elif t.state == T.WAITING and now - (t.notified_at or t.created_at) > timedelta(minutes=s.handoff_renotify_minutes):
                await self._renotify(t, now)
            elif t.state == T.ACTIVE and idle > timedelta(hours=s.handoff_active_timeout_hours):
                await self.resolve(t.id, "system", "timeout")

    async def _close(self, t: TicketRecord, state: T, to: T, outcome: str, say: str | None) -> None:
        if await self.store.tickets.transition(t.id, (state,), to, resolved_at=utcnow(), outcome=outcome):
            await self.store.tickets.add_event(t.id, "system", to, outcome)
            conv = await self.store.get_conversation(t.conversation_id)
            if say and conv:
                await self._say(conv, t.lang, say, ticket=t.id)
            if conv:
                await self._emit(Kind(to), t, conv, text=outcome, actor="system")

    async def _renotify(self, t: TicketRecord, now: datetime) -> None:
        managers = await self._recipients(t)
        if not managers:
            return
        updated = await self.store.tickets.transition(t.id, (T.WAITING,), notified_at=now,
                                                      notify_count=t.notify_count + 1,
                                                      last_activity_at=t.last_activity_at)
        conv = await self.store.get_conversation(t.conversation_id)
        if updated and conv:
            await self._emit(Kind.RENOTIFY, updated, conv, managers=managers)
