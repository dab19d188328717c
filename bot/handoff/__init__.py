"""Human handoff: technology managers take over transfer-service requests and hand them back."""
from bot.handoff.desk import HandoffDesk
from bot.handoff.events import StaffChannel, StaffEvent

__all__ = ["HandoffDesk", "StaffChannel", "StaffEvent"]
