"""Application windows and repeal clauses are read at ingest from .txt, .docx and .pdf documents.

Every document here is FICTIONAL TEST DATA made up for these tests (not a real policy)."""
from __future__ import annotations

from pathlib import Path

import docx
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from knowledge.calendar_llm import checked, date_in_clause
from knowledge.policy_ingest import PolicyIngest
from knowledge.policy_text import repealed_titles, window_of

FICTIONAL = "（虚构测试数据，非真实政策）"
TXT = [
    "青岛市研发费用后补助实施办法" + FICTIONAL,
    "一、研发费用后补助",
    "申报对象为在青岛市注册的科技型中小企业。研发费用后补助每年6月1日至6月30日集中受理。",
    "二、科技创新券",
    "科技创新券常年受理，企业可随时在线申请。",
    "三、附则",
    "本办法自2026年1月1日起施行，有效期3年。原《青岛市研发费用补助暂行办法》同时废止。",
]
DOCX = [
    "青岛市高新技术企业培育计划" + FICTIONAL,
    "一、培育入库",
    "申报截止时间为2027年3月31日，逾期不予受理。",
]
PDF = [
    "Qingdao pilot platform notice" + FICTIONAL,
    "一、中试平台认定",
    "2027年4月1日至2027年4月30日受理中试平台认定申报。",
]


def _pdf(path: Path, lines: list[str]) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("STSong-Light", 11)
    for i, line in enumerate(lines):
        pdf.drawString(40, 780 - 22 * i, line)
    pdf.save()


def _docx(path: Path, lines: list[str]) -> None:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    document.save(path)


@pytest.fixture
def fixture_docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "rd_subsidy.txt").write_text("\n".join(TXT), encoding="utf-8")
    _docx(folder / "hitech.docx", DOCX)
    _pdf(folder / "pilot.pdf", PDF)
    return folder


async def test_windows_deadlines_and_rolling_entries_are_read_from_txt_docx_and_pdf(hash_kb, kb_store, fixture_docs):
    """Ingest turns each document's application clauses into calendar entries citing their clause."""
    hash_kb.ingestor.on_document = PolicyIngest(kb_store)
    report = await hash_kb.ingest([fixture_docs])
    assert report.failed == 0, report.failures
    entries = {(e.what, e.opens, e.closes, e.recurrence) for e in await kb_store.calendar.entries()}
    assert ("研发费用后补助", "06-01", "06-30", "yearly") in entries  # .txt
    assert ("科技创新券", "", "", "rolling") in entries
    assert ("培育入库", "", "2027-03-31", "once") in entries  # .docx
    assert ("中试平台认定", "2027-04-01", "2027-04-30", "once") in entries  # .pdf
    rd = next(e for e in await kb_store.calendar.entries() if e.what == "研发费用后补助")
    assert "每年6月1日至6月30日集中受理" in rd.clause and rd.who.startswith("在青岛市注册的科技型中小企业")
    assert rd.citation().source.endswith("rd_subsidy.txt")


async def test_the_repeal_clause_and_the_validity_period_are_recorded_for_the_status(hash_kb, kb_store, fixture_docs):
    """"原《…》同时废止" lands in the document's policy record; "有效期3年" sets its expiry."""
    hash_kb.ingestor.on_document = PolicyIngest(kb_store)
    await hash_kb.ingest([fixture_docs])
    doc = next(d for d in await kb_store.calendar.policies() if d.source.endswith("rd_subsidy.txt"))
    assert doc.policy["repeals"] == ["青岛市研发费用补助暂行办法"]
    assert doc.identity["effective"] == "2026-01-01" and doc.identity["expires"] == "2028-12-31"


async def test_an_operator_correction_survives_a_reingest_and_every_ingest_is_logged_once(hash_kb, kb_store, fixture_docs):
    """Corrected entries are the operator's; changed documents add one change-log entry each."""
    hash_kb.ingestor.on_document = PolicyIngest(kb_store)
    await hash_kb.ingest([fixture_docs])
    assert len(await kb_store.calendar.changes_after(0)) == 3
    rd = next(e for e in await kb_store.calendar.entries() if e.what == "研发费用后补助")
    assert await kb_store.calendar.update_entry(rd.id, closes="07-15")
    (fixture_docs / "rd_subsidy.txt").write_text("\n".join(TXT) + "\n补充说明。", encoding="utf-8")
    await hash_kb.ingest([fixture_docs])
    changes = await kb_store.calendar.changes_after(0)
    assert [c.kind for c in changes][-1] == "updated" and len(changes) == 4  # unchanged files log nothing
    rd_now = [e for e in await kb_store.calendar.entries() if e.what == "研发费用后补助"]
    assert [(e.closes, e.origin) for e in rd_now] == [("07-15", "operator")]


def test_rules_read_the_common_patterns_and_ignore_commencement_clauses():
    assert window_of("每年3月至5月申报") == ("03-01", "05-31", "yearly")
    assert window_of("请于2027年5月20日17:00前提交申报材料。") == ("", "2027-05-20", "once")
    assert window_of("每年9月30日前提交申请。") == ("", "09-30", "yearly")
    assert window_of("本办法自2027年1月1日起施行。") is None
    assert repealed_titles(["原《青岛市科技创新券管理办法》（青科规〔2019〕2号）同时废止。"]) == ["青岛市科技创新券管理办法"]


def test_llm_entries_are_kept_only_when_every_date_occurs_in_a_verbatim_clause():
    """A model's entry with a date its clause does not state, or a clause not in the text, is dropped."""
    text = "研发费用后补助每年6月1日至6月30日集中受理。申报截止时间为2027年3月31日。"
    items = [
        {"what": "后补助", "opens": "06-01", "closes": "06-30", "recurrence": "yearly",
         "clause": "研发费用后补助每年6月1日至6月30日集中受理。"},
        {"what": "后补助", "opens": "06-01", "closes": "07-31", "recurrence": "yearly",  # 7月31日 is invented
         "clause": "研发费用后补助每年6月1日至6月30日集中受理。"},
        {"what": "入库", "opens": "", "closes": "2027-03-31", "recurrence": "once", "clause": "申报截止时间为2027年3月31日。"},
        {"what": "编造", "opens": "", "closes": "2027-01-01", "recurrence": "once", "clause": "2027年1月1日截止。"},
    ]
    kept = checked(items, text)
    assert [(i["what"], i["closes"]) for i in kept] == [("后补助", "06-30"), ("入库", "2027-03-31")]
    assert not date_in_clause("2026-03-31", "申报截止时间为2027年3月31日。", "once")
