"""Input hardening of the web chat (issue 12, findings 9 and 15): odd but valid JSON never makes a 500,
invisible-only text is empty, and the signed answer link masks the question's contact details."""
from __future__ import annotations

import json

from bot import links
from tests.adapters.web.conftest import SESSION


async def test_lone_surrogates_in_chat_text_are_stored_as_replacement_characters_not_a_500(webchat):
    body = '{"session_id": "%s", "text": "青岛 \\ud800 概念验证平台 \\udfff？"}' % SESSION
    resp = await webchat.client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 200
    [user, *_] = await webchat.history()
    assert user["text"] == "青岛 \ufffd 概念验证平台 \ufffd？"


async def test_zero_width_only_text_is_refused_as_empty(lite):
    for text in ("\u200b\u200b", "\u200d\ufeff \u2060", "\u200e\n"):
        resp = await lite.client.post("/api/chat", json={"session_id": SESSION, "text": text})
        assert (resp.status, (await resp.json())["code"]) == (400, "empty")
    assert await lite.engine.store.count_messages() == 0


async def test_the_engine_calls_zero_width_only_text_empty_on_every_channel(webchat):
    from bot.types import IncomingMessage

    out = await webchat.engine.handle(IncomingMessage("telegram", "42", "42", "\u200b\u200c\u200d"))
    assert out.status == "rejected"


async def test_feedback_on_a_message_id_beyond_any_integer_is_a_400_not_a_500(webchat):
    resp = await webchat.client.post("/api/feedback", json={"session_id": SESSION, "message_id": 10**30,
                                                            "value": "up"})
    assert (resp.status, (await resp.json())["code"]) == (400, "message_id")


async def test_a_signed_answer_link_shows_the_question_with_its_phone_number_masked(webchat, settings):
    data = await webchat.chat("青岛计划建设多少家概念验证平台？我的电话13812345678")
    page = await webchat.client.get(f"/answer/{links.sign(settings.secret_key(), 'answer', data['message_id'])}")
    html = await page.text()
    assert page.status == 200 and "138****5678" in html and "13812345678" not in html


async def test_x_forwarded_for_from_loopback_is_not_believed_by_default(lite):
    from adapters.client_address import trusted_proxies

    assert trusted_proxies(lite.channel.settings.web_trusted_proxies) == frozenset()
    for n in range(3):  # a local client cannot pick its address: all three count for 127.0.0.1
        await lite.client.post("/api/chat", json={"session_id": f"s-{n:08d}", "text": "/help"},
                               headers={"X-Forwarded-For": f"203.0.113.{n}"})
    assert set(lite.channel.per_address._hits) == {"127.0.0.1"}


async def test_the_page_issues_its_session_cookie_and_the_chat_works_on_the_cookie_alone(lite):
    page = await lite.client.get("/")
    assert page.cookies["qdbot_chat"]["httponly"]
    first = await lite.client.post("/api/chat", json={"text": "/help"})
    second = await lite.client.post("/api/chat", json={"text": "/new"})
    assert (first.status, second.status) == (200, 200) and "qdbot_chat" not in first.cookies
    history = await (await lite.client.get("/api/chat/history")).json()
    assert [m["text"] for m in history["messages"] if m["role"] == "user"] == ["/help", "/new"]
    assert json.dumps(history).count(page.cookies["qdbot_chat"].value) == 0
