"""What the console's handlers use of the running console: `ConsoleContext`. `ConsoleChannel` is its one
implementation; handlers are typed against this Protocol, so no handler module imports the channel and the
package has no import circle (`channel` -> handlers -> `context`)."""
from __future__ import annotations

import asyncio
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from adapters.console.settings import ConsoleSettings
from bot.accounts import Accounts
from bot.console_ports import ConsolePorts
from bot.engine import Engine
from bot.ports import StaffDesk
from bot.settings import Settings

TICKETS_CHANNEL = "qdbot_tickets"
TicketNews = dict[str, Any]  # {kind, ticket_id, state}: which ticket changed (None ends every stream)


class TicketHub:
    """The browsers watching the ticket queue in this process: one queue each."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[TicketNews | None]] = set()

    def subscribe(self) -> asyncio.Queue[TicketNews | None]:
        queue: asyncio.Queue[TicketNews | None] = asyncio.Queue(maxsize=100)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[TicketNews | None]) -> None:
        self._queues.discard(queue)

    def publish(self, item: TicketNews | None) -> None:
        for queue in tuple(self._queues):
            if queue.full():  # a stalled browser: it reloads on its periodic refresh
                continue
            queue.put_nowait(item)


class ConsoleContext(Protocol):
    name: str
    settings: Settings
    config: ConsoleSettings
    engine: Engine  # the facade: answers (try an answer), the knowledge base, stops, notices
    desk: StaffDesk  # every ticket operation, checked by the desk's policy
    data: ConsolePorts  # everything else it reads and changes: audit, accounts, gaps, curated answers, calendar, …
    tz: ZoneInfo
    hub: TicketHub
    accounts: Accounts

    @property
    def secret(self) -> bytes: ...
