"""What the desk tells the places where technology managers work (staff channels)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.store import ManagerRecord, TicketRecord


@dataclass(frozen=True, slots=True)
class StaffEvent:
    """kind: opened | renotify | user_message | claimed | reply | note | transferred | resolved |
    handed_back | cancelled | expired | rated. `managers`: whom to notify (opened, renotify,
    transferred); `card`: the intake card text; `actor`: the manager id or "user"/"system"."""

    kind: str
    ticket: TicketRecord
    text: str = ""
    actor: str | None = None
    managers: tuple[ManagerRecord, ...] = ()
    card: str = ""
    channel: str = ""  # the user's channel


@runtime_checkable
class StaffChannel(Protocol):
    """A place where managers work (Telegram staff group, WeCom app, console): it is told about every
    ticket event and acts through the desk's operations."""

    name: str

    async def on_ticket_event(self, event: StaffEvent) -> None: ...
