"""The web chat API on a real Engine and Store (SQLite and PostgreSQL): chat, stream, feedback, history."""
from __future__ import annotations

import asyncio
import json

import pytest

import prompts
from bot.types import Role
from tests.adapters.web.conftest import LLM_ANSWER, QUESTION, SESSION, parse_sse


async def test_a_question_gets_a_cited_answer_whose_id_is_the_stored_answer(webchat):
    data = await webchat.chat(QUESTION)
    assert "60家左右" in data["answer"] and "[1]" in data["answer"]
    assert data["sources"][0]["n"] == 1 and "60家左右" in data["sources"][0]["text"]
    assert set(data["sources"][0]) == {"n", "title", "section", "source", "text", "score", "region"}
    assert (data["handoff"], data["no_answer"], data["mode"], data["notices"]) == (False, False, "extractive", [])
    stored = await webchat.engine.store.get_message(data["message_id"])
    assert stored.role == Role.ASSISTANT and stored.text == data["answer"] and stored.reply_to_id == data["question_id"]


async def test_a_question_outside_the_knowledge_base_is_a_no_answer_without_sources(webchat):
    data = await webchat.chat("深圳的人工智能企业补贴标准是多少？")
    assert data["no_answer"] and data["sources"] == [] and prompts.text("zh", "no_answer") in data["answer"]


@pytest.mark.parametrize(("text", "key"), [("/help", "help"), ("/new", "context_reset")])
async def test_commands_work_by_text_in_the_language_the_page_asks_for(webchat, text, key):
    assert (await webchat.chat(text))["answer"] == prompts.text("zh", key)
    data = await webchat.chat(text, lang="en")
    assert data["answer"] == prompts.text("en", key) and not data["handoff"]


async def test_human_opens_a_handoff_ticket_and_every_reply_is_returned_in_order(webchat):
    data = await webchat.chat("/human")
    conv = await webchat.engine.store.find_conversation("web", webchat.public())
    assert data["handoff"] and await webchat.engine.store.tickets.open_for(conv.id) is not None
    texts = [r["text"] for r in data["replies"]]
    assert texts[-1] == data["answer"] and texts[:-1] == data["notices"]
    assert data["replies"][-1]["message_id"] == data["message_id"]


async def test_the_stream_sends_the_answer_so_far_then_the_reply_then_done(llm_webchat):
    events = await llm_webchat.stream(QUESTION)
    names = [name for name, _ in events]
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) >= 2 and all(b.startswith(a) for a, b in zip(deltas, deltas[1:]))
    assert names[-2:] == ["reply", "done"] and set(names) == {"delta", "reply", "done"}
    reply, done = events[-2][1], events[-1][1]
    assert done["answer"] == LLM_ANSWER == reply["text"] and done["mode"] == "llm"
    assert reply["message_id"] == done["message_id"] and reply["sources"] == done["sources"]
    assert "60家左右" in done["sources"][0]["text"]


async def test_a_busy_notice_reaches_the_request_that_caused_it_and_no_other(llm_webchat, fake_llm):
    fake_llm.stream_delay = 0.05
    fake_llm.responder = lambda m, b: "市级财政科技资金每年增长15%以上[1]。" if "财政" in m[-1]["content"] else LLM_ANSWER
    first = await llm_webchat.client.post("/api/chat/stream", json={"session_id": SESSION, "text": QUESTION})
    assert (await first.content.readline()).startswith(b"event: delta")  # the first answer holds the lock
    second = await llm_webchat.chat("市级财政科技资金每年增长多少？")
    first_events = parse_sse((await first.content.read()).decode())
    assert second["notices"] == [prompts.text("zh", "busy")] and "15%" in second["answer"]
    assert first_events[-1][1]["notices"] == [] and first_events[-1][1]["answer"] == LLM_ANSWER


async def test_a_client_that_leaves_mid_stream_still_gets_its_answer_stored(llm_webchat, fake_llm):
    fake_llm.stream_delay = 0.05
    resp = await llm_webchat.client.post("/api/chat/stream", json={"session_id": SESSION, "text": QUESTION})
    assert (await resp.content.readline()).startswith(b"event: delta")
    resp.close()  # the browser tab is closed
    assert await llm_webchat.engine.drain(10)
    conv = await llm_webchat.engine.store.find_conversation("web", llm_webchat.public())
    stored = await llm_webchat.engine.store.messages(conv.id)
    assert [(m.role, m.text, m.status) for m in stored][-1] == ("assistant", LLM_ANSWER, "sent")


async def test_feedback_is_stored_withdrawn_and_refused_for_another_sessions_answer(webchat):
    answer_id = (await webchat.chat(QUESTION))["message_id"]
    store = webchat.engine.store
    for value in ("up", "down", None):
        resp = await webchat.client.post("/api/feedback", json={"session_id": SESSION, "message_id": answer_id,
                                                                 "value": value})
        assert (resp.status, await resp.json()) == (200, {"ok": True})
        assert (await store.get_message(answer_id)).feedback == value
    for session, mid in (("someone-else-1", answer_id), (SESSION, answer_id + 999)):
        resp = await webchat.client.post("/api/feedback", json={"session_id": session, "message_id": mid, "value": "up"})
        assert resp.status == 404 and (await resp.json())["error"]


async def test_history_lists_the_sessions_messages_with_sources_and_only_newer_ones_after_an_id(webchat):
    data = await webchat.chat(QUESTION)
    await webchat.client.post("/api/feedback", json={"session_id": SESSION, "message_id": data["message_id"],
                                                     "value": "up"})
    messages = await webchat.history()
    assert [(m["role"], m["text"]) for m in messages] == [("user", QUESTION), ("assistant", data["answer"])]
    assert messages[1]["sources"] == data["sources"] and messages[1]["feedback"] == "up"
    assert messages[0]["created_at"] and messages[1]["id"] == data["message_id"]
    conv = await webchat.engine.store.find_conversation("web", webchat.public())
    later = await webchat.engine.store.record_reply(conv.id, "web", Role.MANAGER, "您好，我是技术经理人。")  # pushed later
    later_ones = await webchat.history(after=data["message_id"])
    assert [(m["id"], m["role"]) for m in later_ones] == [(later, "manager")]


async def test_history_of_an_unknown_session_is_empty(webchat):
    assert await webchat.history("never-seen-1") == []
    fresh = await webchat.client.get("/api/chat/history")  # no session at all: a new one is issued
    assert (await fresh.json()) == {"messages": [], "cursor": 0, "more": False, "ticket": None}
    assert fresh.cookies["qdbot_chat"]["httponly"]


async def test_send_outside_a_request_publishes_to_the_open_stream_of_the_session_and_returns_the_id(webchat):
    from bot.types import Reply

    with webchat.channel.hub.open(webchat.public()) as feed:
        assert await webchat.channel.send(webchat.public(), Reply("pushed", role=Role.MANAGER, message_id=42)) == "42"
        event = await asyncio.wait_for(feed.next(), 1)
    assert (event.name, event.data["text"], event.data["message_id"]) == ("reply", "pushed", 42)


# ---------------------------------------------------------------- validation (refused before the store)

TOO_LONG = "政" * 2001


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "bad_json"),
    (b"[1, 2]", "bad_json"),
    (json.dumps({"session_id": "short", "text": QUESTION}).encode(), "session_id"),
    (json.dumps({"session_id": "bad id with spaces", "text": QUESTION}).encode(), "session_id"),
    (json.dumps({"session_id": SESSION}).encode(), "text"),
    (json.dumps({"session_id": SESSION, "text": 42}).encode(), "text"),
    (json.dumps({"session_id": SESSION, "text": "  \n "}).encode(), "empty"),
    (json.dumps({"session_id": SESSION, "text": TOO_LONG}).encode(), "too_long"),
    (json.dumps({"session_id": SESSION, "text": QUESTION, "lang": "fr"}).encode(), "lang"),
])
async def test_invalid_messages_are_refused_with_a_clear_400_and_never_stored(lite, body, code):
    resp = await lite.client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    data = await resp.json()
    assert (resp.status, data["code"]) == (400, code) and len(data["error"]) > 5
    assert await lite.engine.store.count_messages() == 0


async def test_the_stream_refuses_invalid_messages_with_a_json_400_before_streaming(lite):
    resp = await lite.client.post("/api/chat/stream", json={"session_id": SESSION, "text": ""})
    assert (resp.status, resp.content_type, (await resp.json())["code"]) == (400, "application/json", "empty")


async def test_errors_speak_the_askers_language(lite):
    resp = await lite.client.post("/api/chat", json={"session_id": SESSION, "text": TOO_LONG, "lang": "en"})
    assert (await resp.json())["error"] == "The message is too long (over 2000 characters); please shorten it."
    resp = await lite.client.post("/api/chat?lang=en", data=b"oops")
    assert (await resp.json())["error"] == "The request body is not valid JSON."


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_64_kib_is_refused_with_413(lite, chunked):
    body = json.dumps({"session_id": SESSION, "text": "x" * 70_000}).encode()

    async def gen():
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]

    resp = await lite.client.post("/api/chat", data=gen() if chunked else body)
    assert resp.status == 413 and (await resp.json())["code"] == "too_large"


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/chat"), ("PUT", "/api/chat/stream"),
                                              ("GET", "/api/feedback"), ("POST", "/api/chat/history")])
async def test_a_wrong_method_is_405(lite, method, path):
    assert (await lite.client.request(method, path)).status == 405


@pytest.mark.parametrize(("body", "code"), [
    ({"session_id": SESSION, "message_id": "x", "value": "up"}, "message_id"),
    ({"session_id": SESSION, "message_id": 1, "value": "love"}, "feedback_value"),
    ({"session_id": SESSION, "message_id": 1}, "feedback_value"),
])
async def test_invalid_feedback_is_refused_with_400(lite, body, code):
    resp = await lite.client.post("/api/feedback", json=body)
    assert (resp.status, (await resp.json())["code"]) == (400, code)


@pytest.mark.parametrize("query", [{"session_id": "x"}, {"session_id": SESSION}, {"after": "abc"}, {"after": "-1"},
                                   {"after": str(10**30)}])
async def test_invalid_history_queries_are_refused_with_400(lite, query):
    assert (await lite.client.get("/api/chat/history", params=query)).status == 400


async def test_a_stopped_channel_takes_no_new_messages(lite):
    await lite.channel.stop()
    resp = await lite.client.post("/api/chat", json={"session_id": SESSION, "text": QUESTION})
    assert resp.status == 503 and await lite.engine.store.count_messages() == 0


async def test_history_leaves_out_answers_the_engine_withheld_while_a_human_owned_the_chat(webchat):
    await webchat.chat(QUESTION)
    store = webchat.engine.store
    conv = await store.find_conversation("web", webchat.public())
    withheld = await store.record_reply(conv.id, "web", Role.ASSISTANT, "an answer over a human")
    await store.set_message_status(withheld, "suppressed")
    assert withheld not in [m["id"] for m in await webchat.history()]


async def test_history_gives_a_cursor_the_open_ticket_and_the_quick_reply_buttons_of_each_message(webchat):
    await webchat.chat("/human")
    resp = await webchat.client.get("/api/chat/history", headers={"X-Chat-Session": SESSION})
    data = await resp.json()
    ids = [m["id"] for m in data["messages"]]
    assert data["cursor"] == ids[-1] and data["more"] is False
    assert data["ticket"]["state"] == "intake" and data["ticket"]["id"] > 0
    kind_question = data["messages"][-1]
    assert [b["action"] for b in kind_question["buttons"]][-2:] == ["say:跳过", "say:取消"]
    later = await webchat.client.get("/api/chat/history", params={"after": data["cursor"]},
                                   headers={"X-Chat-Session": SESSION})
    assert (await later.json())["messages"] == []
    await webchat.chat("/cancel")
    after_cancel = await (await webchat.client.get("/api/chat/history", params={"after": data["cursor"]},
                                                      headers={"X-Chat-Session": SESSION})).json()
    assert [m["role"] for m in after_cancel["messages"]] == ["user", "system"] and after_cancel["ticket"] is None


async def test_a_rating_button_rates_the_resolved_ticket_and_anything_else_is_refused(webchat):
    from bot.records import ManagerRecord
    await webchat.engine.store.tickets.upsert_manager(ManagerRecord("alice", "张工"))
    await webchat.chat("/human")
    for answer in ("2", "跳过", "跳过", "跳过", "跳过", "跳过"):
        await webchat.chat(answer)
    [ticket] = await webchat.engine.store.tickets.list(("waiting",))
    await webchat.engine.desk.claim(ticket.id, "alice")
    await webchat.engine.desk.resolve(ticket.id, "alice")
    for bad in ("rate:1:9", "handoff", "say:hi", f"rate:{ticket.id}:0"):
        resp = await webchat.client.post("/api/button", json={"session_id": SESSION, "action": bad})
        assert resp.status == 400 and (await resp.json())["code"] == "action"
    resp = await webchat.client.post("/api/button", json={"session_id": "sess-other-0001", "action": f"rate:{ticket.id}:4"})
    assert resp.status == 404
    resp = await webchat.client.post("/api/button", json={"session_id": SESSION, "action": f"rate:{ticket.id}:4"})
    assert resp.status == 200 and (await webchat.engine.store.tickets.get(ticket.id)).rating == 4
