"""Document identity read from the text at ingest: title, issuer, region, 文号 and dates
(the notices below are fictional test data)."""
from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.identity import DocumentIdentity, extract, header, validate_identity
from knowledge.loaders import load_document
from tests.knowledge.test_loaders import _write_pdf

NOTICE = """青岛市科学技术局
关于印发《青岛市概念验证平台建设管理
办法》的通知
青科规〔2024〕3号
各区、市科技主管部门：
现将《青岛市概念验证平台建设管理办法》印发给你们，请认真贯彻执行。
一、支持标准
对新认定的概念验证平台给予最高100万元奖励。
本办法自2024年6月1日起施行，有效期三年。
"""


def test_a_notice_yields_title_issuer_region_number_and_dates() -> None:
    ident = extract(NOTICE, fallback_title="scan_0042")
    assert ident.title == "关于印发《青岛市概念验证平台建设管理办法》的通知"  # wrapped title joined
    assert ident.issuer == "青岛市科学技术局" and ident.region == "青岛市"
    assert ident.doc_number == "青科规〔2024〕3号"
    assert (ident.effective, ident.expires) == ("2024-06-01", "2027-05-31")


def test_a_regulation_yields_its_congress_and_the_latest_amendment() -> None:
    text = ("烟台市民营经济促进条例\n2019年10月29日 烟台市第十七届人民代表大会常务委员会第二十一次会议通过\n"
            "2020年1月15日 山东省第十三届人民代表大会常务委员会第十六次会议批准\n第一章 总则\n"
            "第一条 为了促进民营经济发展，制定本条例。\n第四十条 本条例自2020年3月1日起施行。")
    ident = extract(text)
    assert (ident.title, ident.issuer, ident.region) == ("烟台市民营经济促进条例", "烟台市人民代表大会常务委员会", "烟台市")
    assert (ident.issued, ident.effective) == ("2020-01-15", "2020-03-01")


@pytest.mark.parametrize(("title", "region"), [
    ("西海岸新区促进海洋经济发展若干措施", "青岛市"),  # a district counts as its city
    ("山东省青岛前湾保税港区条例", "青岛市"),  # the innermost place of the title
    ("中国（山东）自由贸易试验区条例", "山东省"),
    ("中华人民共和国专利法", "国家"),
    ("深圳经济特区数据条例", "深圳市"),
])
def test_the_region_is_the_innermost_place_of_the_title(title: str, region: str) -> None:
    assert extract(f"{title}\n第一条 为了规范管理，制定本规定。").region == region


def test_a_state_council_regulation_without_a_place_in_its_title_is_national() -> None:
    ident = extract("保障中小企业款项支付条例\n2020年7月5日 中华人民共和国国务院令第728号公布\n第一条 为了促进中小企业发展，制定本条例。")
    assert (ident.region, ident.issuer, ident.doc_number) == ("国家", "国务院", "中华人民共和国国务院令第728号")
    assert header(ident) == "保障中小企业款项支付条例（国家）"


def test_a_pdf_title_comes_from_its_text_not_a_junk_metadata_title(tmp_path: Path) -> None:
    path = tmp_path / "20240601.pdf"
    _write_pdf(path, ["青岛市中试平台扶持办法", "一、支持措施", "对新认定的中试平台给予最高200万元奖励。"],
               title="Microsoft Word - 20240601.doc")
    loaded = load_document(path)
    assert extract(loaded.text, loaded.title_hint, path.stem).title == "青岛市中试平台扶持办法"
    no_title = extract("对新认定的中试平台给予最高200万元奖励。", "untitled", "20240601")
    assert no_title.title == "20240601"


def test_corrections_are_validated_and_override_what_was_read() -> None:
    read = DocumentIdentity(title="t", region="青岛市", effective="2024-06-01")
    fixed = validate_identity({"region": "Ningbo", "effective": "", "unknown": "x"})
    assert fixed == {"region": "宁波市", "effective": ""}
    assert read.merged(fixed) == DocumentIdentity(title="t", region="宁波市", effective="2024-06-01")
    for bad in ({"region": "火星"}, {"issued": "2024/06/01"}, {"expires": "2023-02-29"}):
        with pytest.raises(ValueError):
            validate_identity(bad)
