"""The self-built app channel end to end: encrypted callbacks in, answers out through message/send."""
from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from adapters.wecom.crypto import WeComCrypto
from bot import links
from bot.types import Citation, Reply, Role
from tests.fakes.wecom_server import callback_request, verification_request

from tests.adapters.wecom.harness import AES_KEY, PATH, QUESTION, TOKEN, deployment, text_xml

SEND = "/cgi-bin/message/send"
SHARED = Path(os.environ.get("QDBOT_SHARED_DIR", Path(__file__).resolve().parents[4] / "shared"))
V1 = json.loads((SHARED / "wecom" / "vectors.json").read_text(encoding="utf-8"))["V1"]


async def test_url_verification_answers_the_official_vectors_echostr_as_the_raw_body(fake, lite_store, settings):
    async with deployment(fake, lite_store, settings, wecom_token=V1["token"], wecom_corp_id=V1["corp_id"],
                          wecom_encoding_aes_key=V1["encoding_aes_key"], wecom_callback_max_age=0) as dep:
        response = await dep.client.get(f"{PATH}?{V1['verify_url']['query_string']}")  # a 2014 timestamp
        assert response.status == 200
        assert await response.read() == V1["verify_url"]["expected_body"].encode()


async def test_url_verification_with_a_stale_timestamp_is_refused_and_a_fresh_one_answered(wecom):
    """Finding 15: a recorded URL check (validly signed) cannot be replayed after the callback window."""
    stale = verification_request(wecom.crypto, "5927782489442352469", timestamp=str(int(time.time()) - 7200))
    response = await wecom.client.get(PATH, params=stale)
    assert response.status == 403 and await response.read() == b""
    fresh = verification_request(wecom.crypto, "5927782489442352469")
    response = await wecom.client.get(PATH, params=fresh)
    assert response.status == 200 and await response.read() == b"5927782489442352469"


async def test_url_verification_with_another_nonce_is_refused(wecom):
    query = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "2", "echostr": wecom.crypto.encrypt("x")}
    response = await wecom.client.get(PATH, params=query)
    assert response.status == 403 and await response.read() == b""


async def test_the_official_post_vector_is_accepted_and_answered(fake, lite_store, settings):
    post = V1["decrypt_post"]
    async with deployment(fake, lite_store, settings, wecom_token=V1["token"], wecom_corp_id=V1["corp_id"],
                          wecom_encoding_aes_key=V1["encoding_aes_key"], wecom_agent_id=218,
                          wecom_callback_max_age=0) as dep:
        fake.corp_id, fake.agent_id = V1["corp_id"], 218
        query = {k: post[k] for k in ("msg_signature", "timestamp", "nonce")}
        response = await dep.client.post(PATH, params=query, data=post["body"].encode())
        assert response.status == 200 and await response.read() == b""
        await dep.settle()
    assert [d.body["touser"] for d in fake.sent("message")] == ["mycreate"]


async def test_an_encrypted_question_is_answered_with_a_cited_answer_through_message_send(wecom):
    response = await wecom.ask(QUESTION, "7001")
    assert response.status == 200 and await response.read() == b""
    await wecom.fake.wait_for(SEND, ok=True, timeout=30)
    (delivery,) = wecom.fake.sent("message")
    assert delivery.body["touser"] == "zhangsan" and delivery.body["agentid"] == wecom.fake.agent_id
    assert "60家左右" in delivery.text and "《青岛测试政策》" in delivery.text and "[1]" in delivery.text
    await wecom.settle()
    conv = await wecom.store.find_conversation("wecom", "zhangsan")
    messages = await wecom.store.messages(conv.id)
    assert [(m.role, m.status) for m in messages] == [("user", "processed"), ("assistant", "sent")]


async def test_the_same_callback_delivered_three_times_is_answered_once(wecom_db):
    wecom = wecom_db
    query, body = callback_request(wecom.crypto, text_xml(wecom.fake, QUESTION, "7002"))
    first = await asyncio.gather(*(wecom.client.post(PATH, params=query, data=body) for _ in range(2)))
    await wecom.settle()
    third = await wecom.client.post(PATH, params=query, data=body)
    await wecom.settle()
    assert {r.status for r in [*first, third]} == {200}
    assert len(wecom.fake.sent("message")) == 1
    assert await wecom.store.count_messages() == 2  # the question and its one answer


def _wrong_corp() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, "wwsomeoneelse")


@pytest.mark.parametrize(("case", "status"), [
    ("bad_signature", 403), ("wrong_corp_id", 403), ("malformed_xml", 400), ("oversized", 413),
    ("missing_signature", 400), ("stale_timestamp", 403), ("deeply_nested_xml", 400),
])
async def test_a_suspicious_or_broken_callback_is_rejected_and_nothing_is_processed(wecom, case, status):
    inner = text_xml(wecom.fake, QUESTION, "7003")
    query, body = callback_request(wecom.crypto, inner)
    if case == "bad_signature":
        query["msg_signature"] = "0" * 40
    elif case == "wrong_corp_id":
        query, body = callback_request(_wrong_corp(), inner)
    elif case == "malformed_xml":
        query, body = callback_request(wecom.crypto, "<xml><Content>unclosed</xml>")
    elif case == "oversized":
        query, body = callback_request(wecom.crypto, text_xml(wecom.fake, "长" * 30000, "7004"))
    elif case == "missing_signature":
        del query["msg_signature"]
    elif case == "deeply_nested_xml":  # finding 9: was a RecursionError (500) in the flattener
        query, body = callback_request(wecom.crypto, "<xml>" + "<a>" * 3000 + "x" + "</a>" * 3000 + "</xml>")
    else:
        query, body = callback_request(wecom.crypto, inner, timestamp=str(int(time.time()) - 7200))
    response = await wecom.client.post(PATH, params=query, data=body)
    await wecom.settle()
    assert response.status == status
    assert await wecom.store.count_messages() == 0
    assert wecom.fake.calls_to(SEND) == []
    assert not await wecom.store.seen_event("wecom:msg:1000002:7003")  # not even claimed


async def test_the_ack_is_immediate_even_when_the_answer_is_slow(wecom):
    wecom.fake.slow[SEND] = 1.5
    started = time.perf_counter()
    response = await wecom.ask(QUESTION, "7005")
    ack_seconds = time.perf_counter() - started
    assert response.status == 200
    assert ack_seconds < 0.5, f"ack took {ack_seconds:.3f} s"
    assert wecom.fake.calls_to(SEND) == []  # the answer is still on its way
    await wecom.fake.wait_for(SEND, ok=True, timeout=30)
    assert time.perf_counter() - started >= 1.5


async def test_a_message_type_other_than_text_gets_the_polite_notice(wecom):
    await wecom.post(text_xml(wecom.fake, "", "7006", msg_type="image"))
    await wecom.fake.wait_for(SEND, ok=True, timeout=30)
    assert "文字" in wecom.fake.sent("message")[0].text


async def test_a_callback_before_the_channel_started_is_not_acknowledged(fake, lite_store, settings):
    async with deployment(fake, lite_store, settings) as dep:
        await dep.app.stop()
        response = await dep.ask(QUESTION, "7007")
    assert response.status == 503  # WeCom delivers it again later
    assert await lite_store.count_messages() == 0


async def test_a_callback_beyond_the_queue_limit_is_not_acknowledged(wecom):
    wecom.app.inbox.max_pending = 0
    response = await wecom.ask(QUESTION, "7009")
    assert response.status == 503  # WeCom delivers it again later
    await wecom.settle()
    assert await wecom.store.count_messages() == 0


async def test_a_send_rejected_for_an_untrusted_ip_is_recorded_with_a_clear_reason(wecom):
    wecom.fake.fail_next(SEND, 60020)
    await wecom.ask(QUESTION, "7008")
    await wecom.settle()
    assert len(wecom.fake.calls_to(SEND)) == 1
    conv = await wecom.store.find_conversation("wecom", "zhangsan")
    answer = [m for m in await wecom.store.messages(conv.id) if m.role == Role.ASSISTANT.value][0]
    assert answer.status == "failed" and "trusted IPs" in answer.meta["error"]


async def test_long_answers_arrive_in_at_most_two_whole_messages_and_a_very_long_one_links_the_rest(wecom, settings):
    sentence = "青岛市支持建设概念验证平台和中试验证平台，促进科技成果转化。"  # 90 bytes
    cite = (Citation("青岛测试政策", "二、提升科技成果转化效能", "test.txt", "……"),)
    await wecom.app.send("zhangsan", Reply(sentence * 33, citations=cite, message_id=41))  # ~3000 bytes
    await wecom.app.send("lisi", Reply(sentence * 300, citations=cite, message_id=42))
    for user in ("zhangsan", "lisi"):
        parts = [d for d in wecom.fake.sent("message") if d.body["touser"] == user]
        assert len(parts) == 2 and not any(d.truncated for d in parts)
        assert all(len(d.text.encode()) <= 2048 for d in parts)
    last = [d for d in wecom.fake.sent("message") if d.body["touser"] == "lisi"][-1].text
    token = last.rsplit("/answer/", 1)[1]
    assert links.verify(settings.secret_key(), token, "answer") == "42"
