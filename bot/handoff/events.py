"""What the desk tells the places where technology managers work (staff channels)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.states import StaffEventKind
from bot.records import ManagerRecord, TicketRecord


@dataclass(frozen=True, slots=True)
class StaffEvent:
    """`managers`: whom to notify (opened, renotify, transferred); `card`: the intake card text; `actor`: the
    manager id or "user"/"system"; `origin`: the staff channel the action came from ("" for the platform,
    the user or a timer): a channel does not echo its own manager's action back."""

    kind: StaffEventKind
    ticket: TicketRecord
    text: str = ""
    actor: str | None = None
    managers: tuple[ManagerRecord, ...] = ()
    card: str = ""
    channel: str = ""  # the user's channel
    origin: str = ""


@runtime_checkable
class StaffChannel(Protocol):
    """A place where managers work (Telegram staff group, WeCom app, console): it is told about every
    ticket event and acts through the desk's operations."""

    name: str

    async def on_ticket_event(self, event: StaffEvent) -> None: ...
