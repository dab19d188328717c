"""Tickets: one unresolved ticket per conversation, atomic claims, history; on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio

from bot.store import Store
from bot.records import ManagerRecord
from bot.types import IncomingMessage


async def conversation(store: Store, chat: str = "c1"):
    return await store.conversation_for(IncomingMessage("web", chat, "u1", "hi"))


async def test_a_conversation_has_at_most_one_unresolved_ticket(store: Store):
    conv = await conversation(store)
    made = await asyncio.gather(*(store.tickets.create(conv.id, state="intake", lang="zh", trigger="转人工",
                                                       fields={}, intake_step="kind") for _ in range(5)))
    assert sum(t is not None for t in made) == 1
    (ticket,) = [t for t in made if t]
    assert (await store.tickets.open_for(conv.id)).id == ticket.id


async def test_two_managers_claiming_at_once_get_exactly_one_winner(store: Store):
    conv = await conversation(store)
    t = await store.tickets.create(conv.id, state="waiting", lang="zh", trigger="x", fields={}, intake_step=None)
    results = await asyncio.gather(*(store.tickets.transition(t.id, ("waiting",), "active", manager_id=m)
                                     for m in ("alice", "bob", "carol")))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].state == "active"
    assert (await store.tickets.get(t.id)).manager_id == winners[0].manager_id


async def test_a_resolved_ticket_frees_the_conversation_for_a_new_one(store: Store):
    conv = await conversation(store)
    t = await store.tickets.create(conv.id, state="waiting", lang="zh", trigger="x", fields={}, intake_step=None)
    assert await store.tickets.transition(t.id, ("waiting", "active"), "resolved", outcome="done")
    assert await store.tickets.open_for(conv.id) is None
    assert await store.tickets.create(conv.id, state="intake", lang="zh", trigger="y", fields={}, intake_step="kind")


async def test_events_meta_and_the_roster_are_kept(store: Store):
    conv = await conversation(store)
    t = await store.tickets.create(conv.id, state="waiting", lang="zh", trigger="x", fields={}, intake_step=None)
    await store.tickets.add_event(t.id, "alice", "note", "客户很急")
    await store.tickets.set_meta(t.id, telegram_topic=42)
    assert [e.action for e in await store.tickets.events(t.id)] == ["opened", "note"]
    assert (await store.tickets.find_by_meta("telegram_topic", "42")).id == t.id
    await store.tickets.upsert_manager(ManagerRecord("alice", "张工", ("专利", "海洋"), telegram_user_id="111"))
    assert (await store.tickets.manager_by("telegram", "111")).specialties == ("专利", "海洋")
