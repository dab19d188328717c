"""The built-in web chat: a page at `/`, its JSON and SSE API, and signed answer links (always on).

Modules: `translate` (HTTP payloads -> validated inputs -> IncomingMessage), `render` (replies and
stored messages -> JSON), `feed` (replies of a request, server-sent events), `pages` (page, assets,
UI sentences, the answer page), `limit` (chat messages per client address), `channel` (the `Channel`
and its routes).
"""
from __future__ import annotations

from adapters.web.channel import WebChannel
from bot.engine import Engine
from bot.settings import Settings

__all__ = ["WebChannel", "create"]


def create(engine: Engine, settings: Settings) -> WebChannel:
    """The web chat needs no credentials: it always runs."""
    return WebChannel(engine, settings)
