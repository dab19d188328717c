"""The few nouns of the assistant, as frozen dataclasses.

Adapters translate platform events into `IncomingMessage` and `Reply` into platform calls;
the knowledge package produces `Passage`s; the store keeps `Turn`s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any


# `qdbot ask`/`chat` and `qdbot eval` talk on these channels: no tickets, no knowledge gaps, and the
# console's dashboard and lists leave them out unless their channel is picked in the filter
TEST_CHANNELS = ("cli", "eval")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    MANAGER = "manager"
    SYSTEM = "system"


class AnswerMode(StrEnum):
    LLM = "llm"
    EXTRACTIVE = "extractive"
    CURATED = "curated"
    NONE = "none"  # no answer was attempted (handoff, command, rate limit ...)


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from a user on some channel."""

    channel: str
    chat_id: str
    user_id: str
    text: str
    channel_message_id: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    lang: str | None = None  # a hint from the platform (e.g. Telegram language_code)
    kind: str = "text"  # text | image | voice | sticker | event | ...
    user_name: str | None = None


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk of a knowledge-base document with its fused relevance score."""

    chunk_id: str
    text: str
    title: str
    section: str
    source: str
    doc_id: str
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    position: int = 0
    region: str = ""  # the region its document governs (bot.regions), "" when unknown
    semantic: float = 1.0  # calibrated dense relevance 0..1 (1.0 when there is no dense side)
    flagged: tuple[str, ...] = ()  # sentences flagged at ingest (knowledge.screening): never quoted as policy


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a part of an answer comes from."""

    title: str
    section: str
    source: str
    snippet: str
    chunk_id: str = ""
    score: float = 0.0
    region: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "region": self.region,
            "section": self.section,
            "source": self.source,
            "text": self.snippet,
            "score": round(self.score, 4),
            "chunk_id": self.chunk_id,
        }


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a reply: `action` is what the adapter reports back when pressed."""

    label: str
    action: str  # e.g. "feedback:up:<message_id>", "handoff", "url:https://..."


@dataclass(frozen=True, slots=True)
class Answer:
    """What the answerer produced for one question."""

    text: str
    mode: AnswerMode
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    no_answer: bool = False
    handoff: bool = False
    rewritten_query: str | None = None
    notice: str | None = None  # e.g. "LLM unavailable, showing excerpts"
    lang: str = "zh"
    timings: dict[str, float] = field(default_factory=dict)
    stopped: bool = False  # the user stopped it while it was written: the text is what was written so far


@dataclass(frozen=True, slots=True)
class Reply:
    """One outbound message to a user."""

    text: str
    citations: tuple[Citation, ...] = ()
    buttons: tuple[Button, ...] = ()
    role: Role = Role.ASSISTANT
    message_id: int | None = None  # our stored turn id, set by Engine._send
    final: bool = True


@dataclass(frozen=True, slots=True)
class Turn:
    """One logged line of a conversation."""

    id: int
    conversation_id: int
    role: Role
    text: str
    created_at: datetime
    mode: str | None = None
    channel_message_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    channel: str
    chat_id: str
    user_id: str
    created_at: datetime
    updated_at: datetime
    lang: str | None = None
    user_name: str | None = None
    blocked: bool = False  # the user blocked the bot on their platform: nothing is sent
