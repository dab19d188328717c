"""Rendering replies for WeCom: byte limits, sentence boundaries, the full-answer link, kf menus."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.wecom import render
from adapters.wecom.render import AnswerLinks, kf_payloads, text_messages, utf8_len
from adapters.wecom.translate import parse_menu_id
from bot import links
from bot.types import Button, Citation, Reply

SENTENCE = "青岛市支持建设概念验证平台和中试验证平台，促进科技成果转化。"  # 90 bytes
CITE = Citation("青岛测试政策", "二、提升科技成果转化效能", "test.txt", "……")
BUTTONS = (Button("👍 有帮助", "feedback:up"), Button("👎 没帮助", "feedback:down"),
           Button("联系技术经理人", "handoff"))


def link(message_id: int | None) -> str:
    return f"http://127.0.0.1:8080/answer/token{message_id}"


def test_a_3000_byte_answer_is_split_at_sentence_boundaries_into_two_messages_within_2048_bytes():
    text = SENTENCE * 33
    assert 2900 < utf8_len(text) < 3100
    parts = text_messages(Reply(text, citations=(CITE,)), link(1))
    assert len(parts) == 2
    assert all(utf8_len(p) <= 2048 for p in parts)
    assert parts[0].endswith("。") and "".join(parts).count(SENTENCE) == 33
    assert parts[1].endswith("《青岛测试政策》 二、提升科技成果转化效能")
    assert "answer/" not in "".join(parts)  # everything fitted: no link needed


def test_a_very_long_answer_is_cut_and_ends_with_the_link_to_the_full_answer():
    parts = text_messages(Reply(SENTENCE * 200, citations=(CITE,), message_id=9), link(9))
    assert len(parts) == 2 and all(utf8_len(p) <= 2048 for p in parts)
    assert parts[1].endswith("完整回答及出处：http://127.0.0.1:8080/answer/token9")
    assert "来源：" in parts[1]
    body = parts[1].split("\n……")[0]
    assert body.endswith("。")  # cut at a sentence boundary


def test_the_answer_link_is_signed_for_the_stored_answer(settings):
    url = AnswerLinks(settings)(42)
    base, token = url.rsplit("/answer/", 1)
    assert base == "http://127.0.0.1:8080"
    assert links.verify(settings.secret_key(), token, "answer") == "42"


def test_a_sentence_longer_than_a_message_is_cut_between_characters():
    parts = text_messages(Reply("长" * 1300), None)
    assert [utf8_len(p) for p in parts] == [2046, 3900 - 2046] and "".join(parts) == "长" * 1300


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=3000))
def test_any_text_becomes_at_most_two_messages_within_the_byte_limit(text):
    parts = text_messages(Reply(text), link(3))
    assert len(parts) <= 2
    assert all(utf8_len(p) <= 2048 for p in parts)


@given(st.text(max_size=500))
def test_pieces_join_back_to_the_text(text):
    assert "".join(render.pieces(text)) == text


def test_a_short_kf_answer_travels_inside_one_menu_with_its_buttons():
    (payload,) = kf_payloads(Reply(SENTENCE, citations=(CITE,), buttons=BUTTONS, message_id=5), link(5), 5)
    menu = payload["msgmenu"]
    assert payload["msgtype"] == "msgmenu" and menu["head_content"].startswith(SENTENCE)
    ids = [item["click"]["id"] for item in menu["list"]]
    assert [parse_menu_id(i) for i in ids] == ["feedback:up:5", "feedback:down:5", "handoff"]
    assert [item["click"]["content"] for item in menu["list"]] == ["👍 有帮助", "👎 没帮助", "联系技术经理人"]


def test_a_longer_kf_answer_is_text_followed_by_the_feedback_menu():
    payloads = kf_payloads(Reply(SENTENCE * 20, buttons=BUTTONS, message_id=6), link(6), 5)
    assert [p["msgtype"] for p in payloads] == ["text", "msgmenu"]
    assert payloads[1]["msgmenu"]["head_content"] == "这个回答对您有帮助吗？"


def test_with_one_message_of_quota_left_a_long_kf_answer_drops_the_menu_and_links_the_rest():
    payloads = kf_payloads(Reply(SENTENCE * 50, buttons=BUTTONS, message_id=7), link(7), 1)
    assert [p["msgtype"] for p in payloads] == ["text"]
    assert payloads[0]["text"]["content"].endswith(link(7))
    assert kf_payloads(Reply(SENTENCE), link(8), 0) == []


def test_buttons_of_other_features_keep_their_action_and_foreign_menu_ids_are_plain_text():
    reply = Reply("请为本次服务评分", buttons=(Button("⭐⭐⭐⭐⭐", "rate:12:5"), Button("官网", "url:https://x")))
    (payload,) = kf_payloads(reply, None, 5)
    assert [i["click"]["id"] for i in payload["msgmenu"]["list"]] == ["qd:rate:12:5"]
    assert parse_menu_id("qd:rate:12:5") == "rate:12:5"
    assert parse_menu_id("101") is None and parse_menu_id("qd:") is None
