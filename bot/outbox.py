"""The one outbound path: every assistant, manager and system message is stored, checked and delivered
here, by the engine and the handoff desk alike.

    deliver(conv, reply, ex=...) -> store it (the reply's id) -> a person owns the conversation? suppressed
        -> blocked user or no channel? kept, not sent -> the exchange's responder, else the channel
        -> status sent | failed
    redeliver(conv, replies): stored but undelivered replies of a worker that died
"""
from __future__ import annotations

from typing import Any

import structlog

from bot.exchange import Exchange
from bot.ports import Channel, Responder
from bot.records import StoredMessage
from bot.states import MessageStatus, SERVED_TICKET, TicketState
from bot.store import Store
from bot.types import Answer, Conversation, Reply, Role

log = structlog.get_logger("qdbot.outbox")


class Outbox:
    def __init__(self, store: Store):
        self.store = store
        self.channels: dict[str, Channel] = {}

    def register(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    def unregister(self, name: str) -> None:
        self.channels.pop(name, None)

    async def deliver(self, conv: Conversation, reply: Reply, *, ex: Exchange | None = None,
                      via: Responder | None = None, reply_to_id: int | None = None, answer: Answer | None = None,
                      handoff: bool = False, author: str | None = None, aside: bool = False) -> Reply:
        """Store, then deliver: through the exchange's responder when the reply answers it (or `via`, a
        responder for an act that stores no message, e.g. a button press), else the channel. ``aside``: a
        notice about the message (still busy), not its answer: recovery still answers the message."""
        responder = ex.responder if ex is not None else via
        meta = answer_meta(answer) if answer else {}
        if aside:
            meta["aside"] = True
        if reply.buttons:  # kept so a reloaded page shows them again
            meta["buttons"] = [{"label": b.label, "action": b.action} for b in reply.buttons]
        checked = reply.role is Role.ASSISTANT  # never answer over a human: its ticket is read as it is stored
        mid, ticket_state = await self.store.record_reply_and_ticket(
            conv.id, conv.channel, reply.role, reply.text, reply_to_id=ex.message_id if ex else reply_to_id,
            author=author, mode=answer.mode.value if answer else None, no_answer=bool(answer and answer.no_answer),
            handoff=handoff, top_score=meta.get("top_score"), latency_ms=meta.get("latency_ms"), meta=meta,
            read_ticket=checked,
        )
        reply = Reply(reply.text, reply.citations, reply.buttons, reply.role, message_id=mid)
        if ex is not None:
            ex.outcome.replies.append(reply)
        if checked and _held(ticket_state, ex is not None and ex.outcome.while_waiting):
            await self.store.set_message_status(mid, MessageStatus.SUPPRESSED)
            return reply
        channel = self.channels.get(conv.channel)
        if channel is None or conv.blocked:
            await self.store.set_message_status(mid, MessageStatus.BLOCKED if conv.blocked else MessageStatus.STORED)
            return reply
        try:
            if responder is not None:
                await responder.reply(reply)
            else:
                await channel.send(conv.chat_id, reply)
            if ex is not None and ex.sent is not None and not aside:
                ex.sent.append(mid)  # written with the message's status when the exchange ends
            else:
                await self.store.set_message_status(mid, MessageStatus.SENT)
        except Exception as exc:
            log.warning("send_failed", channel=conv.channel, error=exc.__class__.__name__)
            await self.store.set_message_status(mid, MessageStatus.FAILED, error=str(exc)[:300])
        return reply

    async def redeliver(self, conv: Conversation, replies: list[StoredMessage]) -> None:
        """Send the stored replies still pending (their worker died between storing and sending)."""
        channel = self.channels.get(conv.channel)
        for r in replies:
            if r.status != MessageStatus.PENDING or channel is None:
                continue
            try:
                await channel.send(conv.chat_id, Reply(r.text, role=Role(r.role), message_id=r.id))
                await self.store.set_message_status(r.id, MessageStatus.SENT, redelivered=True)
            except Exception as exc:
                await self.store.set_message_status(r.id, MessageStatus.FAILED, error=str(exc)[:300])


def _held(ticket_state: str | None, waiting_allowed: bool) -> bool:
    """Does an open ticket in this state keep the assistant silent (a waiting one too unless allowed)?"""
    return ticket_state is not None and ticket_state in ((TicketState.ACTIVE,) if waiting_allowed else SERVED_TICKET)


def answer_meta(answer: Answer) -> dict[str, Any]:
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
