"""Loaders read each supported format from files the tests create, and name broken files."""
from __future__ import annotations

from pathlib import Path

import docx
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from bot.errors import DocumentError
from knowledge.loaders import decode_text, load_document, parse_document

POLICY = "一、总体要求\n三年内建设概念验证平台60家左右。"


def test_gbk_text_file_is_decoded(tmp_path: Path) -> None:
    """A .txt saved in GBK (as government files often are) is read as the right characters."""
    path = tmp_path / "gbk.txt"
    path.write_bytes(POLICY.encode("gbk"))
    assert "概念验证平台60家左右" in load_document(path).text


def test_utf8_with_bom_is_decoded_without_the_bom() -> None:
    """A UTF-8 BOM is dropped and the text decodes as UTF-8."""
    assert decode_text("\ufeff青岛".encode("utf-8")) == "青岛"


def test_utf8_text_without_bom_is_decoded() -> None:
    """Plain UTF-8 text decodes as UTF-8, not as GB18030."""
    assert decode_text("人才总量突破300万人".encode("utf-8")) == "人才总量突破300万人"


def test_text_title_is_the_first_short_line(tmp_path: Path) -> None:
    """A text file whose first line is short uses it as the title."""
    path = tmp_path / "notice.txt"
    path.write_text("关于促进科技成果转化的若干措施\n第一条 为了促进成果转化，制定本措施。", encoding="utf-8")
    assert load_document(path).title == "关于促进科技成果转化的若干措施"


def test_text_title_falls_back_to_the_file_stem(tmp_path: Path) -> None:
    """A text file starting with a long paragraph is titled by its file name."""
    path = tmp_path / "policy-2025.txt"
    path.write_text("这是一段很长的正文，" * 10 + "结束。", encoding="utf-8")
    assert load_document(path).title == "policy-2025"


def test_markdown_title_is_its_first_heading(tmp_path: Path) -> None:
    """A Markdown file is titled by its first heading."""
    path = tmp_path / "guide.md"
    path.write_text("# 科技金融指南\n\n## 一、贷款贴息\n贴息比例为50%。", encoding="utf-8")
    assert load_document(path).title == "科技金融指南"


def test_docx_paragraphs_and_tables_are_read_in_order(tmp_path: Path) -> None:
    """A .docx yields its core title, its paragraphs and its table rows, in document order."""
    document = docx.Document()
    document.core_properties.title = "中试平台认定办法"
    document.add_paragraph("第一条 为规范中试平台认定，制定本办法。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "平台类型", "奖励金额"
    table.cell(1, 0).text, table.cell(1, 1).text = "省级中试平台", "200万元"
    document.add_paragraph("第二条 本办法自发布之日起施行。")
    path = tmp_path / "measures.docx"
    document.save(path)
    loaded = load_document(path)
    assert loaded.title == "中试平台认定办法"
    assert "省级中试平台 | 200万元" in loaded.text
    assert loaded.text.index("第一条") < loaded.text.index("省级中试平台") < loaded.text.index("第二条")


def _write_pdf(path: Path, lines: list[str], title: str | None = None) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    if title:
        pdf.setTitle(title)
    pdf.setFont("STSong-Light", 12)
    for i, line in enumerate(lines):
        pdf.drawString(72, 760 - 20 * i, line)
    pdf.save()


def test_pdf_text_layer_is_read_with_wrapped_lines_rejoined(tmp_path: Path) -> None:
    """A PDF's text is extracted, and a sentence wrapped over two lines is joined again."""
    path = tmp_path / "notice.pdf"
    _write_pdf(path, ["一、支持措施", "对新认定的概念验证平台给予", "最高100万元奖励。"], title="青岛市科技政策")
    loaded = load_document(path)
    assert loaded.title == "青岛市科技政策"
    assert "对新认定的概念验证平台给予最高100万元奖励。" in loaded.text
    assert "一、支持措施\n" in loaded.text


def test_html_drops_scripts_and_navigation_and_keeps_headings(tmp_path: Path) -> None:
    """An HTML page keeps its <title> and body text, drops script/style/nav, and marks headings."""
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>青岛科技局通知</title><style>p{color:red}</style></head><body>"
        "<nav>首页 | 通知公告</nav><script>var x = 1;</script>"
        "<h2>一、申报条件</h2><p>企业须在青岛注册，<b>研发投入</b>不低于3%。</p></body></html>",
        encoding="utf-8")
    loaded = load_document(path)
    assert loaded.title == "青岛科技局通知"
    assert "## 一、申报条件" in loaded.text
    assert "企业须在青岛注册，研发投入不低于3%。" in loaded.text
    assert "var x" not in loaded.text and "首页" not in loaded.text and "color" not in loaded.text


def test_broken_pdf_raises_document_error_naming_the_file(tmp_path: Path) -> None:
    """A file that is not really a PDF raises DocumentError with the file's path."""
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not a pdf at all")
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(path) in str(caught.value)


def test_unsupported_extension_raises_document_error() -> None:
    """A file type without a loader is refused with a message naming the file."""
    with pytest.raises(DocumentError, match=r"sheet\.xlsx: unsupported file type"):
        parse_document("sheet.xlsx", b"PK\x03\x04")


def test_missing_file_raises_document_error(tmp_path: Path) -> None:
    """A path that does not exist raises DocumentError rather than OSError."""
    with pytest.raises(DocumentError, match="cannot be opened"):
        load_document(tmp_path / "gone.txt")


def test_empty_document_raises_document_error() -> None:
    """A document without any text is refused."""
    with pytest.raises(DocumentError, match="no extractable text"):
        parse_document("blank.txt", b"  \n\n ")
