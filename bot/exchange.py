"""One inbound message being handled: the `Exchange` the engine, the desk and the outbox pass along, and
the `Outcome` the adapters, the CLI and the log line read afterwards."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.ports import Responder
from bot.states import OutcomeStatus
from bot.types import Answer, Conversation, IncomingMessage, Reply


@dataclass(slots=True)
class Outcome:
    """What happened to one inbound message."""

    status: OutcomeStatus | str
    conversation_id: int | None = None
    message_id: int | None = None
    answer: Answer | None = None
    replies: list[Reply] = field(default_factory=list)
    while_waiting: bool = False  # answering a policy question while the user's ticket waits for a manager


@dataclass(slots=True)
class Exchange:
    """The stored message (`message_id`), its conversation, its language, where its replies go
    (`responder`; None: the channel's `send`) and what has happened so far (`outcome`)."""

    conv: Conversation
    msg: IncomingMessage
    message_id: int
    lang: str
    outcome: Outcome
    responder: Responder | None = None
    command: str = ""  # the first word, lowercased, when the text starts with "/"
    ticket_state: str | None = None  # the conversation's open ticket when the message was claimed (None: none)
    has_profile: bool | None = None  # the user had a company profile when it was claimed (None: not known)
    # replies sent for this message whose "sent" status is written with the message's own at the end of the
    # exchange (one statement; None: each is written as it is sent)
    sent: list[int] | None = None

    @property
    def text(self) -> str:
        return self.msg.text
