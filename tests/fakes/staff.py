"""An in-memory staff channel that records every ticket event (for handoff tests)."""
from __future__ import annotations

from bot.handoff import StaffEvent


class RecordingStaff:
    name = "recording-staff"

    def __init__(self) -> None:
        self.events: list[StaffEvent] = []

    async def on_ticket_event(self, event: StaffEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]
