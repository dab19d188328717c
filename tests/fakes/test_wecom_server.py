"""The fake WeCom API behaves like WeCom on the wire, driven by a real aiohttp client."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from adapters.wecom.crypto import WeComCrypto
from adapters.wecom.xml import parse_xml
from .wecom_server import FakeWeCom, callback_request, verification_request

KF, USER, SERVICER = "wkKF001", "wmUser001", "zhangsan"


@pytest.fixture
async def fake():
    async with FakeWeCom(corp_id="wwcorp", secret="s3cret", agent_id=1000002) as server:
        yield server


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """A tiny client: fetch a token once, then call any path with it."""

    def __init__(self, fake: FakeWeCom, http: aiohttp.ClientSession) -> None:
        self.fake, self.http, self.token = fake, http, ""

    async def get_token(self, secret: str = "s3cret", corpid: str = "wwcorp") -> dict:
        params = {"corpid": corpid, "corpsecret": secret}
        async with self.http.get(f"{self.fake.base_url}/cgi-bin/gettoken", params=params) as r:
            data = await r.json()
        self.token = data.get("access_token", self.token)
        return data

    async def post(self, path: str, body: dict, token: str | None = None) -> dict:
        if not self.token and token is None:
            await self.get_token()
        params = {"access_token": self.token if token is None else token}
        async with self.http.post(f"{self.fake.base_url}{path}", params=params, json=body) as r:
            assert r.status == 200
            return await r.json()

    async def kf_send(self, text: str, msgid: str | None = None, user: str = USER) -> dict:
        body = {"touser": user, "open_kfid": KF, "msgtype": "text", "text": {"content": text}}
        return await self.post("/cgi-bin/kf/send_msg", body | ({"msgid": msgid} if msgid else {}))

    async def sync(self, cursor: str = "", limit: int = 1000, token: str | None = None) -> dict:
        body = {"cursor": cursor, "token": token or self.fake.kf_token(KF), "limit": limit,
                "open_kfid": KF}
        return await self.post("/cgi-bin/kf/sync_msg", body)

    async def trans(self, state: int, servicer: str = "") -> dict:
        body = {"open_kfid": KF, "external_userid": USER, "service_state": state,
                "servicer_userid": servicer}
        return await self.post("/cgi-bin/kf/service_state/trans", body)


@pytest.fixture
def api(fake, http):
    return Api(fake, http)


def app_message(text: str, agentid: int = 1000002) -> dict:
    return {"touser": "lisi", "msgtype": "text", "agentid": agentid, "text": {"content": text}}


# --- access_token -------------------------------------------------------------------------


async def test_gettoken_issues_a_token_for_two_hours_and_counts_the_calls(fake, api):
    data = await api.get_token()
    assert data["errcode"] == 0 and data["errmsg"] == "ok"
    assert data["access_token"] and data["expires_in"] == 7200
    assert fake.token_calls == 1 and fake.calls[0].method == "GET"


async def test_gettoken_returns_the_same_token_while_it_is_valid(fake, api):
    first = await api.get_token()
    fake.advance(1000)
    second = await api.get_token()
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == 6200
    fake.advance(6300)
    assert (await api.get_token())["access_token"] != first["access_token"]


async def test_gettoken_with_a_wrong_secret_or_corp_answers_40001_or_40013(api):
    assert (await api.get_token(secret="nope"))["errcode"] == 40001
    assert (await api.get_token(corpid="other"))["errcode"] == 40013


async def test_an_expired_token_answers_42001_and_an_unknown_one_40014(fake, api):
    await api.get_token()
    assert (await api.post("/cgi-bin/message/send", app_message("hi"), token="bogus"))[
        "errcode"] == 40014
    fake.advance(7201)
    assert (await api.post("/cgi-bin/message/send", app_message("hi")))["errcode"] == 42001
    assert fake.sent("message") == []


async def test_expire_tokens_makes_the_current_token_answer_42001(fake, api):
    await api.get_token()
    fake.expire_tokens()
    assert (await api.post("/cgi-bin/message/send", app_message("hi")))["errcode"] == 42001


# --- message/send -------------------------------------------------------------------------


async def test_message_send_records_the_delivery(fake, api):
    data = await api.post("/cgi-bin/message/send", app_message("你好"))
    assert data["errcode"] == 0 and data["msgid"]
    [delivery] = fake.sent("message")
    assert (delivery.text, delivery.truncated) == ("你好", False)
    assert delivery.body["touser"] == "lisi"


async def test_text_over_2048_utf8_bytes_is_cut_on_a_character_boundary(fake, api):
    await api.post("/cgi-bin/message/send", app_message("政" * 700))  # 2100 bytes
    [delivery] = fake.sent("message")
    assert delivery.truncated and delivery.text == "政" * 682
    assert len(delivery.text.encode()) <= 2048


async def test_message_send_with_another_agentid_answers_40056(fake, api):
    assert (await api.post("/cgi-bin/message/send", app_message("x", 7)))["errcode"] == 40056


async def test_a_body_that_is_not_json_answers_47001(fake, api):
    await api.get_token()
    url = f"{fake.base_url}/cgi-bin/message/send?access_token={api.token}"
    async with api.http.post(url, data=b"{not json") as response:
        assert (await response.json())["errcode"] == 47001


# --- kf/sync_msg --------------------------------------------------------------------------


async def test_sync_msg_pages_with_has_more_and_next_cursor(fake, api):
    ids = [fake.add_kf_message(KF, USER, f"q{i}") for i in range(5)]
    first = await api.sync(limit=2)
    assert first["has_more"] == 1 and [m["msgid"] for m in first["msg_list"]] == ids[:2]
    second = await api.sync(first["next_cursor"], limit=2)
    third = await api.sync(second["next_cursor"], limit=2)
    assert [m["msgid"] for m in second["msg_list"] + third["msg_list"]] == ids[2:]
    assert third["has_more"] == 0
    empty = await api.sync(third["next_cursor"])
    assert empty["msg_list"] == [] and empty["has_more"] == 0


async def test_a_cursor_can_be_reused_to_read_the_same_page_again(fake, api):
    for i in range(3):
        fake.add_kf_message(KF, USER, f"q{i}")
    first = await api.sync(limit=1)
    again = [await api.sync(first["next_cursor"], limit=5) for _ in range(2)]
    assert again[0]["msg_list"] == again[1]["msg_list"] and len(again[0]["msg_list"]) == 2


async def test_sync_msg_messages_have_the_documented_fields(fake, api):
    fake.add_kf_message(KF, USER, "转人工", menu_id="human")
    fake.add_kf_message(KF, USER, "我来处理", origin=5, servicer_userid=SERVICER)
    fake.add_kf_message(KF, USER, origin=4, msgtype="event",
                        event={"event_type": "enter_session", "scene": "web"})
    text, human, event = (await api.sync())["msg_list"]
    assert {"msgid", "open_kfid", "external_userid", "send_time", "origin", "msgtype"} <= set(text)
    assert text["text"] == {"content": "转人工", "menu_id": "human"} and text["origin"] == 3
    assert human["origin"] == 5 and human["servicer_userid"] == SERVICER
    assert event["msgtype"] == "event" and "external_userid" not in event
    assert event["event"]["open_kfid"] == KF and event["event"]["external_userid"] == USER
    assert event["event"]["welcome_code"]


async def test_an_injected_empty_page_still_says_has_more(fake, api):
    fake.add_kf_message(KF, USER, "q")
    fake.inject_empty_page(KF)
    empty = await api.sync()
    assert empty["msg_list"] == [] and empty["has_more"] == 1
    assert len((await api.sync(empty["next_cursor"]))["msg_list"]) == 1


async def test_page_cap_returns_fewer_messages_than_the_limit(fake, api):
    for i in range(3):
        fake.add_kf_message(KF, USER, f"q{i}")
    fake.page_cap = 2
    page = await api.sync(limit=1000)
    assert len(page["msg_list"]) == 2 and page["has_more"] == 1


async def test_sync_msg_refuses_a_missing_expired_or_foreign_token(fake, api):
    fake.add_kf_message(KF, USER, "q")
    assert (await api.sync(token="made-up"))["errcode"] == 95007
    assert (await api.sync(token=fake.kf_token("wkOther")))["errcode"] == 95007
    token = fake.kf_token(KF)
    fake.advance(601)
    await api.get_token()
    assert (await api.sync(token=token))["errcode"] == 95007


async def test_sync_msg_refuses_a_bad_cursor_a_bad_limit_and_an_unknown_account(fake, api):
    fake.add_kf_message(KF, USER, "q")
    assert (await api.sync(cursor="!!garbage"))["errcode"] == 40058
    assert (await api.sync(limit=1001))["errcode"] == 40058
    body = {"token": fake.kf_token(KF), "open_kfid": "wkNobody"}
    assert (await api.post("/cgi-bin/kf/sync_msg", body))["errcode"] == 95000


async def test_the_kf_event_callback_xml_carries_a_token_that_sync_msg_accepts(fake, api):
    fake.add_kf_message(KF, USER, "q")
    fields = parse_xml(fake.kf_event_xml(KF))
    assert (fields["MsgType"], fields["Event"], fields["OpenKfId"]) == ("event",
                                                                       "kf_msg_or_event", KF)
    assert (await api.sync(token=fields["Token"]))["errcode"] == 0


# --- kf/send_msg --------------------------------------------------------------------------


async def test_kf_send_after_a_customer_message_is_delivered(fake, api):
    fake.add_kf_message(KF, USER, "你好")
    data = await api.kf_send("您好", msgid="in1_0")
    assert data == {"errcode": 0, "errmsg": "ok", "msgid": "in1_0"}
    [delivery] = fake.sent("kf")
    assert delivery.text == "您好" and delivery.body["touser"] == USER


async def test_a_repeated_kf_msgid_succeeds_but_is_delivered_once(fake, api):
    fake.add_kf_message(KF, USER, "你好")
    assert (await api.kf_send("one", msgid="in1_0"))["errcode"] == 0
    assert (await api.kf_send("one", msgid="in1_0"))["errcode"] == 0
    assert len(fake.sent("kf")) == 1


async def test_a_kf_msgid_outside_the_documented_alphabet_answers_40058(fake, api):
    fake.add_kf_message(KF, USER, "你好")
    assert (await api.kf_send("x", msgid="has space"))["errcode"] == 40058
    assert (await api.kf_send("x", msgid="a" * 33))["errcode"] == 40058


@pytest.mark.parametrize("state", [2, 3, 4])
async def test_kf_send_outside_states_0_and_1_answers_95018(fake, api, state):
    fake.add_kf_message(KF, USER, "你好")
    fake.set_state(KF, USER, state, SERVICER if state == 3 else "")
    assert (await api.kf_send("bot reply"))["errcode"] == 95018
    assert fake.sent("kf") == []


async def test_kf_send_allows_five_messages_per_customer_message_for_48_hours(fake, api):
    fake.add_kf_message(KF, USER, "q1")
    results = [(await api.kf_send(f"a{i}"))["errcode"] for i in range(6)]
    assert results == [0, 0, 0, 0, 0, 95001]
    fake.add_kf_message(KF, USER, "q2")
    assert (await api.kf_send("again"))["errcode"] == 0
    fake.advance(48 * 3600 + 1)
    assert (await api.get_token())["errcode"] == 0
    assert (await api.kf_send("too late"))["errcode"] == 95001


async def test_kf_send_to_someone_who_never_wrote_answers_95018(fake, api):
    fake.add_kf_message(KF, "wmOther", "hi")
    assert (await api.kf_send("cold call"))["errcode"] == 95018


# --- service state, servicers, event messages ---------------------------------------------


async def test_a_customer_message_opens_a_new_session_in_state_0(fake, api):
    body = {"open_kfid": KF, "external_userid": USER}
    fake.set_state(KF, USER, 4)
    assert (await api.post("/cgi-bin/kf/service_state/get", body))["service_state"] == 4
    fake.add_kf_message(KF, USER, "hello again")
    data = await api.post("/cgi-bin/kf/service_state/get", body)
    assert (data["service_state"], data["servicer_userid"]) == (0, "")


async def test_transfer_to_a_human_requires_a_receiving_servicer(fake, api):
    fake.add_kf_message(KF, USER, "转人工")
    fake.set_servicers(KF, {SERVICER: 0, "lisi": 1})
    assert (await api.trans(3, "lisi"))["errcode"] == 95014
    assert (await api.trans(3, "nobody"))["errcode"] == 95014
    assert (await api.trans(3))["errcode"] == 95014
    data = await api.trans(3, SERVICER)
    assert data["errcode"] == 0 and data["msg_code"]
    assert fake.state(KF, USER) == (3, SERVICER)


async def test_the_state_table_forbids_leaving_an_ended_session(fake, api):
    fake.add_kf_message(KF, USER, "q")
    assert (await api.trans(1))["errcode"] == 0 and (await api.trans(4))["errcode"] == 0
    assert (await api.trans(1))["errcode"] == 95016
    assert (await api.trans(9))["errcode"] == 40058


async def test_servicer_list_reports_each_servicer_status(fake, api):
    fake.set_servicers(KF, {SERVICER: 0, "lisi": 1})
    await api.get_token()
    url = f"{fake.base_url}/cgi-bin/kf/servicer/list"
    params = {"access_token": api.token, "open_kfid": KF}
    async with api.http.get(url, params=params) as response:
        data = await response.json()
    assert data["servicer_list"] == [{"userid": SERVICER, "status": 0},
                                     {"userid": "lisi", "status": 1}]


async def test_a_msg_code_sends_one_event_message_only_once(fake, api):
    fake.add_kf_message(KF, USER, "q")
    fake.set_servicers(KF, {SERVICER: 0})
    code = (await api.trans(3, SERVICER))["msg_code"]
    body = {"code": code, "msgtype": "text", "text": {"content": "技术经理人已接入"}}
    assert (await api.post("/cgi-bin/kf/send_msg_on_event", body))["errcode"] == 0
    assert (await api.post("/cgi-bin/kf/send_msg_on_event", body))["errcode"] == 40058
    assert [d.text for d in fake.sent("kf_event")] == ["技术经理人已接入"]


async def test_a_welcome_code_expires_after_20_seconds(fake, api):
    fake.add_kf_message(KF, USER, origin=4, msgtype="event", event={"event_type": "enter_session"})
    code = (await api.sync())["msg_list"][0]["event"]["welcome_code"]
    fake.advance(21)
    await api.get_token()
    body = {"code": code, "msgtype": "text", "text": {"content": "欢迎"}}
    assert (await api.post("/cgi-bin/kf/send_msg_on_event", body))["errcode"] == 40058


# --- faults, delays, waiting --------------------------------------------------------------


@pytest.mark.parametrize("errcode", [40014, 42001, 45009, 60020, 95018])
async def test_fail_next_answers_the_injected_errcode_then_recovers(fake, api, errcode):
    fake.fail_next("/cgi-bin/message/send", errcode, n=2)
    results = [(await api.post("/cgi-bin/message/send", app_message("x")))["errcode"]
               for _ in range(3)]
    assert results == [errcode, errcode, 0]
    assert len(fake.sent("message")) == 1
    assert len(fake.calls_to("/cgi-bin/message/send")) == 3
    assert len(fake.calls_to("/cgi-bin/message/send", ok=True)) == 1


async def test_a_slow_path_delays_only_that_path(fake, api):
    await api.get_token()
    fake.slow["/cgi-bin/message/send"] = 0.3
    started = time.monotonic()
    await api.get_token()
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    await api.post("/cgi-bin/message/send", app_message("x"))
    assert time.monotonic() - started >= 0.3


async def test_wait_for_returns_once_enough_calls_arrived_and_times_out_otherwise(fake, api):
    waiter = asyncio.create_task(fake.wait_for("/cgi-bin/message/send", 2, timeout=5))
    for text in ("a", "b"):
        await api.post("/cgi-bin/message/send", app_message(text))
    calls = await waiter
    assert [c.body["text"]["content"] for c in calls] == ["a", "b"]
    with pytest.raises(TimeoutError):
        await fake.wait_for("/cgi-bin/message/send", 3, timeout=0.1)


# --- callback helpers ---------------------------------------------------------------------

CRYPTO = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wwcorp")


def test_callback_request_builds_a_post_that_verifies_and_decrypts():
    inner = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>"
    query, body = callback_request(CRYPTO, inner, "1409659813", "42", agent_id=1000002)
    assert set(query) == {"msg_signature", "timestamp", "nonce"}
    assert parse_xml(body)["AgentID"] == "1000002"
    assert CRYPTO.decrypt_post(query["msg_signature"], query["timestamp"], query["nonce"],
                               body) == inner


def test_verification_request_builds_a_get_whose_answer_is_the_echo():
    query = verification_request(CRYPTO, "5927782489442352469")
    assert int(query["timestamp"]) == pytest.approx(time.time(), abs=5)
    assert CRYPTO.verify_url(**query) == "5927782489442352469"
