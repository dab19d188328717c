"""Stopping an answer while it streams: the page's stop button posts /api/chat/stop; the worker writing the
answer cancels it (its LLM call included), stores the part written so far marked as stopped, ends the
stream with it, and the next question is answered as usual. The loopback model holds its stream after the
first text chunk, so the stop always lands mid-answer, without timing."""
from __future__ import annotations

import asyncio

import pytest

from bot.llm import make_chat_model
from bot.settings import load_settings
from bot.store import Store
from tests.adapters.web.conftest import LLM_ANSWER, QUESTION, SESSION, parse_sse, serve
from tests.fakes.engine import make_engine

FIRST = LLM_ANSWER[:24]  # the first text chunk the model sends before it is held


async def _held_stream(web, fake, session: str = SESSION):
    """A streaming request whose answer is held after its first chunk, and the first delta it got."""
    fake.chunk_chars, fake.hold_streams = len(FIRST), True
    resp = await web.client.post("/api/chat/stream", json={"session_id": session, "text": QUESTION})
    assert (await resp.content.readline()) == b"event: delta\n"
    delta = (await resp.content.readline()).decode()
    await asyncio.wait_for(fake.holding.wait(), 10)
    return resp, delta


async def test_stop_cancels_the_model_call_stores_the_part_marked_stopped_and_the_next_question_works(llm_webchat,
                                                                                                       fake_llm):
    resp, delta = await _held_stream(llm_webchat, fake_llm)
    assert "青岛计划三年内建设" in delta
    stop = await llm_webchat.client.post("/api/chat/stop", json={"session_id": SESSION})
    assert stop.status == 200 and await stop.json() == {"ok": True, "stopped": True}
    events = parse_sse((await resp.content.read()).decode())
    reply, done = events[-2][1], events[-1][1]
    assert [name for name, _ in events[-2:]] == ["reply", "done"]
    assert reply["text"] == done["answer"] == FIRST.replace("[1]", "").strip() and "[1]" not in reply["text"]
    assert done["stopped"] is True and done["status"] == "stopped" and done["sources"] == []
    await asyncio.wait_for(fake_llm.abandoned.wait(), 10)  # the model's stream was closed, not read to the end
    assert fake_llm.streams_abandoned == 1

    history = await llm_webchat.history()
    assert history[-1]["stopped"] is True and history[-1]["text"] == reply["text"] and history[-1]["id"] == reply["message_id"]
    conv = await llm_webchat.engine.store.find_conversation("web", llm_webchat.public())
    question = next(m for m in await llm_webchat.engine.store.messages(conv.id) if m.role == "user")
    assert question.status == "processed"  # answered: never picked up again by recovery
    assert await llm_webchat.engine.recover(received_grace=0, processing_grace=0) == 0

    fake_llm.hold_streams = False
    after = await llm_webchat.chat("青岛计划建设多少家概念验证平台？再说一遍")
    assert after["answer"] == LLM_ANSWER and after["stopped"] is False and after["sources"]
    assert [m["stopped"] for m in await llm_webchat.history()][-1] is False


async def test_stopping_before_anything_was_written_stores_a_short_notice(llm_webchat, fake_llm):
    fake_llm.chunk_chars, fake_llm.hold_streams = 4, True  # a first chunk shorter than what the answerer holds back
    resp = await llm_webchat.client.post("/api/chat/stream", json={"session_id": SESSION, "text": QUESTION})
    await asyncio.wait_for(fake_llm.holding.wait(), 10)
    assert (await (await llm_webchat.client.post("/api/chat/stop", json={"session_id": SESSION})).json())["stopped"]
    done = parse_sse((await resp.content.read()).decode())[-1][1]
    assert done["answer"] == "（已停止生成回答）" and done["stopped"] is True


async def test_a_stop_with_nothing_being_written_changes_nothing_and_bad_stops_are_refused(llm_webchat):
    answered = await llm_webchat.chat(QUESTION)
    resp = await llm_webchat.client.post("/api/chat/stop", json={"session_id": SESSION})
    assert await resp.json() == {"ok": True, "stopped": False}
    assert (await llm_webchat.history())[-1]["text"] == answered["answer"]
    nobody = await llm_webchat.client.post("/api/chat/stop", json={})  # no cookie, no session: no answer of theirs
    assert nobody.status == 404
    bad = await llm_webchat.client.post("/api/chat/stop", data="{nope", headers={"Content-Type": "application/json"})
    assert bad.status == 400 and (await bad.json())["code"] == "bad_json"
    short = await llm_webchat.client.post("/api/chat/stop", json={"session_id": "x"})
    assert short.status == 400 and (await short.json())["code"] == "session_id"


async def test_another_sessions_stop_does_not_touch_this_answer(llm_webchat, fake_llm):
    resp, _ = await _held_stream(llm_webchat, fake_llm)
    other = await llm_webchat.client.post("/api/chat/stop", json={"session_id": "sess-9999-other"})
    assert (await other.json())["stopped"] is False
    fake_llm.release.set()
    done = parse_sse((await resp.content.read()).decode())[-1][1]
    assert done["answer"] == LLM_ANSWER and done["stopped"] is False


@pytest.mark.postgres
async def test_a_stop_that_reaches_the_other_worker_stops_the_answer_where_it_is_written(pg_url, settings, fake_llm):
    """Worker A streams the answer; the stop lands on worker B, which tells A through the database."""
    s = load_settings(qdbot_data_dir=settings.qdbot_data_dir, openai_base_url=fake_llm.base_url,
                      openai_api_key="k", llm_max_retries=0, llm_classify_intent=False)
    stores = [await Store.open(pg_url) for _ in range(2)]
    a, b = [await serve(make_engine(st, s, llm=make_chat_model(s)), s) for st in stores]
    try:
        for st in stores:
            await asyncio.wait_for(st.broadcast.connected.wait(), 10)
        resp, _ = await _held_stream(a, fake_llm)
        stop = await b.client.post("/api/chat/stop", json={"session_id": SESSION})
        assert (await stop.json())["stopped"] is False  # not written on B: B told the others
        done = parse_sse((await resp.content.read()).decode())[-1][1]
        assert done["stopped"] is True and done["answer"] == FIRST.replace("[1]", "").strip()
    finally:
        for w in (a, b):
            await w.client.close()
        for st in stores:
            await st.close()
