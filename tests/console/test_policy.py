"""One authorization policy for ticket actions (issue 12, finding 7), tested as a matrix over every
OpenAPI operation: role (the route's x-roles, see test_authorization) × ownership × ticket state.

A manager acts only on tickets they hold (active, theirs) or are offered (waiting: claim, note); the
same rule holds in the Telegram staff group and the WeCom app, because all of them call the desk."""
from __future__ import annotations

import itertools
import re

import pytest

from adapters.console.openapi import PATHS
from bot.errors import HandoffError, NotPermittedError
from bot.types import IncomingMessage, utcnow

_chats = itertools.count(1)
ACTION_PATH = re.compile(r"^/api/admin/tickets/\{id\}/(\w+)$")
SITUATIONS = ("waiting", "active_mine", "active_other", "resolved")
# what the manager alice may do, written out by hand (not derived from the code under test)
ALLOWED = {
    "claim": {"waiting"},
    "note": {"waiting", "active_mine"},
    "reply": {"active_mine"},
    "transfer": {"active_mine"},
    "resolve": {"active_mine"},
    "hand_back": {"active_mine"},
    "cancel": {"active_mine"},  # withdrawing a ticket closes it: only its holder (or an admin/operator)
}
BODY = {"reply": {"text": "您好"}, "note": {"text": "内部备注"}, "transfer": {"to": "bob"},
        "resolve": {"outcome": "done"}, "claim": {}, "hand_back": {}, "cancel": {}}


def _ownership(action: str, situation: str) -> bool:
    """Someone else's ticket is a 403; a claim that lost the race (the ticket is active) a 409 like any state."""
    return situation == "active_other" and action != "claim"


async def _ticket(store, situation: str) -> int:
    chat = f"policy-{next(_chats)}"
    conv = await store.conversation_for(IncomingMessage("web", chat, chat, "x"))
    ticket = await store.tickets.create(conv.id, state="waiting", lang="zh", trigger="/human",
                                        fields={"kind": "licence"}, intake_step=None)
    holder = {"active_mine": "alice", "active_other": "bob"}.get(situation)
    if holder:
        await store.tickets.transition(ticket.id, ("waiting",), "active", manager_id=holder, claimed_at=utcnow())
    if situation == "resolved":
        await store.tickets.transition(ticket.id, ("waiting",), "resolved", resolved_at=utcnow(), outcome="x")
    return ticket.id


def _ticket_operations() -> list[tuple[str, str]]:
    return [(path, ACTION_PATH.match(path)[1]) for path, item in PATHS.items() for method in item
            if method == "post" and ACTION_PATH.match(path)]


def test_every_ticket_action_of_the_api_is_in_the_matrix():
    """A new ticket action cannot be added to the API without a row here."""
    assert sorted(a for _, a in _ticket_operations()) == sorted(ALLOWED)
    for path in PATHS:  # every other operation is about roles only (test_authorization)
        if path.startswith("/api/admin/tickets/{id}/"):
            assert ACTION_PATH.match(path), path


@pytest.mark.parametrize("situation", SITUATIONS)
async def test_the_console_applies_the_matrix_to_a_manager_for_every_ticket_action(sqlite_console, situation):
    c = sqlite_console
    results = {}
    for path, action in _ticket_operations():
        tid = await _ticket(c.store, situation)
        resp = await c.client.post(path.replace("{id}", str(tid)), json=BODY[action],
                                   headers={"Authorization": f"Bearer {await c.token('manager')}"})
        results[action] = resp.status
    expected = {a: 200 if situation in ALLOWED[a] else (403 if _ownership(a, situation) else 409) for a in ALLOWED}
    assert results == expected


async def test_a_refusal_for_someone_elses_ticket_is_audited(sqlite_console):
    c = sqlite_console
    tid = await _ticket(c.store, "active_other")
    await c.api("POST", f"/api/admin/tickets/{tid}/resolve", role="manager", json={}, expect=403)
    [entry] = await c.store.console.audit_log(1, action="refused")
    assert entry.target == f"POST /api/admin/tickets/{tid}/resolve" and "bob" in entry.detail["detail"]


async def test_a_role_refusal_is_audited_too(sqlite_console):
    c = sqlite_console
    await c.api("GET", "/api/admin/audit", role="operator", expect=403)
    [entry] = await c.store.console.audit_log(1, action="refused")
    assert entry.target == "GET /api/admin/audit" and entry.detail["code"] == "forbidden"


@pytest.mark.parametrize("situation", SITUATIONS)
async def test_the_desk_applies_the_same_matrix_to_every_staff_command(sqlite_console, situation):
    """Telegram's /note, /transfer, /resolve, /back and WeCom's 备注/转交/结束/交还 call these methods."""
    c, desk = sqlite_console, sqlite_console.app.engine.desk
    calls = {"claim": lambda t: desk.claim(t, "alice"), "note": lambda t: desk.note(t, "alice", "n"),
             "reply": lambda t: desk.reply(t, "alice", "r"), "transfer": lambda t: desk.transfer(t, "alice", "bob"),
             "resolve": lambda t: desk.resolve(t, "alice"), "hand_back": lambda t: desk.hand_back(t, "alice")}
    for action, call in calls.items():
        tid = await _ticket(c.store, situation)
        if situation in ALLOWED[action]:
            await call(tid)
        else:
            with pytest.raises(HandoffError) as refused:
                await call(tid)
            assert isinstance(refused.value, NotPermittedError) == _ownership(action, situation)


async def test_the_platform_is_bounded_by_the_ticket_state_only(sqlite_console):
    """A timeout ("system") or a session ended in the WeCom client may close a ticket someone holds."""
    c = sqlite_console
    tid = await _ticket(c.store, "active_other")
    done = await c.app.engine.desk.resolve(tid, "system", "timeout")
    assert done.state == "resolved"
