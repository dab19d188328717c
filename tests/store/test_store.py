"""Behaviour of the Store, on SQLite and on PostgreSQL."""
from __future__ import annotations

import asyncio

from bot.store import Store
from bot.records import ChunkRecord, DocumentRecord
from bot.types import IncomingMessage, Role


def msg(text: str = "你好", mid: str | None = "m1", chat: str = "c1") -> IncomingMessage:
    return IncomingMessage(channel="web", chat_id=chat, user_id="u1", text=text, channel_message_id=mid)


async def test_a_user_message_is_stored_once_and_a_redelivery_is_reported(store: Store):
    conv = await store.conversation_for(msg())
    first = await store.record_user_message(conv, msg())
    again = await store.record_user_message(conv, msg())
    assert first is not None and again is None
    assert [m.text for m in await store.messages(conv.id)] == ["你好"]


async def test_concurrent_first_contacts_create_one_conversation(store: Store):
    convs = await asyncio.gather(*(store.conversation_for(msg(chat="same")) for _ in range(8)))
    assert len({c.id for c in convs}) == 1


async def test_recent_turns_are_oldest_first_and_forget_before_a_reset(store: Store):
    conv = await store.conversation_for(msg())
    await store.record_user_message(conv, msg("问题一", "a"))
    await store.record_reply(conv.id, "web", Role.ASSISTANT, "回答一")
    await store.reset_context(conv.id)
    await asyncio.sleep(0.01)
    await store.record_user_message(conv, msg("问题二", "b"))
    turns = await store.recent_turns(conv.id, 10)
    assert [t.text for t in turns] == ["问题二"]


async def test_an_answer_keeps_its_mode_sources_and_latency(store: Store):
    conv = await store.conversation_for(msg())
    uid = await store.record_user_message(conv, msg())
    aid = await store.record_reply(conv.id, "web", Role.ASSISTANT, "答", reply_to_id=uid, mode="extractive",
                                   top_score=0.8, latency_ms=12, meta={"sources": [{"title": "t"}]})
    stored = await store.get_message(aid)
    assert (stored.mode, stored.latency_ms, stored.reply_to_id) == ("extractive", 12, uid)
    assert stored.meta["sources"] == [{"title": "t"}]


async def test_a_status_change_keeps_the_stored_meta_and_adds_the_given_keys(store: Store):
    """Flat values (merged in the UPDATE itself) and nested ones alike: earlier keys stay, given
    keys are added or replaced, unicode and numbers round-trip; an unknown message is no error."""
    conv = await store.conversation_for(msg())
    aid = await store.record_reply(conv.id, "web", Role.ASSISTANT, "答", meta={"sources": [{"title": "条例"}], "n": 1})
    await store.set_message_status(aid, "sent")
    await store.set_message_status(aid, "failed", error="发送失败：超时", n=2, retried=True, score=0.5)
    await store.set_message_status(aid, "processed", detail={"step": "重试"})
    stored = await store.get_message(aid)
    assert stored.status == "processed"
    assert stored.meta == {"sources": [{"title": "条例"}], "n": 2, "error": "发送失败：超时", "retried": True,
                           "score": 0.5, "detail": {"step": "重试"}}
    await store.set_message_status(10**9, "sent", outcome="x")


async def test_a_redelivered_message_is_not_counted_or_stored_again_and_counts_include_earlier_ones(store: Store):
    """record_inbound: each new message of a user counts itself and the earlier ones in the window."""
    conv = await store.conversation_for(msg())
    counts = [await store.record_inbound(conv, msg(f"问{i}", f"k{i}"), 60.0) for i in range(3)]
    assert [c.recent for c in counts] == [1, 2, 3] and all(c.message_id for c in counts)
    assert (await store.record_inbound(conv, msg("问0", "k0"), 60.0))[:2] == (None, 0)


async def test_feedback_is_accepted_only_on_assistant_answers(store: Store):
    conv = await store.conversation_for(msg())
    uid = await store.record_user_message(conv, msg())
    aid = await store.record_reply(conv.id, "web", Role.ASSISTANT, "答")
    assert await store.set_feedback(aid, "up") is True
    assert await store.set_feedback(uid, "up") is False
    assert (await store.get_message(aid)).feedback == "up"


async def test_an_event_key_is_seen_once(store: Store):
    assert await store.seen_event("wecom:123") is False
    assert await store.seen_event("wecom:123") is True


async def test_replacing_a_document_swaps_its_chunks_and_bumps_the_generation(store: Store):
    doc = DocumentRecord(id="d1", title="T", source="a.txt", sha256="x", chunk_count=2)
    chunks = [ChunkRecord(f"c{i}", "d1", i, "T", "一、", "a.txt", f"text {i}") for i in range(2)]
    g1 = await store.kb.replace_document(doc, chunks)
    g2 = await store.kb.replace_document(doc, chunks[:1])
    assert g2 == g1 + 1 == await store.kb.generation()
    assert await store.kb.chunk_ids("d1") == ["c0"]
    assert [c.text for c in await store.kb.get_chunks(["c0", "missing"])] == ["text 0"]


async def test_deleting_a_document_removes_its_chunks(store: Store):
    doc = DocumentRecord(id="d1", title="T", source="a.txt", sha256="x")
    await store.kb.replace_document(doc, [ChunkRecord("c0", "d1", 0, "T", "", "a.txt", "t")])
    assert await store.kb.delete_document("d1") == ["c0"]
    assert await store.kb.all_chunks() == [] and await store.kb.list_documents() == []


async def test_a_failed_document_keeps_its_previous_chunks(store: Store):
    doc = DocumentRecord(id="d1", title="T", source="a.txt", sha256="x")
    await store.kb.replace_document(doc, [ChunkRecord("c0", "d1", 0, "T", "", "a.txt", "t")])
    await store.kb.mark_failed(DocumentRecord(id="d1", title="T", source="a.txt", sha256="y",
                                              status="failed", error="broken pdf"))
    (rec,) = await store.kb.list_documents()
    assert (rec.status, rec.error, rec.sha256) == ("failed", "broken pdf", "x")
    assert await store.kb.chunk_ids("d1") == ["c0"]


async def test_opening_twice_runs_migrations_idempotently(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    for _ in range(2):
        st = await Store.open(url)
        await st.close()


async def test_channel_state_values_are_durable_and_overwritten(store: Store):
    assert await store.get_state("kf:cursor:wk1") is None
    await store.set_state("kf:cursor:wk1", "c1")
    await store.set_state("kf:cursor:wk1", "c2")
    assert await store.get_state("kf:cursor:wk1") == "c2"


async def test_messages_after_an_id_return_only_newer_ones_in_order(store: Store):
    conv = await store.conversation_for(msg())
    ids = [await store.record_user_message(conv, msg(f"m{i}", mid=str(i))) for i in range(5)]
    newer = await store.messages(conv.id, after_id=ids[2], limit=10)
    assert [m.text for m in newer] == ["m3", "m4"]


async def test_the_gap_states_migration_goes_down_to_0012_and_up_again(store: Store):
    from alembic import command
    from sqlalchemy import inspect

    from bot.store.migrate import alembic_config

    def tables(conn) -> set[str]:
        return set(inspect(conn).get_table_names())

    async with store.engine.begin() as conn:
        assert "gap_states" in await conn.run_sync(tables)
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0012"))
        assert "gap_states" not in await conn.run_sync(tables)
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
    await store.console.gaps.decide({"0" * 32: "深圳的补贴标准是多少"}, "dismissed", "ada")
    assert (await store.console.gaps.decisions())["0" * 32].state == "dismissed"


async def test_a_documents_chunks_are_paged_in_reading_order_with_the_total(store: Store):
    doc = DocumentRecord(id="d9", title="T", source="a.txt", sha256="x")
    chunks = [ChunkRecord(f"c{n}", "d9", n, "T", "一 > 二", "a.txt", f"第{n}段") for n in (3, 0, 2, 1, 4)]
    await store.kb.replace_document(doc, chunks)
    page, total = await store.kb.chunks_page("d9", offset=1, limit=3)
    assert total == 5 and [c.position for c in page] == [1, 2, 3]
    assert await store.kb.chunks_page("other", 0, 10) == ([], 0)


async def test_record_inbound_tells_whether_an_earlier_message_of_the_conversation_still_waits(store: Store):
    """One transaction: stored, counted, and "is an earlier user message still received (not yet claimed)"."""
    conv = await store.conversation_for(msg())
    first = await store.record_inbound(conv, msg("问一", "w1"), 60.0)
    second = await store.record_inbound(conv, msg("问二", "w2"), 60.0)
    assert (first.recent, first.earlier_waiting) == (1, False) and (second.recent, second.earlier_waiting) == (2, True)
    assert (await store.claim_for_answer(first.message_id, conv, "u1")).claimed
    assert (await store.claim_for_answer(second.message_id, conv, "u1")).claimed
    third = await store.record_inbound(conv, msg("问三", "w3"), None)
    assert (third.recent, third.earlier_waiting) == (0, False)
    assert await store.record_inbound(conv, msg("问三", "w3"), None) == (None, 0, False)


async def test_claim_for_answer_claims_once_and_reads_the_open_ticket_and_the_profile(store: Store):
    conv = await store.conversation_for(msg())
    mid = await store.record_user_message(conv, msg("转人工", "t1"))
    await store.tickets.create(conv.id, state="waiting", lang="zh", trigger="转人工", fields={}, intake_step=None)
    await store.eligibility.save_profile("web", "u1", flow={"step": "consent"})
    claim = await store.claim_for_answer(mid, conv, "u1")
    assert claim == (True, "waiting", True)
    assert await store.claim_for_answer(mid, conv, "u1") == (False, None, False)
    other = await store.conversation_for(msg(chat="c2"))
    assert await store.claim_for_answer(await store.record_user_message(other, msg(mid="t2", chat="c2")), other,
                                        "nobody") == (True, None, False)


async def test_a_reply_is_stored_with_the_open_ticket_state_and_statuses_are_set_together(store: Store):
    conv = await store.conversation_for(msg())
    uid = await store.record_user_message(conv, msg())
    aid, state = await store.record_reply_and_ticket(conv.id, "web", Role.ASSISTANT, "答", reply_to_id=uid)
    assert state is None
    await store.tickets.create(conv.id, state="active", lang="zh", trigger="人工", fields={}, intake_step=None)
    assert (await store.record_reply_and_ticket(conv.id, "web", Role.ASSISTANT, "答二"))[1] == "active"
    await store.set_message_status(uid, "processing", kept=1)
    await store.set_message_statuses([(aid, "sent", {}), (uid, "processed", {"outcome": "answered"})])
    reply, question = await store.get_message(aid), await store.get_message(uid)
    assert (reply.status, reply.meta) == ("sent", {})
    assert (question.status, question.meta) == ("processed", {"kept": 1, "outcome": "answered"})
