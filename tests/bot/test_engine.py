"""The Engine: store first, dedupe, commands, input checks, handoff flag, answers, the one send path."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

import prompts
from bot.answerer import Answerer
from bot.engine import Engine, _exchange
from bot.settings import load_settings
from bot.store.models import MessageRow
from bot.types import IncomingMessage, Reply, Role, utcnow
from tests.fakes.channel import RecordingChannel


def make_engine(store, retriever, channel=None, **kw):
    s = load_settings(**kw)
    engine = Engine(s, store, Answerer(retriever, s))
    engine.register(channel or RecordingChannel())
    return engine


def msg(text: str, mid: str | None = "1", chat: str = "c1", **kw) -> IncomingMessage:
    return IncomingMessage(channel="web", chat_id=chat, user_id="u1", text=text, channel_message_id=mid, **kw)


async def test_a_question_is_stored_answered_with_citations_and_sent(store, retriever):
    ch = RecordingChannel()
    engine = make_engine(store, retriever, ch)
    out = await engine.handle(msg("青岛计划建设多少家概念验证平台？"))
    assert out.status == "answered"
    (chat_id, reply), = ch.sent
    assert chat_id == "c1" and "60家左右" in reply.text and reply.citations
    assert {b.action for b in reply.buttons} == {"feedback:up", "feedback:down", "handoff"}
    stored = await store.messages(out.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].status == "sent" and stored[1].mode == "extractive" and stored[1].meta["sources"]
    assert stored[0].status == "processed"


async def test_a_redelivered_message_is_answered_once(store, retriever):
    ch = RecordingChannel()
    engine = make_engine(store, retriever, ch)
    outs = await asyncio.gather(*(engine.handle(msg("青岛计划建设多少家概念验证平台？", mid="same")) for _ in range(3)))
    assert sorted(o.status for o in outs) == ["answered", "duplicate", "duplicate"]
    assert len(ch.sent) == 1


async def test_an_unanswerable_question_is_recorded_as_a_knowledge_gap(store, retriever):
    engine = make_engine(store, retriever)
    out = await engine.handle(msg("深圳的人工智能企业补贴标准是多少？"))
    assert out.status == "no_answer"
    (gap,) = await store.gaps()
    assert gap["question"] == "深圳的人工智能企业补贴标准是多少？" and gap["reason"] == "no_answer"
    assert [b.action for b in out.replies[0].buttons] == ["handoff"]


async def test_a_transfer_service_request_is_flagged_as_a_handoff_and_not_answered(store, retriever):
    out = await make_engine(store, retriever).handle(msg("我们公司有一项发明专利想转化，能帮我联系技术经理人吗？"))
    assert out.status == "handoff" and out.answer is None
    stored = await store.messages(out.conversation_id)
    assert stored[-1].handoff and stored[-1].role == "system"


async def test_empty_oversized_and_non_text_messages_get_a_clear_notice_and_are_kept(store, retriever):
    engine = make_engine(store, retriever, max_message_chars=50)
    empty = await engine.handle(msg("   ", mid="a"))
    long = await engine.handle(msg("长" * 51, mid="b"))
    sticker = await engine.handle(msg("", mid="c", kind="sticker"))
    assert [o.status for o in (empty, long, sticker)] == ["rejected"] * 3
    assert empty.replies[0].text == prompts.text("zh", "empty_message")
    assert long.replies[0].text == prompts.text("zh", "too_long", limit=50)
    assert sticker.replies[0].text == prompts.text("zh", "unsupported_type")
    assert len([m for m in await store.messages(empty.conversation_id) if m.role == "user"]) == 3


async def test_new_forgets_the_context_and_help_and_start_answer_in_the_users_language(store, retriever):
    engine = make_engine(store, retriever)
    await engine.handle(msg("青岛计划建设多少家概念验证平台？", mid="1"))
    out = await engine.handle(msg("/new", mid="2"))
    assert out.replies[0].text == prompts.text("zh", "context_reset")
    assert await store.recent_turns(out.conversation_id, 10) == []
    start = await engine.handle(msg("/start", mid="3", lang="en"))
    assert start.replies[0].text == prompts.text("en", "welcome")


async def test_a_failed_delivery_is_recorded_on_the_stored_reply(store, retriever):
    out = await make_engine(store, retriever, RecordingChannel(fail=True)).handle(msg("青岛计划建设多少家概念验证平台？"))
    reply = (await store.messages(out.conversation_id))[-1]
    assert reply.role == Role.ASSISTANT and reply.status == "failed" and "unreachable" in reply.meta["error"]


async def test_a_crash_while_answering_is_answered_politely_and_the_message_marked_failed(store):
    class BrokenRetriever:
        async def search(self, query, k=None):
            raise RuntimeError("index exploded")

    ch = RecordingChannel()
    engine = make_engine(store, BrokenRetriever(), ch)
    out = await engine.handle(msg("青岛计划建设多少家概念验证平台？"))
    assert out.status == "error" and ch.sent[0][1].text == prompts.text("zh", "error")
    assert (await store.messages(out.conversation_id))[0].status == "failed"


async def test_feedback_is_stored_only_for_answers_of_the_same_chat_and_a_thumbs_down_is_a_gap(store, retriever):
    engine = make_engine(store, retriever)
    out = await engine.handle(msg("青岛计划建设多少家概念验证平台？"))
    answer_id = out.replies[0].message_id
    assert await engine.feedback("web", "other-chat", answer_id, "up") is False
    assert await engine.feedback("web", "c1", answer_id, "sideways") is False
    assert await engine.feedback("web", "c1", answer_id, "down") is True
    assert (await store.get_message(answer_id)).feedback == "down"
    (gap,) = await store.gaps()
    assert gap["reason"] == "thumbs_down" and gap["question"] == "青岛计划建设多少家概念验证平台？"


async def test_a_flooding_user_is_asked_to_wait_and_every_message_is_kept(store, retriever):
    engine = make_engine(store, retriever, rate_limit_per_minute=3)
    outs = [await engine.handle(msg(f"青岛计划建设多少家概念验证平台？{i}", mid=str(i))) for i in range(5)]
    assert [o.status for o in outs] == ["answered"] * 3 + ["rate_limited"] * 2
    assert outs[-1].replies[0].text == prompts.text("zh", "rate_limited")
    users = [m for m in await store.messages(outs[0].conversation_id) if m.role == "user"]
    assert len(users) == 5 and users[-1].status == "rate_limited"


class HeldRetriever:
    """The retriever, holding every search until `release` is set (the first answer stays in progress)."""

    def __init__(self, inner):
        self.inner, self.searching, self.release = inner, asyncio.Event(), asyncio.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def search(self, query, k=None):
        self.searching.set()
        await self.release.wait()
        return await self.inner.search(query, k)


async def test_a_message_arriving_while_the_previous_is_answered_gets_a_busy_notice_then_its_answer(store, retriever):
    ch = RecordingChannel()
    held = HeldRetriever(retriever)
    engine = make_engine(store, held, ch)
    first = asyncio.create_task(engine.handle(msg("青岛计划建设多少家概念验证平台？", mid="1")))
    await held.searching.wait()  # the first question is being answered (its conversation is locked)
    second = asyncio.create_task(engine.handle(msg("市级财政科技资金每年增长多少？", mid="2")))
    while not any(r.text == prompts.text("zh", "busy") for _, r in ch.sent):
        await asyncio.sleep(0.01)  # the second one is told to wait while the first is held
    held.release.set()
    await first
    second = await second
    texts = [r.text for _, r in ch.sent]
    assert prompts.text("zh", "busy") in texts
    assert second.status == "answered" and "15%" in texts[-1]


async def test_drain_waits_for_in_flight_messages(store, retriever):
    engine = make_engine(store, retriever)
    task = asyncio.create_task(engine.handle(msg("青岛计划建设多少家概念验证平台？")))
    await asyncio.sleep(0)
    assert await engine.drain(timeout=10) is True
    assert task.done()


async def test_recovery_answers_a_message_a_killed_worker_stored_but_never_answered(store, retriever):
    ch = RecordingChannel()
    engine = make_engine(store, retriever, ch)
    m = msg("青岛计划建设多少家概念验证平台？", mid="orphan")
    conv = await store.conversation_for(m)
    mid = await store.record_user_message(conv, m)  # the worker died right after storing it
    assert await engine.recover(received_grace=0) == 1
    assert await engine.recover(received_grace=0) == 0
    assert len(ch.sent) == 1 and "60家" in ch.sent[0][1].text
    assert (await store.get_message(mid)).status == "processed"


async def test_recovery_delivers_a_stored_reply_once_and_does_not_answer_again(store, retriever):
    ch = RecordingChannel()
    engine = make_engine(store, retriever, ch)
    m = msg("青岛计划建设多少家概念验证平台？", mid="half")
    conv = await store.conversation_for(m)
    mid = await store.record_user_message(conv, m)
    await store.claim_message(mid)
    await store.record_reply(conv.id, "web", Role.ASSISTANT, "已生成但未送达的回答", reply_to_id=mid)
    await engine.recover(received_grace=0, processing_grace=0)
    await engine.recover(received_grace=0, processing_grace=0)
    assert [r.text for _, r in ch.sent] == ["已生成但未送达的回答"]
    assert len([x for x in await store.messages(conv.id) if x.role == "assistant"]) == 1


async def _arrived_long_ago(store, mid: int) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(update(MessageRow).where(MessageRow.id == mid)
                           .values(created_at=utcnow() - timedelta(minutes=10)))


async def test_a_message_claimed_again_a_moment_ago_is_not_taken_by_another_recovery(store, retriever):
    """A message that arrived long ago and was claimed again a moment ago (a restart's recovery) is being
    answered: a second recovery path (the inbox's resume, the periodic sweep) must leave it alone."""
    ch = RecordingChannel()
    engine = make_engine(store, retriever, ch)
    m = msg("青岛计划建设多少家概念验证平台？", mid="restarted")
    conv = await store.conversation_for(m)
    mid = await store.record_user_message(conv, m)
    await _arrived_long_ago(store, mid)
    assert await store.claim_message(mid)  # the first recovery path took it just now
    assert await engine.resume("web", "restarted") is False
    assert await engine.recover(received_grace=0) == 0
    assert ch.sent == [] and (await store.get_message(mid)).status == "processing"
    assert await engine.recover(received_grace=0, processing_grace=0) == 1  # its worker died after all
    assert len(ch.sent) == 1 and "60家" in ch.sent[0][1].text


async def test_recovery_answers_a_message_that_only_got_its_still_busy_notice(store, retriever):
    ch = RecordingChannel()
    engine = make_engine(store, retriever, ch)
    m = msg("青岛计划建设多少家概念验证平台？", mid="busy")
    conv = await store.conversation_for(m)
    mid = await store.record_user_message(conv, m)
    await engine.outbox.deliver(conv, Reply(prompts.text("zh", "busy"), role=Role.SYSTEM), reply_to_id=mid,
                                aside=True)
    # the worker died before the message got its turn
    assert await engine.recover(received_grace=0) == 1
    assert [r.text for _, r in ch.sent][1:] and "60家" in ch.sent[-1][1].text
    assert (await store.get_message(mid)).status == "processed"


async def test_a_recovery_that_read_a_message_before_another_path_took_it_sends_nothing(store, retriever):
    """Two recovery paths read the same received message; one takes it and is sending its stored reply:
    the other must not send that reply again (it looks at replies only once its own claim succeeded)."""
    ch = RecordingChannel()
    engine = make_engine(store, retriever, ch)
    m = msg("青岛计划建设多少家概念验证平台？", mid="read-before")
    conv = await store.conversation_for(m)
    mid = await store.record_user_message(conv, m)
    seen = await store.get_message(mid)  # what the second path read
    assert await store.claim_message(mid)  # the first path took it and stored its answer, not yet sent
    await store.record_reply(conv.id, conv.channel, Role.ASSISTANT, "青岛计划建设60家左右[1]。", reply_to_id=mid)
    await engine._recover_one(seen, utcnow() - timedelta(minutes=1))
    assert ch.sent == [] and (await store.get_message(mid)).status == "processing"


async def test_a_message_claimed_by_another_worker_is_not_answered_twice(store, retriever):
    ch = RecordingChannel()
    a, b = make_engine(store, retriever, ch), make_engine(store, retriever, ch)
    m = msg("青岛计划建设多少家概念验证平台？", mid="race")
    conv = await store.conversation_for(m)
    mid = await store.record_user_message(conv, m)
    outs = await asyncio.gather(a._locked(_exchange(conv, m, mid, None)), b._locked(_exchange(conv, m, mid, None)))
    assert sorted(o.status for o in outs) == ["answered", "duplicate"] and len(ch.sent) == 1


async def test_per_conversation_locks_do_not_accumulate_after_messages_are_answered(store, retriever):
    import gc

    engine = make_engine(store, retriever)
    for i in range(5):
        await engine.handle(msg("青岛计划建设多少家概念验证平台？", mid=f"l{i}", chat=f"chat-{i}"))
    gc.collect()
    assert len(engine._locks) == 0 and len(store.locks._local) == 0


@pytest.mark.parametrize("text, key", [("你好", "smalltalk_greeting"), ("您好！", "smalltalk_greeting"),
                                       ("谢谢", "smalltalk_thanks"), ("好的，谢谢！", "smalltalk_thanks"),
                                       ("再见", "smalltalk_bye"), ("/foo", "smalltalk_unknown_command")])
async def test_small_talk_and_unknown_commands_get_a_friendly_line_and_are_not_gaps(store, retriever, text, key):
    ch = RecordingChannel()
    out = await make_engine(store, retriever, ch).handle(msg(text))
    assert out.status == "smalltalk" and out.answer is None
    assert ch.sent[-1][1].text == prompts.text("zh", key)
    assert await store.gaps() == []


async def test_a_question_that_starts_with_a_greeting_is_answered(store, retriever):
    out = await make_engine(store, retriever).handle(msg("你好，青岛计划建设多少家概念验证平台？"))
    assert out.status == "answered" and "60家" in out.answer.text


@pytest.mark.parametrize("channel", ["cli", "eval"])
async def test_a_handoff_from_the_command_line_or_an_eval_is_reported_but_opens_no_ticket(store, retriever, channel):
    engine = make_engine(store, retriever)
    out = await engine.handle(IncomingMessage(channel, "t1", "t1", "我们公司有一项发明专利想转化，能帮我联系技术经理人吗？"))
    assert out.status == "handoff" and out.replies[-1].text == prompts.text("zh", "handoff_offline")
    assert await store.tickets.list() == []
