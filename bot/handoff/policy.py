"""Who may do what to a ticket: one rule per action, over ownership and the ticket's state.

A technology manager (an actor on the roster) acts only on tickets they hold or are offered:

    action      waiting (offered to every manager)   active, held by them   active, held by another   closed
    claim       yes                                   -                      -                         -
    note        yes                                   yes                    -                         -
    reply       -                                     yes                    -                         -
    transfer    -                                     yes                    -                         -
    resolve     -                                     yes                    -                         -
    hand_back   -                                     yes                    -                         -
    cancel      -                                     yes                    -                         -

Console admins and operators are not on the roster: they may act on any open ticket (claim, reply
on a ticket another holds, transfer, close, cancel), bounded by the state transitions like the platform.

The platform itself ("system" timeouts, a WeChat Customer Service session ended or moved in the WeCom
client) is not a roster manager: its actions are bounded by the ticket's state transitions alone.
Roles come first: only console accounts with the manager role reach these actions (`adapters/console`),
and in the Telegram staff group and the WeCom app only people on the roster. Every place managers work
calls the `HandoffDesk`, which asks `refusal` before every action.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.records import TicketRecord
from bot.states import TicketState

ACTIONS = ("claim", "note", "reply", "transfer", "resolve", "hand_back", "cancel")
_OFFERED = {"claim", "note"}  # what a manager may do to a waiting ticket nobody holds yet
_HELD = {"note", "reply", "transfer", "resolve", "hand_back", "cancel"}  # what the holder may do to an active ticket


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    ownership: bool  # True: someone else's ticket (403); False: not in this state (409)


def refusal(action: str, ticket: TicketRecord, manager_id: str) -> Refusal | None:
    """Why the roster manager may not do `action` to the ticket now, or None when they may."""
    if ticket.state == TicketState.WAITING and action in _OFFERED:
        return None
    if ticket.state == TicketState.ACTIVE and ticket.manager_id == manager_id and action in _HELD:
        return None
    if ticket.state == TicketState.ACTIVE and action == "claim":  # lost the race to claim: the state changed
        return Refusal(f"ticket #{ticket.id} is active (claimed by {ticket.manager_id})", False)
    if ticket.state == TicketState.ACTIVE and ticket.manager_id != manager_id:
        return Refusal(f"ticket #{ticket.id} is held by {ticket.manager_id}", True)
    return Refusal(f"ticket #{ticket.id} is {ticket.state}: {action} is not allowed", False)
