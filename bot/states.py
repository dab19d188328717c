"""The named states of the assistant's records. Each is a `StrEnum`: stored and compared as its value,
so a row written before these existed reads back equal to its member."""
from __future__ import annotations

from enum import StrEnum


class TicketState(StrEnum):
    """A handoff ticket (`bot.handoff.desk` draws the machine)."""

    INTAKE = "intake"
    WAITING = "waiting"
    ACTIVE = "active"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN_TICKET = (TicketState.INTAKE, TicketState.WAITING, TicketState.ACTIVE)  # the assistant may still hand over
SERVED_TICKET = (TicketState.WAITING, TicketState.ACTIVE)  # queued for or held by a person
CLOSED_TICKET = (TicketState.RESOLVED, TicketState.CANCELLED, TicketState.EXPIRED)  # over: nothing more to do


class MessageStatus(StrEnum):
    """A stored message. A user's: received -> processing -> processed | failed | rate_limited.
    An outbound one: pending -> sent | failed | stored (no channel) | blocked | suppressed (a human owns the
    conversation) | delivered (a platform confirmed it)."""

    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    RATE_LIMITED = "rate_limited"
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    STORED = "stored"
    BLOCKED = "blocked"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    EVENT = "event"  # a platform event kept for the transcript, never answered


class InboxStatus(StrEnum):
    """A row of the durable inbox (`bot.store.inbox`): pending -> processing -> done | failed (tried too
    often); a processing row whose lease ran out is open again."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class OutcomeStatus(StrEnum):
    """What happened to one inbound message (`bot.exchange.Outcome`)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    HANDOFF = "handoff"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    RATE_LIMITED = "rate_limited"
    COMMAND = "command"
    SMALLTALK = "smalltalk"
    PROFILE = "profile"  # the company profile and self-check: hidden in logs and exports
    STOPPED = "stopped"  # the user stopped the answer while it streamed
    ERROR = "error"


class StaffEventKind(StrEnum):
    """What the handoff desk tells the places where managers work (`bot.handoff.events.StaffEvent`)."""

    OPENED = "opened"
    RENOTIFY = "renotify"
    USER_MESSAGE = "user_message"
    CLAIMED = "claimed"
    REPLY = "reply"
    NOTE = "note"
    TRANSFERRED = "transferred"
    RESOLVED = "resolved"
    HANDED_BACK = "handed_back"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RATED = "rated"


TICKET_ENDED = (StaffEventKind.RESOLVED, StaffEventKind.HANDED_BACK, StaffEventKind.CANCELLED,
                StaffEventKind.EXPIRED)  # the events after which no person holds the ticket


class ButtonAction(StrEnum):
    """The first part of a button's action string (`Engine.button`): "feedback:up:<id>", "handoff",
    "rate:<ticket>:<stars>", "say:<text>", "url:<link>"."""

    FEEDBACK = "feedback"
    HANDOFF = "handoff"
    RATE = "rate"
    SAY = "say"
    URL = "url"  # a link button: "url:https://..."
