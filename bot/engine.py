"""The Engine: the one facade every adapter calls, and the one outbound path (`_send`).

    handle(msg): per-conversation lock -> store the message first (redeliveries stop here)
                 -> input checks / commands -> handoff request? -> answer -> _send
"""
from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import weakref
from contextvars import ContextVar
from datetime import timedelta
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

import prompts
from bot import inputs
from bot import smalltalk
from bot.answerer import Answerer, Delta
from bot.extractive import render_sources
from bot.handoff import HandoffDesk
from bot.ports import Channel
from bot.privacy import mask
from bot.settings import Settings
from bot.stopping import Generations
from bot.store import Store, StoredMessage
from bot.text import detect_lang
from bot.types import TEST_CHANNELS, Answer, AnswerMode, Button, Conversation, IncomingMessage, Reply, Role, utcnow

log = structlog.get_logger("qdbot.engine")
OnDelta = Callable[[str], Awaitable[None]]
COMMANDS = ("/start", "/help", "/new", "/human", "/cancel")
_RATING = re.compile(r"^\s*(?:([1-5])\s*(?:分|星|stars?)?|(★{1,5}))\s*[。.!！]?\s*$", re.I)
RATING_WINDOW = timedelta(hours=24)
# on TEST_CHANNELS (`qdbot ask`/`chat`/`eval`) a handoff is recognised and reported but opens no ticket, so no
# manager is ever asked to serve a terminal or a test run, and a question without an answer is not a gap  # a bare "5" is a rating this long after a ticket was resolved
_OUTCOME: ContextVar["Outcome | None"] = ContextVar("qdbot_outcome", default=None)


@dataclass(slots=True)
class Outcome:
    """What happened to one inbound message (for adapters, the CLI and the log line)."""

    status: str  # answered | no_answer | stopped | handoff | duplicate | rejected | rate_limited | command | smalltalk | error
    conversation_id: int | None = None
    message_id: int | None = None
    answer: Answer | None = None
    replies: list[Reply] = field(default_factory=list)
    while_waiting: bool = False  # answering a policy question while the user's ticket waits for a manager


class Engine:
    notices = None  # bot.subscriptions.Notices (issue 16): subscription commands and proactive notices
    eligibility = None  # bot.eligibility.EligibilityDesk (issue 17): company profile and the self-check

    def __init__(self, settings: Settings, store: Store, answerer: Answerer):
        self.settings = settings
        self.store = store
        self.answerer = answerer
        self.channels: dict[str, Channel] = {}
        # held or awaited locks stay referenced; idle ones vanish (no growth per conversation)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.desk = HandoffDesk(settings, store, self._send, answerer.llm)
        self.generations = Generations()  # answers being written here, so a user can stop theirs

    def register(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    def _lock(self, conversation_id: int) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    async def handle(self, msg: IncomingMessage, on_delta: OnDelta | None = None) -> Outcome:
        """Store first (a redelivery stops here), then answer in arrival order for this conversation."""
        t0 = time.perf_counter()
        msg = _storable(msg)
        self._enter()
        try:
            conv = await self.store.conversation_for(msg)
            limit = self.settings.rate_limit_per_minute
            # stored first; the per-user count (shared by all workers) comes from the same transaction
            message_id, recent = await self.store.record_and_count(conv, msg, 60.0 if limit > 0 else None)
            limited = message_id is not None and limit > 0 and recent > limit
            if message_id is None:
                outcome = Outcome("duplicate", conv.id)
            elif limited:
                outcome = await self._limited(conv, msg, message_id)
            else:
                outcome = await self._queued(conv, msg, message_id, on_delta)
        finally:
            self._leave()
        self._log(msg, outcome, t0)
        return outcome

    async def _queued(self, conv: Conversation, msg: IncomingMessage, message_id: int,
                      on_delta: OnDelta | None) -> Outcome:
        """Answer in arrival order per conversation, across workers; tell a user who sends while
        an earlier message is still being answered to wait."""
        if self._lock(conv.id).locked() or await self.store.pending_before(conv.id, message_id):
            await self._send(conv, Reply(prompts.text(_lang_of(msg, conv), "busy"), role=Role.SYSTEM),
                             reply_to_id=message_id)
        return await self._locked(conv, msg, message_id, on_delta)

    async def _locked(self, conv: Conversation, msg: IncomingMessage, message_id: int,
                      on_delta: OnDelta | None) -> Outcome:
        async with self._lock(conv.id), self._slots, self.store.locks.lease(
                f"conversation:{conv.id}", self.settings.conversation_lease_seconds):
            if not await self.store.claim_message(message_id):  # another worker answered it
                return Outcome("duplicate", conv.id, message_id)
            return await self._process(conv, msg, message_id, on_delta)

    async def recover(self, received_grace: float = 60.0, processing_grace: float | None = None) -> int:
        """Finish what a killed worker left: deliver stored but undelivered replies, answer stored but
        unanswered messages. Safe with several workers (every step is compare-and-set)."""
        now = utcnow()
        grace = self.settings.recovery_grace_seconds if processing_grace is None else processing_grace
        stale = await self.store.stale_user_messages(now - timedelta(seconds=received_grace),
                                                     now - timedelta(seconds=grace))
        for stored in stale:
            await self._recover_one(stored)
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
        if stored is None or not (stored.status == "received"
                                  or (stored.status == "processing" and stored.created_at < since)):
            return False
        await self._recover_one(stored)
        log.info("resumed", channel=channel, message=stored.id)
        return True

    async def _recover_one(self, stored: StoredMessage) -> None:
        conv = await self.store.get_conversation(stored.conversation_id)
        if conv is None:
            return
        replies = await self.store.replies_to(stored.id)
        if replies:
            await self._redeliver(conv, replies)
            await self.store.set_message_status(stored.id, "processed", recovered=True)
        elif await self.store.claim_message(stored.id, (stored.status,), "received"):
            msg = IncomingMessage(conv.channel, conv.chat_id, conv.user_id, stored.text,
                                  kind=stored.meta.get("kind", "text"))
            await self._locked(conv, msg, stored.id, None)

    async def _redeliver(self, conv: Conversation, replies: list) -> None:
        channel = self.channels.get(conv.channel)
        for r in replies:
            if r.status != "pending" or channel is None:
                continue
            try:
                await channel.send(conv.chat_id, Reply(r.text, role=Role(r.role), message_id=r.id))
                await self.store.set_message_status(r.id, "sent", redelivered=True)
            except Exception as exc:
                await self.store.set_message_status(r.id, "failed", error=str(exc)[:300])

    async def _limited(self, conv: Conversation, msg: IncomingMessage, message_id: int) -> Outcome:
        out = Outcome("rate_limited", conv.id, message_id)
        await self.store.set_message_status(message_id, "rate_limited")
        notice = Reply(prompts.text(_lang_of(msg, conv), "rate_limited"), role=Role.SYSTEM)
        out.replies.append(await self._send(conv, notice, reply_to_id=message_id))
        return out

    def _enter(self) -> None:
        self._inflight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait (bounded) for in-flight messages to finish; True when none is left."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def _process(self, conv: Conversation, msg: IncomingMessage, message_id: int,
                       on_delta: OnDelta | None) -> Outcome:
        lang = _lang_of(msg, conv)
        out = Outcome("answered", conv.id, message_id)
        token = _OUTCOME.set(out)
        try:
            rejection = self._check_input(msg, lang)
            ticket = None if rejection else await self.store.tickets.open_for(conv.id)
            if rejection:
                out.status = "rejected"
                await self._reply(conv, out, Reply(prompts.text(lang, rejection, limit=self.settings.max_message_chars), role=Role.SYSTEM))
            elif ticket is not None:
                out.status = "handoff"
                if await self.desk.on_user_message(conv, ticket, msg, message_id) == "answer":
                    await self._answer_while_waiting(conv, msg, lang, out, on_delta, ticket.id, ticket.lang)
            elif self.eligibility is not None and (done := await self.eligibility.handle(conv, msg, lang)):
                out.status = "profile"  # issue 17: profile answers and results, hidden in logs and exports
                await self._send(conv, done, reply_to_id=out.message_id, author=self.eligibility.author)
            elif self.notices is not None and (said := await self.notices.command(conv, msg.text, lang)):
                out.status = "command"  # issue 16: /subscribe, /unsubscribe, 订阅, 退订
                await self._reply(conv, out, Reply(said, role=Role.SYSTEM))
            elif msg.text.strip().split(" ")[0].lower() in COMMANDS:
                await self._command(conv, msg, lang, out)
            elif (talk := smalltalk.kind(msg.text, COMMANDS + ("/manager",))) is not None:
                out.status = "smalltalk"  # a friendly line with examples; not a question, so not a gap
                await self._reply(conv, out, Reply(prompts.text(lang, f"smalltalk_{talk}"), role=Role.SYSTEM))
            elif await self._typed_rating(conv, msg.text):
                out.status = "command"
            elif await self.answerer.wants_human(msg.text, lang):
                await self._handoff(conv, msg, lang, out)
            else:
                await self._answer(conv, msg, lang, out, on_delta)
            await self.store.set_message_status(message_id, "processed", outcome=out.status)
        except Exception:
            log.exception("handle_failed", conversation=conv.id)
            out.status = "error"
            await self.store.set_message_status(message_id, "failed")
            await self._reply(conv, out, Reply(prompts.text(lang, "error"), role=Role.SYSTEM))
        finally:
            _OUTCOME.reset(token)
        return out

    def _check_input(self, msg: IncomingMessage, lang: str) -> str | None:
        if msg.kind != "text":
            return "unsupported_type"
        if inputs.is_blank(msg.text):
            return "empty_message"
        if len(msg.text) > self.settings.max_message_chars:
            return "too_long"
        return None

    async def _command(self, conv: Conversation, msg: IncomingMessage, lang: str, out: Outcome) -> None:
        out.status = "command"
        cmd = msg.text.strip().split(" ")[0].lower()
        if cmd == "/human":
            await self._handoff(conv, msg, lang, out)
            return
        if cmd == "/new":
            await self.store.reset_context(conv.id)
        key = {"/start": "welcome", "/help": "help", "/new": "context_reset", "/cancel": "nothing_to_cancel"}[cmd]
        await self._reply(conv, out, Reply(prompts.text(lang, key), role=Role.SYSTEM))

    async def _handoff(self, conv: Conversation, msg: IncomingMessage, lang: str, out: Outcome) -> None:
        """A transfer-service request or /human: the handoff desk opens a ticket and starts the intake."""
        out.status = "handoff"
        if conv.channel in TEST_CHANNELS:
            await self._reply(conv, out, Reply(prompts.text(lang, "handoff_offline"), role=Role.SYSTEM), handoff=True)
            return
        await self.desk.start(conv, msg.text, lang, reply_to_id=out.message_id)

    async def _answer_while_waiting(self, conv: Conversation, msg: IncomingMessage, lang: str, out: Outcome,
                                    on_delta: OnDelta | None, ticket_id: int, ticket_lang: str) -> None:
        """A policy question while the ticket waits: a one-line reminder, then the answer as usual (withheld
        if a manager claims the ticket meanwhile). Nothing in the knowledge base: the usual waiting reminder."""
        out.while_waiting = True
        reminder = Reply(prompts.text(ticket_lang, "waiting_question_reminder", ticket=ticket_id), role=Role.SYSTEM)
        if not await self._answer(conv, msg, lang, out, on_delta, reminder):
            await self.desk.remind_waiting(conv, ticket_id, ticket_lang, out.message_id)

    async def _typed_rating(self, conv: Conversation, text: str) -> bool:
        """"5", "4分" or "★★★" soon after a ticket was resolved rates it (the buttons do the same)."""
        m = _RATING.match(text)
        ticket = await self.store.tickets.latest_for(conv.id) if m else None
        if m is None or ticket is None or ticket.state != "resolved" or ticket.rating is not None:
            return False
        if ticket.resolved_at is None or utcnow() - ticket.resolved_at > RATING_WINDOW:
            return False
        return await self.desk.rate(conv, ticket.id, int(m.group(1)) if m.group(1) else len(m.group(2)))

    async def _answer(self, conv: Conversation, msg: IncomingMessage, lang: str, out: Outcome,
                      on_delta: OnDelta | None, reminder: Reply | None = None) -> bool:
        """Answer and send (after `reminder`, when given; with a reminder a no-answer is not sent: False)."""
        history = await self.store.recent_turns(conv.id, self.settings.history_turns + 1)
        fresh = utcnow() - timedelta(minutes=self.settings.history_max_age_minutes)
        history = [t for t in history if t.id != out.message_id and t.created_at >= fresh][-self.settings.history_turns:]
        answer = await self._run_answer(msg.text, history, lang, on_delta, (conv.channel, conv.chat_id))
        if reminder is not None:
            if answer.no_answer:
                return False
            await self._reply(conv, out, reminder)
        out.answer = answer
        out.status = "stopped" if answer.stopped else "no_answer" if answer.no_answer else "answered"
        if answer.no_answer and conv.channel not in TEST_CHANNELS:
            await self.store.record_gap(msg.text, "no_answer", message_id=out.message_id,
                                        conversation_id=conv.id, top_score=answer.timings.get("top_score"))
        await self._reply(conv, out, self._answer_reply(answer), answer=answer)
        return True

    async def _run_answer(self, text: str, history: list, lang: str, on_delta: OnDelta | None,
                          chat: tuple[str, str]) -> Answer:
        """The answer, generated so that `stop(channel, chat_id)` can end it: then what was written so far."""
        streamed = ""

        async def generate() -> Answer:
            nonlocal streamed
            async for event in self.answerer.stream(text, history, lang):
                if isinstance(event, Delta):
                    streamed += event.text
                    if on_delta is not None:
                        await on_delta(streamed)
                else:
                    return event
            raise RuntimeError("answerer ended without an answer")

        answer = await self.generations.run(chat, generate)
        return answer if answer is not None else stopped_answer(streamed, lang, self.answerer.mode)

    def stop(self, channel: str, chat_id: str) -> bool:
        """Stop the answer being written for this chat in this worker (False: none is); the part written so
        far is stored and sent, marked as stopped."""
        return self.generations.stop((channel, chat_id))

    def _answer_reply(self, answer: Answer) -> Reply:
        lang = answer.lang
        if answer.stopped:  # a part of an answer: nothing to rate, no sources it was checked against
            return Reply(answer.text)
        buttons = (Button(prompts.text(lang, "button_human"), "handoff"),) if answer.no_answer else (
            Button(prompts.text(lang, "button_up"), "feedback:up"),
            Button(prompts.text(lang, "button_down"), "feedback:down"),
            Button(prompts.text(lang, "button_human"), "handoff"),
        )
        return Reply(answer.text, citations=answer.citations, buttons=buttons)

    async def _reply(self, conv: Conversation, out: Outcome, reply: Reply, *, answer: Answer | None = None,
                     handoff: bool = False) -> None:
        await self._send(conv, reply, reply_to_id=out.message_id, answer=answer, handoff=handoff)

    async def _send(self, conv: Conversation, reply: Reply, *, reply_to_id: int | None = None,
                    answer: Answer | None = None, handoff: bool = False, author: str | None = None) -> Reply:
        """Store, then deliver: the one outbound path for assistant, manager and system messages."""
        meta = _answer_meta(answer) if answer else {}
        if reply.buttons:  # kept so a reloaded page shows them again
            meta["buttons"] = [{"label": b.label, "action": b.action} for b in reply.buttons]
        mid = await self.store.record_reply(
            conv.id, conv.channel, reply.role, reply.text, reply_to_id=reply_to_id, author=author,
            mode=answer.mode.value if answer else None, no_answer=bool(answer and answer.no_answer),
            handoff=handoff, top_score=meta.get("top_score"), latency_ms=meta.get("latency_ms"), meta=meta,
        )
        reply = Reply(reply.text, reply.citations, reply.buttons, reply.role, message_id=mid)
        current = _OUTCOME.get()
        if current is not None:
            current.replies.append(reply)
        if reply.role is Role.ASSISTANT and await self._human_owns(conv, current is not None and current.while_waiting):
            await self.store.set_message_status(mid, "suppressed")  # never answer over a human
            return reply
        channel = self.channels.get(conv.channel)
        if channel is None or conv.blocked:
            await self.store.set_message_status(mid, "blocked" if conv.blocked else "stored")
            return reply
        try:
            await channel.send(conv.chat_id, reply)
            await self.store.set_message_status(mid, "sent")
        except Exception as exc:
            log.warning("send_failed", channel=conv.channel, error=exc.__class__.__name__)
            await self.store.set_message_status(mid, "failed", error=str(exc)[:300])
        return reply

    def _log(self, msg: IncomingMessage, out: Outcome, t0: float) -> None:
        a = out.answer
        log.info("message", channel=msg.channel, conversation=out.conversation_id, outcome=out.status,
                 retrieval_degraded=getattr(self.answerer.retriever, "degraded", False) or None,
                 text="[profile]" if out.status == "profile" else mask(msg.text[:80]), mode=a.mode.value if a else None,
                 top_score=round(a.timings.get("top_score", a.passages[0].dense_score or 0), 3) if a and a.passages else None,
                 retrieval_ms=a.timings.get("retrieval_ms") if a else None,
                 total_ms=round((time.perf_counter() - t0) * 1000, 1))

    def sources_text(self, reply: Reply, lang: str) -> str:
        return render_sources(reply.citations, lang)

    async def notify(self, channel: str, chat_id: str, reply: Reply, reply_to_id: int | None = None) -> Reply | None:
        """Send a system message to a chat through the one outbound path (stored, then delivered)."""
        conv = await self.store.find_conversation(channel, chat_id)
        if conv is None:
            return None
        return await self._send(conv, reply, reply_to_id=reply_to_id)

    async def _human_owns(self, conv: Conversation, waiting_allowed: bool = False) -> bool:
        ticket = await self.store.tickets.open_for(conv.id)
        return ticket is not None and ticket.state in (("active",) if waiting_allowed else ("waiting", "active"))

    async def button(self, channel: str, chat_id: str, user_id: str, action: str) -> bool:
        """A button press from any channel: "feedback:up:<id>", "feedback:down:<id>", "handoff",
        "rate:<ticket>:<stars>", "say:<text>" (a quick reply: as if the user typed the text). False when the
        action is unknown or not allowed."""
        parts = action.split(":")
        if parts[0] == "say" and action[4:].strip():
            await self.handle(IncomingMessage(channel=channel, chat_id=chat_id, user_id=user_id, text=action[4:]))
            return True
        if parts[0] == "feedback" and len(parts) == 3 and parts[2].isdigit():
            return await self.feedback(channel, chat_id, int(parts[2]), parts[1])
        if parts[0] == "handoff":
            await self.handle(IncomingMessage(channel=channel, chat_id=chat_id, user_id=user_id, text="/human"))
            return True
        if parts[0] == "rate" and len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            conv = await self.store.find_conversation(channel, chat_id)
            return conv is not None and await self.desk.rate(conv, int(parts[1]), int(parts[2]))
        return False

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


def _storable(msg: IncomingMessage) -> IncomingMessage:
    """The message with text and ids every database can store (lone surrogates, NUL: `bot.inputs`)."""
    fields = {k: inputs.scrub(v) for k in ("text", "chat_id", "user_id") if (v := getattr(msg, k)) != inputs.scrub(v)}
    return dataclasses.replace(msg, **fields) if fields else msg


def _lang_of(msg: IncomingMessage, conv: Conversation) -> str:
    """The platform's hint, else the script of the text; commands follow the conversation (default zh)."""
    if msg.lang in ("zh", "en"):
        return msg.lang
    if msg.text.strip().startswith("/") or not msg.text.strip():
        return conv.lang if conv.lang in ("zh", "en") else "zh"
    return detect_lang(msg.text)


def _answer_meta(answer: Answer) -> dict:
    top = max((p.dense_score or 0.0 for p in answer.passages), default=None)
    return {
        "sources": [c.as_dict() for c in answer.citations],
        "passages": [{"chunk_id": p.chunk_id, "title": p.title, "section": p.section, "score": round(p.score, 4),
                      "dense": p.dense_score, "lexical": p.lexical_score, "text": p.text[:300]} for p in answer.passages],
        "rewritten_query": answer.rewritten_query,
        "notice": answer.notice,
        "timings": answer.timings,
        "top_score": top,
        "latency_ms": int(answer.timings.get("total_ms", answer.timings.get("retrieval_ms", 0))),
        "lang": answer.lang,
        **({"stopped": True} if answer.stopped else {}),
    }


_CITATION_MARK = re.compile(r"\[\d{1,2}\]")


def stopped_answer(streamed: str, lang: str, mode: AnswerMode) -> Answer:
    """What was written before the user stopped it, without [n] marks (a part was never checked against its
    sources); a short notice when nothing was written yet."""
    text = _CITATION_MARK.sub("", streamed).strip()
    return Answer(text or prompts.text(lang, "answer_stopped"), mode, lang=lang, stopped=True)
