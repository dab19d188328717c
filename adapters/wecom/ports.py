"""How the two WeCom channels reach each other through the engine (`Engine.channel(name)`), checked by type
rather than by probing attributes: the self-built app forwards WeChat Customer Service triggers to the kf
channel, and the kf channel tells managers through the app."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aiohttp import web

if TYPE_CHECKING:
    from adapters.wecom.translate import KfTrigger


@runtime_checkable
class TriggerSink(Protocol):
    """The kf channel: takes a ``kf_msg_or_event`` trigger that arrived on the app's callback URL."""

    async def accept_trigger(self, trigger: KfTrigger) -> web.Response: ...


@runtime_checkable
class StaffTeller(Protocol):
    """The self-built app: sends a text to WeCom members (technology managers)."""

    async def tell(self, userids: Sequence[str], text: str) -> None: ...
