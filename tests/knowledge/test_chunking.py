"""Chunking follows the structure of policy text, keeps sentences whole and has stable ids."""
from __future__ import annotations

import re

import pytest

from knowledge.chunking import chunk_document, index_text, split_long_sentence
from knowledge.cleaning import clean_text
from knowledge.ingest import bundled_documents_dir
from knowledge.structure import match_heading, split_sentences

SEED = bundled_documents_dir() / "000_fc93bdf836211329.txt"


@pytest.fixture(scope="module")
def seed_chunks():
    text = clean_text(SEED.read_text(encoding="utf-8"))
    return chunk_document("seed", "种子文档", "bundled/seed.txt", text, 420)


def _chunk_with(chunks, fact: str):
    return next(c for c in chunks if fact in c.text)


def test_inline_enumerations_set_the_section_path(seed_chunks) -> None:
    """`二是优化市场服务` inside a paragraph becomes a sub-section of heading 二、."""
    chunk = _chunk_with(seed_chunks, "概念验证平台60家左右")
    assert chunk.section == "二、提升科技成果转化效能，畅通科技创新和产业创新融合的途径 > 二是优化市场服务"


def test_text_before_the_first_enumeration_belongs_to_the_heading_only(seed_chunks) -> None:
    """The paragraph preceding 一是 is filed under the heading, not under an enumeration."""
    chunk = _chunk_with(seed_chunks, "人才总量突破300万人")
    assert chunk.section == "四、营造良好创新生态，强化科技创新和产业创新融合的保障"


def test_a_new_paragraph_closes_the_open_enumeration(seed_chunks) -> None:
    """After a paragraph with 一是/二是/三是, the next paragraph is not filed under 三是."""
    chunk = _chunk_with(seed_chunks, "习近平总书记强调，“强化科技创新和产业创新融合")
    assert " > " not in chunk.section


def test_chunks_never_cut_a_sentence(seed_chunks) -> None:
    """Every chunk ends at a sentence end, and the chunks together hold every sentence whole."""
    text = clean_text(SEED.read_text(encoding="utf-8"))
    body = [s for line in text.split("\n") if not (match_heading(line) or line == "")
            for s in split_sentences(line)]
    joined = "".join(c.text.replace("\n", "") for c in seed_chunks)
    assert all(c.text.endswith(("。", "”", "！", "？")) for c in seed_chunks)
    assert all(sentence in joined for sentence in body)


def test_chunks_respect_the_size_limit(seed_chunks) -> None:
    """No chunk of the seed document is longer than chunk_max_chars."""
    assert max(len(c.text) for c in seed_chunks) <= 420


def test_chunk_ids_are_deterministic_and_unique(seed_chunks) -> None:
    """Chunking the same text twice yields the same ids, all distinct, and positions in order."""
    text = clean_text(SEED.read_text(encoding="utf-8"))
    again = chunk_document("seed", "种子文档", "bundled/seed.txt", text, 420)
    assert [c.id for c in again] == [c.id for c in seed_chunks]
    assert len({c.id for c in seed_chunks}) == len(seed_chunks)
    assert [c.position for c in seed_chunks] == list(range(len(seed_chunks)))


def test_chunks_keep_title_and_source(seed_chunks) -> None:
    """Every chunk carries the document title and source."""
    assert {(c.title, c.source) for c in seed_chunks} == {("种子文档", "bundled/seed.txt")}


def test_indexed_text_starts_with_the_short_section_heading(seed_chunks) -> None:
    """The embedded text is prefixed by each level of the section cut at its first comma."""
    chunk = _chunk_with(seed_chunks, "概念验证平台60家左右")
    assert index_text(chunk.section, chunk.text).startswith("二、提升科技成果转化效能… > 二是优化市场服务\n")


def test_an_articles_items_stay_in_the_article_and_chapters_nest_articles() -> None:
    """第X章 > 第X条 build a path; an article's （一）（二） items (with text of their own) are its body,
    not headings, so the article stays one section; a new chapter closes the inner levels."""
    text = ("第一章 总则\n第一条 本办法适用于下列企业：\n（一）高新技术企业；\n（二）科技型中小企业。\n"
            "第二条 本办法适用于全市。\n第二章 支持措施\n第五条 给予奖励。")
    chunks = chunk_document("d", "t", "s", text, 200)
    assert [c.section for c in chunks] == ["第一章 总则 > 第一条", "第一章 总则 > 第二条", "第二章 支持措施 > 第五条"]
    assert chunks[0].text == "第一条 本办法适用于下列企业：\n（一）高新技术企业；\n（二）科技型中小企业。"


def test_markdown_headings_set_the_section_path() -> None:
    """# and ## headings become levels of the section path."""
    chunks = chunk_document("d", "t", "s", "# 指南\n## 申报条件\n企业须在青岛注册。", 200)
    assert chunks[0].section == "指南 > 申报条件" and chunks[0].text == "企业须在青岛注册。"


def test_a_long_section_is_split_between_sentences() -> None:
    """Sentences of a long section are packed into several chunks, each ending a sentence."""
    text = "一、措施\n" + "".join(f"第{i}项措施是加快建设创新平台并给予资金支持。" for i in range(30))
    chunks = chunk_document("d", "t", "s", text, 100)
    assert len(chunks) > 1
    assert all(len(c.text) <= 100 and c.text.endswith("。") for c in chunks)


def test_an_over_long_sentence_is_split_at_commas() -> None:
    """A single sentence longer than the limit is split at its commas."""
    sentence = "，".join(["加强关键核心技术攻关"] * 20) + "。"
    parts = split_long_sentence(sentence, 50)
    assert "".join(parts) == sentence
    assert all(len(p) <= 50 and re.search(r"[，。]$", p) for p in parts)
