"""Rendering replies for Telegram: splitting, callback data, marking the chosen button (pure functions)."""
from __future__ import annotations

from adapters.telegram import render
from bot.types import Button, Reply

BUTTONS = (Button("👍", "feedback:up"), Button("👎", "feedback:down"), Button("联系技术经理人", "handoff"))


def test_split_text_prefers_paragraphs_then_sentences_and_counts_utf16_units():
    assert render.split_text("甲。" * 10, limit=7) == ["甲。甲。甲。", "甲。甲。甲。", "甲。甲。甲。", "甲。"]
    assert render.split_text("第一段。\n\n第二段很长。", limit=8) == ["第一段。", "第二段很长。"]
    assert render.split_text("😀" * 5, limit=4) == ["😀😀", "😀😀", "😀"]
    assert render.split_text("   ") == []


def test_callback_data_fits_64_bytes_and_parses_back():
    markup = render.keyboard(Reply("x", buttons=BUTTONS, message_id=2**62))
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert max(len(d.encode()) for d in data) <= 64
    assert [render.parse_callback(d) for d in data] == [("feedback", "up", 2**62), ("feedback", "down", 2**62),
                                                       ("human", None, None)]
    assert render.parse_callback("fb:up:abc") is None and render.parse_callback(None) is None


def test_choosing_one_rating_unmarks_the_other_and_keeps_the_contact_choice():
    markup = render.keyboard(Reply("x", buttons=BUTTONS, message_id=5))
    markup = render.with_choice(render.with_choice(markup, "human", True), "fb:up:5", True)
    markup = render.with_choice(markup, "fb:down:5", True)
    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert labels == ["👍", "✅ 👎", "✅ 联系技术经理人"]
    assert render.is_chosen(markup, "fb:down:5") and not render.is_chosen(markup, "fb:up:5")


def test_rating_stars_share_one_row_and_an_overlong_action_is_left_out():
    stars = tuple(Button("★" * n, f"rate:12:{n}") for n in range(1, 6)) + (Button("x", "x:" + "9" * 70),)
    markup = render.keyboard(Reply("请打分", buttons=stars))
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [[f"rate:12:{n}" for n in range(1, 6)]]
    assert render.parse_callback("rate:12:5") == ("action", "rate:12:5", None)


def test_html_chunks_escape_only_the_three_special_characters():
    [chunk] = render.html_chunks(Reply('a < b & "c" > \'d\''), "zh")
    assert chunk == 'a &lt; b &amp; "c" &gt; \'d\''


def test_quick_replies_go_two_to_a_row_and_their_callback_data_parses_back():
    quick = tuple(Button(f"{n} 选项", f"say:{n}") for n in range(1, 4)) + (Button("取消", "say:取消"),)
    markup = render.keyboard(Reply("您需要哪类服务？", buttons=quick))
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["say:1", "say:2"],
                                                                                ["say:3", "say:取消"]]
    assert render.parse_callback("say:取消") == ("action", "say:取消", None)
