"""The Engine: the one facade every adapter calls.

    handle(msg, responder): per-conversation lock -> store the message first (redeliveries stop here)
        -> an `Exchange` (the message, its conversation, language, responder and outcome)
        -> input checks / commands -> handoff request? -> answer -> the outbox (`bot.outbox`)

Adapters use only the public methods below; the store, the desk and the outbox are the engine's own.
"""
from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import structlog

import prompts
from bot import inputs
from bot import smalltalk
from bot.answerer import Answerer, Delta
from bot.drain import within
from bot.console_ports import ConsolePorts
from bot.exchange import Exchange, Outcome
from bot.extractive import render_sources
from bot.handoff import HandoffDesk
from bot.outbox import Outbox
from bot.inbox import Inbox, Process
from bot.ports import Channel, KnowledgeAdmin, Responder, StaffDesk
from bot.privacy import mask
from bot.settings import Settings
from bot.stopping import Generations
from bot.states import ButtonAction, MessageStatus, OutcomeStatus, TicketState
from bot.store import Store
from bot.records import StoredMessage, TicketRecord
from bot.text import detect_lang
from bot.types import TEST_CHANNELS, Answer, AnswerMode, Button, Conversation, IncomingMessage, Reply, Role, Turn, utcnow

if TYPE_CHECKING:  # set by the composition root (bot.app)
    from bot.eligibility import EligibilityDesk
    from bot.subscriptions import Notices

__all__ = ["COMMANDS", "Engine", "Exchange", "Outcome"]
log = structlog.get_logger("qdbot.engine")
COMMANDS = ("/start", "/help", "/new", "/human", "/cancel")
_RATING = re.compile(r"^\s*(?:([1-5])\s*(?:分|星|stars?)?|(★{1,5}))\s*[。.!！]?\s*$", re.I)
# a bare "5" is a rating this long after a ticket was resolved
RATING_WINDOW = timedelta(hours=24)
# on TEST_CHANNELS (`qdbot ask`/`chat`/`eval`) a handoff is recognised and reported but opens no ticket, so no
# manager is ever asked to serve a terminal or a test run, and a question without an answer is not a gap


class Engine:
    notices: Notices | None = None  # (issue 16): subscription commands and proactive notices
    eligibility: EligibilityDesk | None = None  # (issue 17): company profile and the self-check

    def __init__(self, settings: Settings, store: Store, answerer: Answerer, knowledge: KnowledgeAdmin | None = None):
        self.settings = settings
        self.store = store
        self.answerer = answerer
        self.knowledge = knowledge  # the console's way to change the knowledge base (None: read-only use)
        self.outbox = Outbox(store)
        # held or awaited locks stay referenced; idle ones vanish (no growth per conversation)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.desk = HandoffDesk(settings, store, self.outbox, answerer.llm)
        self.generations = Generations()  # answers being written here, so a user can stop theirs

    @property
    def channels(self) -> dict[str, Channel]:
        return self.outbox.channels

    def register(self, channel: Channel) -> None:
        self.outbox.register(channel)

    def unregister(self, name: str) -> None:
        self.outbox.unregister(name)

    def channel(self, name: str) -> Channel | None:
        return self.outbox.channels.get(name)

    def channel_names(self) -> list[str]:
        return list(self.outbox.channels)

    def console_ports(self) -> ConsolePorts:
        """What the operator console reads and changes besides this facade and `staff`: typed ports per concern
        (audit, accounts, curated answers, gaps, conversations, tickets, figures, documents, calendar, supports)."""
        return ConsolePorts.over(self.store)

    def _lock(self, conversation_id: int) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    # ------------------------------------------------------------------ one inbound message

    async def handle(self, msg: IncomingMessage, responder: Responder | None = None) -> Outcome:
        """Store first (a redelivery stops here), then answer in arrival order for this conversation. The
        replies to `msg` go through `responder` (None: the channel's `send`)."""
        t0 = time.perf_counter()
        msg = _storable(msg)
        self._enter()
        try:
            conv = await self.store.conversation_for(msg)
            limit = self.settings.rate_limit_per_minute
            # stored first; the per-user count (shared by all workers) and whether an earlier message still
            # waits come from the same transaction
            inbound = await self.store.record_inbound(conv, msg, 60.0 if limit > 0 else None)
            if inbound.message_id is None:
                outcome = Outcome(OutcomeStatus.DUPLICATE, conv.id)
            else:
                ex = _exchange(conv, msg, inbound.message_id, responder)
                if limit > 0 and inbound.recent > limit:
                    await self._limited(ex)
                else:
                    await self._queued(ex, inbound.earlier_waiting)
                outcome = ex.outcome
        finally:
            self._leave()
        self._log(msg, outcome, t0)
        return outcome

    async def _queued(self, ex: Exchange, earlier_waiting: bool) -> None:
        """Answer in arrival order per conversation, across workers; tell a user who sends while
        an earlier message is still being answered (here, or waiting when this one was stored) to wait."""
        if self._lock(ex.conv.id).locked() or earlier_waiting:
            await self.outbox.deliver(ex.conv, Reply(prompts.text(ex.lang, "busy"), role=Role.SYSTEM),
                                      reply_to_id=ex.message_id, ex=_aside(ex), aside=True)
        await self._locked(ex)

    async def _locked(self, ex: Exchange, recovering: bool = False) -> Outcome:
        """``recovering``: a dead worker's message; the replies it already stored are sent, not made again.
        They are looked at only once the claim is ours, so no two paths send them."""
        async with self._lock(ex.conv.id), self._slots, self.store.locks.lease(
                f"conversation:{ex.conv.id}", self.settings.conversation_lease_seconds):
            claim = await self.store.claim_for_answer(ex.message_id, ex.conv, ex.msg.user_id or ex.conv.user_id)
            ex.ticket_state, ex.has_profile = claim.ticket_state, claim.has_profile
            if not claim.claimed:  # another worker answered it
                ex.outcome.status = OutcomeStatus.DUPLICATE
            elif recovering and (replies := [r for r in await self.store.replies_to(ex.message_id)
                                             if not r.meta.get("aside")]):
                await self.outbox.redeliver(ex.conv, replies)
                await self.store.set_message_status(ex.message_id, MessageStatus.PROCESSED, recovered=True)
            else:
                await self._process(ex)
        return ex.outcome

    async def _limited(self, ex: Exchange) -> None:
        ex.outcome.status = OutcomeStatus.RATE_LIMITED
        await self.store.set_message_status(ex.message_id, MessageStatus.RATE_LIMITED)
        await self._say(ex, Reply(prompts.text(ex.lang, "rate_limited"), role=Role.SYSTEM))

    async def _process(self, ex: Exchange) -> None:
        out = ex.outcome
        ex.sent = []
        try:
            rejection = self._check_input(ex.msg)
            # the claim read whether the conversation has an open ticket: it is fetched only when it has one
            ticket = None if rejection or ex.ticket_state is None else await self.store.tickets.open_for(ex.conv.id)
            if rejection:
                out.status = OutcomeStatus.REJECTED
                await self._say(ex, Reply(prompts.text(ex.lang, rejection, limit=self.settings.max_message_chars),
                                          role=Role.SYSTEM))
            elif ticket is not None:
                out.status = OutcomeStatus.HANDOFF
                if await self.desk.on_user_message(ex, ticket) == "answer":
                    await self._answer_while_waiting(ex, ticket.id, ticket.lang)
            elif self.eligibility is not None and (done := await self.eligibility.handle(ex.conv, ex.msg, ex.lang,
                                                                                          ex.has_profile)):
                out.status = OutcomeStatus.PROFILE  # issue 17: profile answers and results, hidden in logs and exports
                await self.outbox.deliver(ex.conv, done, ex=ex, author=self.eligibility.author)
            elif self.notices is not None and (said := await self.notices.command(ex.conv, ex.text, ex.lang)):
                out.status = OutcomeStatus.COMMAND  # issue 16: /subscribe, /unsubscribe, 订阅, 退订
                await self._say(ex, Reply(said, role=Role.SYSTEM))
            elif ex.command in COMMANDS:
                await self._command(ex)
            elif (talk := smalltalk.kind(ex.text, COMMANDS + ("/manager",))) is not None:
                out.status = OutcomeStatus.SMALLTALK  # a friendly line with examples; not a question, so not a gap
                await self._say(ex, Reply(prompts.text(ex.lang, f"smalltalk_{talk}"), role=Role.SYSTEM))
            elif await self._typed_rating(ex):
                out.status = OutcomeStatus.COMMAND
            elif await self.answerer.wants_human(ex.text, ex.lang):
                await self._handoff(ex)
            else:
                await self._answer(ex)
            await self._finish(ex, MessageStatus.PROCESSED, {"outcome": str(out.status)})
        except Exception:
            log.exception("handle_failed", conversation=ex.conv.id)
            out.status = OutcomeStatus.ERROR
            await self._finish(ex, MessageStatus.FAILED, {})
            await self._say(ex, Reply(prompts.text(ex.lang, "error"), role=Role.SYSTEM))

    async def _finish(self, ex: Exchange, status: MessageStatus, meta: dict[str, Any]) -> None:
        """The message's status and its sent replies' in one statement; later replies are written as sent."""
        await self.store.set_message_statuses([*((mid, MessageStatus.SENT, {}) for mid in ex.sent or ()),
                                               (ex.message_id, status, meta)])
        ex.sent = None

    def _check_input(self, msg: IncomingMessage) -> str | None:
        if msg.kind != "text":
            return "unsupported_type"
        if inputs.is_blank(msg.text):
            return "empty_message"
        if len(msg.text) > self.settings.max_message_chars:
            return "too_long"
        return None

    async def _command(self, ex: Exchange) -> None:
        ex.outcome.status = OutcomeStatus.COMMAND
        if ex.command == "/human":
            await self._handoff(ex)
            return
        if ex.command == "/new":
            await self.store.reset_context(ex.conv.id)
        key = {"/start": "welcome", "/help": "help", "/new": "context_reset", "/cancel": "nothing_to_cancel"}[ex.command]
        await self._say(ex, Reply(prompts.text(ex.lang, key), role=Role.SYSTEM))

    async def _handoff(self, ex: Exchange) -> None:
        """A transfer-service request or /human: the handoff desk opens a ticket and starts the intake."""
        ex.outcome.status = OutcomeStatus.HANDOFF
        if ex.conv.channel in TEST_CHANNELS:
            await self._say(ex, Reply(prompts.text(ex.lang, "handoff_offline"), role=Role.SYSTEM), handoff=True)
            return
        await self.desk.start(ex)

    async def _answer_while_waiting(self, ex: Exchange, ticket_id: int, ticket_lang: str) -> None:
        """A policy question while the ticket waits: a one-line reminder, then the answer as usual (withheld
        if a manager claims the ticket meanwhile). Nothing in the knowledge base: the usual waiting reminder."""
        ex.outcome.while_waiting = True
        reminder = Reply(prompts.text(ticket_lang, "waiting_question_reminder", ticket=ticket_id), role=Role.SYSTEM)
        if not await self._answer(ex, reminder):
            await self.desk.remind_waiting(ex, ticket_id, ticket_lang)

    async def _typed_rating(self, ex: Exchange) -> bool:
        """"5", "4分" or "★★★" soon after a ticket was resolved rates it (the buttons do the same)."""
        m = _RATING.match(ex.text)
        ticket = await self.store.tickets.latest_for(ex.conv.id) if m else None
        if m is None or ticket is None or ticket.state != TicketState.RESOLVED or ticket.rating is not None:
            return False
        if ticket.resolved_at is None or utcnow() - ticket.resolved_at > RATING_WINDOW:
            return False
        return await self.desk.rate(ex.conv, ticket.id, int(m.group(1)) if m.group(1) else len(m.group(2)), ex)

    async def _answer(self, ex: Exchange, reminder: Reply | None = None) -> bool:
        """Answer and send (after `reminder`, when given; with a reminder a no-answer is not sent: False)."""
        s = self.settings
        history = await self.store.recent_turns(ex.conv.id, s.history_turns + 1)
        fresh = utcnow() - timedelta(minutes=s.history_max_age_minutes)
        history = [t for t in history if t.id != ex.message_id and t.created_at >= fresh][-s.history_turns:]
        if ex.responder is not None:
            await ex.responder.typing()
        answer = await self._run_answer(ex, history)
        if reminder is not None:
            if answer.no_answer:
                return False
            await self._say(ex, reminder)
        out = ex.outcome
        out.answer = answer
        out.status = (OutcomeStatus.STOPPED if answer.stopped else
                      OutcomeStatus.NO_ANSWER if answer.no_answer else OutcomeStatus.ANSWERED)
        if answer.no_answer and ex.conv.channel not in TEST_CHANNELS:
            await self.store.record_gap(ex.text, "no_answer", message_id=ex.message_id,
                                        conversation_id=ex.conv.id, top_score=answer.timings.get("top_score"))
        await self.outbox.deliver(ex.conv, self._answer_reply(answer), ex=ex, answer=answer)
        return True

    async def _run_answer(self, ex: Exchange, history: list[Turn]) -> Answer:
        """The answer, generated so that `stop(channel, chat_id)` can end it: then what was written so far."""
        streamed = ""

        async def generate() -> Answer:
            nonlocal streamed
            async for event in self.answerer.stream(ex.text, history, ex.lang):
                if isinstance(event, Delta):
                    streamed += event.text
                    if ex.responder is not None:
                        await ex.responder.delta(streamed)
                else:
                    return event
            raise RuntimeError("answerer ended without an answer")

        answer = await self.generations.run((ex.conv.channel, ex.conv.chat_id), generate)
        return answer if answer is not None else stopped_answer(streamed, ex.lang, self.answerer.mode)

    def stop(self, channel: str, chat_id: str) -> bool:
        """Stop the answer being written for this chat in this worker (False: none is); the part written so
        far is stored and sent, marked as stopped."""
        return self.generations.stop((channel, chat_id))

    def _answer_reply(self, answer: Answer) -> Reply:
        lang = answer.lang
        if answer.stopped:  # a part of an answer: nothing to rate, no sources it was checked against
            return Reply(answer.text)
        buttons = (Button(prompts.text(lang, "button_human"), ButtonAction.HANDOFF),) if answer.no_answer else (
            Button(prompts.text(lang, "button_up"), "feedback:up"),
            Button(prompts.text(lang, "button_down"), "feedback:down"),
            Button(prompts.text(lang, "button_human"), ButtonAction.HANDOFF),
        )
        return Reply(answer.text, citations=answer.citations, buttons=buttons)

    async def _say(self, ex: Exchange, reply: Reply, *, handoff: bool = False) -> Reply:
        return await self.outbox.deliver(ex.conv, reply, ex=ex, handoff=handoff)

    def _log(self, msg: IncomingMessage, out: Outcome, t0: float) -> None:
        a = out.answer
        log.info("message", channel=msg.channel, conversation=out.conversation_id, outcome=out.status,
                 retrieval_degraded=getattr(self.answerer.retriever, "degraded", False) or None,
                 text="[profile]" if out.status == OutcomeStatus.PROFILE else mask(msg.text[:80]),
                 mode=a.mode.value if a else None,
                 top_score=round(a.timings.get("top_score", a.passages[0].dense_score or 0), 3) if a and a.passages else None,
                 retrieval_ms=a.timings.get("retrieval_ms") if a else None,
                 total_ms=round((time.perf_counter() - t0) * 1000, 1))

    # ------------------------------------------------------------------ recovery and shutdown

    async def recover(self, received_grace: float = 60.0, processing_grace: float | None = None) -> int:
        """Finish what a killed worker left: deliver stored but undelivered replies, answer stored but
        unanswered messages. Safe with several workers (every step is compare-and-set)."""
        now = utcnow()
        grace = self.settings.recovery_grace_seconds if processing_grace is None else processing_grace
        since = now - timedelta(seconds=grace)
        stale = await self.store.stale_user_messages(now - timedelta(seconds=received_grace), since)
        for stored in stale:
            await self._recover_one(stored, since)
        if stale:
            log.info("recovered", messages=len(stale))
        return len(stale)

    async def resume(self, channel: str, channel_message_id: str | None) -> bool:
        """Finish one stored message whose platform event is being handled again because the
        worker that had it died (a durable inbox's retry): answer it unless it was answered, or is
        being answered elsewhere (processing for less than ``RECOVERY_GRACE_SECONDS``)."""
        if not channel_message_id:
            return False
        stored = await self.store.user_message(channel, channel_message_id)
        since = utcnow() - timedelta(seconds=self.settings.recovery_grace_seconds)
        if stored is None or not (stored.status == MessageStatus.RECEIVED
                                  or (stored.status == MessageStatus.PROCESSING and stored.processing_since() < since)):
            return False
        await self._recover_one(stored, since)
        log.info("resumed", channel=channel, message=stored.id)
        return True

    async def _recover_one(self, stored: StoredMessage, stale_since: datetime) -> None:
        """``stale_since``: a message still processing is taken only if it was claimed before then."""
        conv = await self.store.get_conversation(stored.conversation_id)
        if conv is None:
            return
        if await self.store.claim_message(  # back to received: a processing one only while its claim is stale
                stored.id, (stored.status,), MessageStatus.RECEIVED,
                claimed_before=stale_since if stored.status == MessageStatus.PROCESSING else None):
            msg = IncomingMessage(conv.channel, conv.chat_id, conv.user_id, stored.text,
                                  kind=stored.meta.get("kind", "text"))
            await self._locked(_exchange(conv, msg, stored.id, None), recovering=True)

    def _enter(self) -> None:
        self._inflight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait (bounded) for in-flight messages to finish; True when none is left."""
        return await within(self._idle.wait(), timeout)

    # ------------------------------------------------------------------ the rest of the facade

    def sources_text(self, reply: Reply, lang: str) -> str:
        return render_sources(reply.citations, lang)

    async def notify(self, channel: str, chat_id: str, reply: Reply, reply_to_id: int | None = None) -> Reply | None:
        """Send a system message to a chat through the one outbound path (stored, then delivered)."""
        conv = await self.store.find_conversation(channel, chat_id)
        if conv is None:
            return None
        return await self.outbox.deliver(conv, reply, reply_to_id=reply_to_id)

    async def button(self, channel: str, chat_id: str, user_id: str, action: str,
                     responder: Responder | None = None) -> bool:
        """A button press from any channel: "feedback:up:<id>", "feedback:down:<id>", "handoff",
        "rate:<ticket>:<stars>", "say:<text>" (a quick reply: as if the user typed the text). False when the
        action is unknown or not allowed."""
        parts = action.split(":")
        if parts[0] == ButtonAction.SAY and action[4:].strip():
            await self.handle(IncomingMessage(channel=channel, chat_id=chat_id, user_id=user_id, text=action[4:]),
                              responder)
            return True
        if parts[0] == ButtonAction.FEEDBACK and len(parts) == 3 and parts[2].isdigit():
            return await self.feedback(channel, chat_id, int(parts[2]), parts[1])
        if parts[0] == ButtonAction.HANDOFF:
            await self.handle(IncomingMessage(channel=channel, chat_id=chat_id, user_id=user_id, text="/human"),
                              responder)
            return True
        if parts[0] == ButtonAction.RATE and len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            conv = await self.store.find_conversation(channel, chat_id)
            return conv is not None and await self.desk.rate(conv, int(parts[1]), int(parts[2]), via=responder)
        return False

    # ------------------------------------------------------------------ what adapters may ask and keep

    @property
    def staff(self) -> StaffDesk:
        """The handoff desk as staff channels use it (claim, reply, resolve, … and the tickets they show)."""
        return self.desk

    def inbox(self, channel: str, process: Process, *, workers: int, lease: float | None = None) -> Inbox:
        """A durable inbox for a channel that acknowledges platform events before answering them."""
        return Inbox(self.store, channel, process, workers=workers,
                     lease=self.settings.inbox_lease_seconds if lease is None else lease)

    def subscribe(self, topic: str, listener: Callable[[dict[str, Any]], None]) -> None:
        """Hear notices published on `topic` by any worker (`publish`)."""
        self.store.broadcast.subscribe(topic, listener)

    async def publish(self, topic: str, notice: dict[str, Any]) -> None:
        """Tell every worker (their `subscribe`rs of `topic`), e.g. a stop pressed on another worker."""
        await self.store.broadcast.publish(topic, notice)

    async def seen_event(self, key: str) -> bool:
        """Record a platform event id; True when it was recorded before (a redelivery)."""
        return await self.store.seen_event(key)

    async def has_event(self, key: str) -> bool:
        return await self.store.has_event(key)

    async def get_state(self, key: str) -> str | None:
        """A channel's own small state (cursors, access tokens, topic ids), shared by all workers."""
        return await self.store.get_state(key)

    async def set_state(self, key: str, value: str) -> None:
        await self.store.set_state(key, value)

    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        """A lock shared by all workers, held for the block."""
        return self.store.locks.hold(name)

    async def set_blocked(self, channel: str, chat_id: str, blocked: bool = True) -> bool:
        """The user blocked (or unblocked) the assistant: nothing more is sent there. False: no such chat."""
        conv = await self.store.find_conversation(channel, chat_id)
        if conv is not None:
            await self.store.set_blocked(conv.id, blocked)
        return conv is not None

    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await self.store.get_conversation(conversation_id)

    async def open_ticket(self, channel: str, chat_id: str) -> TicketRecord | None:
        """The chat's unresolved ticket (intake, waiting or active), if any."""
        conv = await self.store.find_conversation(channel, chat_id)
        return await self.store.tickets.open_for(conv.id) if conv else None

    async def transcript(self, channel: str, chat_id: str, after_id: int | None, limit: int) -> Transcript:
        """The chat's stored messages after `after_id` (ids are in commit order per conversation), and its
        open ticket; empty for a chat never seen."""
        conv = await self.store.find_conversation(channel, chat_id)
        if conv is None:
            return Transcript([], None)
        return Transcript(await self.store.messages(conv.id, after_id=after_id, limit=limit),
                          await self.store.tickets.open_for(conv.id))

    async def message(self, message_id: int) -> StoredMessage | None:
        return await self.store.get_message(message_id)

    async def keep(self, msg: IncomingMessage, outcome: str, **meta: Any) -> int | None:
        """Store a user message that the assistant must not answer (a person serves the chat in the
        platform's own client); None when it was stored before."""
        msg = _storable(msg)
        conv = await self.store.conversation_for(msg)
        mid = await self.store.record_user_message(conv, msg)
        if mid is not None:
            await self.store.set_message_status(mid, MessageStatus.PROCESSED, outcome=outcome, **meta)
        return mid

    async def record_platform_message(self, msg: IncomingMessage, role: Role, text: str, status: MessageStatus, *,
                                      author: str | None = None, meta: dict[str, Any] | None = None) -> int:
        """A message the platform delivered itself (a servicer's reply in the WeCom client, a session
        event): kept in the chat's transcript, never sent again. `msg` names the chat and user."""
        conv = await self.store.conversation_for(_storable(msg))
        mid = await self.store.record_reply(conv.id, conv.channel, role, text, author=author, meta=meta or {})
        await self.store.set_message_status(mid, status)
        return mid

    async def mark_undelivered(self, message_id: int, reason: str) -> None:
        await self.store.set_message_status(message_id, MessageStatus.FAILED, error=reason[:300])

    async def feedback(self, channel: str, chat_id: str, message_id: int, value: str | None) -> bool:
        """👍 ("up") / 👎 ("down") / withdrawn (None) on an answer of this chat; a 👎 is a knowledge gap."""
        if value not in ("up", "down", None):
            return False
        conv = await self.store.find_conversation(channel, chat_id)
        stored = await self.store.get_message(message_id)
        if conv is None or stored is None or stored.conversation_id != conv.id:
            return False
        if not await self.store.set_feedback(message_id, value):
            return False
        if value == "down":
            question = await self.store.get_message(stored.reply_to_id) if stored.reply_to_id else None
            await self.store.record_gap(question.text if question else stored.text, "thumbs_down",
                                        message_id=message_id, conversation_id=conv.id)
        return True


class Transcript(NamedTuple):
    """A chat's stored messages after a cursor, oldest first, and its open ticket."""

    messages: list[StoredMessage]
    ticket: TicketRecord | None


def _exchange(conv: Conversation, msg: IncomingMessage, message_id: int, responder: Responder | None) -> Exchange:
    text = msg.text.strip()
    command = text.split(" ")[0].lower() if text.startswith("/") else ""
    return Exchange(conv, msg, message_id, _lang_of(msg, conv), Outcome(OutcomeStatus.ANSWERED, conv.id, message_id),
                    responder, command)


_CITATION_MARK = re.compile(r"\[\d{1,2}\]")


def stopped_answer(streamed: str, lang: str, mode: AnswerMode) -> Answer:
    """What was written before the user stopped it, without [n] marks (a part was never checked against its
    sources); a short notice when nothing was written yet."""
    text = _CITATION_MARK.sub("", streamed).strip()
    return Answer(text or prompts.text(lang, "answer_stopped"), mode, lang=lang, stopped=True)


def _aside(ex: Exchange) -> Exchange:
    """The exchange for a reply that is not part of its outcome (the "still busy" notice)."""
    return dataclasses.replace(ex, outcome=Outcome(ex.outcome.status, ex.conv.id, ex.message_id))


def _storable(msg: IncomingMessage) -> IncomingMessage:
    """The message with text and ids every database can store (lone surrogates, NUL: `bot.inputs`)."""
    fields: dict[str, Any] = {k: inputs.scrub(v) for k in ("text", "chat_id", "user_id") if (v := getattr(msg, k)) != inputs.scrub(v)}
    return dataclasses.replace(msg, **fields) if fields else msg


def _lang_of(msg: IncomingMessage, conv: Conversation) -> str:
    """The platform's hint, else the script of the text; commands follow the conversation (default zh)."""
    if msg.lang in ("zh", "en"):
        return msg.lang
    if msg.text.strip().startswith("/") or not msg.text.strip():
        return conv.lang if conv.lang in ("zh", "en") else "zh"
    return detect_lang(msg.text)
