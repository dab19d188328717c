"""Ports: the seams between the core and its concrete implementations.

The core depends only on these protocols; `bot.app` (the composition root) plugs in
`knowledge.*` for the retriever and `adapters.*` for channels.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from bot.types import IncomingMessage, Passage, Reply

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
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...
