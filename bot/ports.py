"""Ports: the seams between the core and its concrete implementations.

The core depends only on these protocols; `bot.app` (the composition root) plugs in
`knowledge.*` for the retriever and `adapters.*` for channels.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from bot.types import IncomingMessage, Passage, Reply

InboundHandler = Callable[..., Awaitable[object]]
"""`handler(msg, on_delta=None)`: the engine's `handle`. `on_delta(text_so_far)` is awaited while an
LLM answer streams, for channels that show it growing."""


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
