"""Cleaning removes conversion artefacts and stray whitespace without touching the words."""
from __future__ import annotations

from knowledge.cleaning import clean_text, unwrap_lines


def test_bookmark_artefacts_are_removed() -> None:
    """`[bookmark: _GoBack]` left by docx converters disappears."""
    assert clean_text("[bookmark: _GoBack]面向未来，青岛将发挥优势。") == "面向未来，青岛将发挥优势。"


def test_full_width_and_zero_width_spaces_are_removed() -> None:
    """Indenting full-width spaces and zero-width characters are dropped."""
    assert clean_text("\u3000\u3000第一条\u200b为了促进\ufeff成果转化。") == "第一条为了促进成果转化。"


def test_spaces_between_chinese_characters_are_removed_but_not_between_words() -> None:
    """Spaces inside Chinese text go; spaces between Latin words stay single."""
    assert clean_text("青 岛  科技   policy   text") == "青岛科技 policy text"


def test_line_breaks_are_normalised_and_blank_runs_collapsed() -> None:
    """CRLF and CR become newlines, and at most one blank line separates blocks."""
    assert clean_text("一、总则\r\n\r\n\r\n\r\n正文。\r第二段。") == "一、总则\n\n正文。\n第二段。"


def test_unwrap_joins_a_sentence_broken_over_lines_but_not_headings() -> None:
    """A hard-wrapped sentence is re-joined; a heading line stays on its own line."""
    text = "一、支持措施\n对新认定的平台给予\n最高100万元奖励。\nSupport is given\nto new platforms."
    assert unwrap_lines(text) == "一、支持措施\n对新认定的平台给予最高100万元奖励。\nSupport is given to new platforms."
