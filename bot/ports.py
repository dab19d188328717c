"""Ports: the seams between the core and its concrete implementations.

The core depends only on these protocols; `bot.app` (the composition root) plugs in
`knowledge.*` for the retriever and `adapters.*` for channels.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.records import ManagerRecord, TicketRecord
from bot.types import Passage, Reply

InboundHandler = Callable[..., Awaitable[object]]
"""`handler(msg, responder=None)`: the engine's `handle`. The replies to `msg` go through `responder`
(see `Responder`); without one they go through the channel's `send`."""


@runtime_checkable
class Responder(Protocol):
    """Where the replies to one inbound message go, and how its answer shows while it grows.

    A channel that answers in the request (the web chat's stream, a Telegram preview, a WeChat Customer
    Service welcome code) passes one to `Engine.handle`; the exchange's context is this object, never an
    ambient variable. Replies sent outside an exchange (a manager's, a notice) use `Channel.send`.
    """

    async def reply(self, reply: Reply) -> str | None:
        """Deliver one stored reply to the message; returns the platform's message id when it has one."""
        ...

    async def delta(self, text: str) -> None:
        """The answer so far, while it streams (channels that cannot show it ignore it)."""
        ...

    async def typing(self) -> None:
        """The assistant started working on an answer (a typing indicator, where there is one)."""
        ...


@runtime_checkable
class Channel(Protocol):
    """A messaging platform: started with an inbound handler, sends replies, stops."""

    name: str

    async def start(self, handler: InboundHandler) -> None: ...

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Deliver one reply; returns the platform's message id when it has one."""
        ...

    async def stop(self) -> None: ...


@runtime_checkable
class Retriever(Protocol):
    """Finds the passages of the knowledge base most relevant to a query, best first.

    A retriever may also offer `mentions(word) -> bool` (does any document mention this word?),
    which the relevance gate uses to tell "another city" from "a word this chunk lacks", and
    `expand_query(query) -> str` (the query as its lexical side searches it, e.g. English terms
    translated), which the extractive answer uses to pick sentences.
    """

    async def search(self, query: str, k: int | None = None) -> list[Passage]: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns text into vectors; `model_id` names the model so indexes never mix models."""

    model_id: str

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class KnowledgeAdmin(Protocol):
    """The knowledge base as the console changes it (`knowledge.KnowledgeBase`): ingest, upload, remove,
    correct a document's identity. Reports and records are the knowledge package's own plain objects."""

    @property
    def uploads_dir(self) -> Path: ...

    async def ingest(self, paths: list[Path] | None = None, prune: bool = False, **kw: Any) -> Any: ...

    async def ingest_bytes(self, filename: str, data: bytes) -> Any: ...

    async def remove_document(self, doc_id: str) -> bool: ...

    async def update_identity(self, doc_id: str, corrections: dict[str, str]) -> Any: ...


@runtime_checkable
class TicketBook(Protocol):
    """What staff channels read and annotate on tickets and the roster (`bot.store.tickets.TicketStore`)."""

    async def get(self, ticket_id: int) -> TicketRecord | None: ...

    async def open_for(self, conversation_id: int) -> TicketRecord | None: ...

    async def find_by_meta(self, key: str, value: str) -> TicketRecord | None: ...

    async def set_meta(self, ticket_id: int, **meta: Any) -> None: ...

    async def managers(self, active_only: bool = True) -> list[ManagerRecord]: ...

    async def manager(self, manager_id: str) -> ManagerRecord | None: ...

    async def manager_by(self, attr: str, value: str) -> ManagerRecord | None: ...


@runtime_checkable
class StaffDesk(Protocol):
    """The handoff desk as the places where people work see it (`bot.handoff.HandoffDesk`): every operation
    on a ticket, checked by the desk's policy; `origin` names the staff channel that acted."""

    tickets: TicketBook

    async def authorize(self, action: str, ticket_id: int, actor: str) -> TicketRecord: ...

    async def claim(self, ticket_id: int, manager_id: str, staff_name: str | None = None,
                    origin: str = "") -> TicketRecord: ...

    async def reply(self, ticket_id: int, manager_id: str, text: str, any_holder: bool = False,
                    origin: str = "") -> Reply: ...

    async def note(self, ticket_id: int, manager_id: str, text: str, origin: str = "") -> None: ...

    async def transfer(self, ticket_id: int, manager_id: str, to_manager_id: str,
                       origin: str = "") -> TicketRecord: ...

    async def resolve(self, ticket_id: int, manager_id: str, outcome: str = "resolved", kind: Any = ...,
                      origin: str = "") -> TicketRecord: ...

    async def cancel(self, ticket_id: int, actor: str, origin: str = "") -> TicketRecord: ...

    async def hand_back(self, ticket_id: int, manager_id: str, origin: str = "") -> TicketRecord: ...

    async def system_note(self, ticket_id: int, text: str) -> None: ...

    async def first_response(self, ticket_id: int) -> None: ...

    def card(self, ticket: TicketRecord, channel: str) -> str: ...
