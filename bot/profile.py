"""A company profile (issue 17): the few facts the support items' conditions ask about, read from what a
user writes ("2019年成立，在崂山区，营收5000万，80人，研发投入占4%，有3件发明专利，是高新技术企业").

Values are kept in plain units: revenue and R&D spend in 万元, the R&D ratio in %, a founding year,
counts as numbers, certifications as a list of names (an empty list means "none"), a district as
written in `DISTRICTS` or a city of `bot.regions`.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot import regions

CERTIFICATION_WORDS = {"高新技术企业": ("高新技术企业", "高企", "国高"), "科技型中小企业": ("科技型中小企业", "科小", "科技型中小"),
                       "专精特新": ("专精特新",), "瞪羚企业": ("瞪羚",), "独角兽企业": ("独角兽",),
                       "技术先进型服务企业": ("技术先进型服务企业",)}
# Qingdao's districts and county-level cities (bot.regions counts them all as 青岛市)
DISTRICTS = {"市南区": "市南区", "市北区": "市北区", "李沧区": "李沧区", "崂山区": "崂山区", "城阳区": "城阳区",
             "黄岛区": "西海岸新区", "西海岸新区": "西海岸新区", "即墨区": "即墨区", "胶州市": "胶州市",
             "平度市": "平度市", "莱西市": "莱西市", "高新区": "高新区",
             "市南": "市南区", "市北": "市北区", "李沧": "李沧区", "崂山": "崂山区", "城阳": "城阳区", "黄岛": "西海岸新区",
             "西海岸": "西海岸新区", "即墨": "即墨区", "胶州": "胶州市", "平度": "平度市", "莱西": "莱西市"}
ASK_ORDER = ("district", "company_type", "certifications", "founded_year", "revenue", "employees", "rd_ratio",
             "ip_count")
_N = r"(\d+(?:\.\d+)?)"
_NONE = re.compile(r"^(?:没有|无|都没有|暂无|不是|否|没)[。！!.]?$")
_YEAR = re.compile(r"(?:成立于|注册于|成立|注册)?\s*((?:19|20)\d{2})\s*年\s*(?:\d{1,2}\s*月)?\s*(?:成立|注册|创办|设立)|(?:成立于|注册于|成立时间|注册时间)\D{0,3}((?:19|20)\d{2})")
_AGE = re.compile(r"成立(?:了)?\s*" + _N + r"\s*年")
_REVENUE = re.compile(r"(?:营业收入|营收|收入|销售额|产值)\D{0,6}?" + _N + r"\s*(万|亿)")
_STAFF = re.compile(_N + r"\s*(?:个人|人|名员工|名职工|个员工|名)")
_RD_RATIO = re.compile(r"研发\D{0,10}?" + _N + r"\s*%|研发\D{0,10}?百分之\s*" + _N)
_RD_SPEND = re.compile(r"研发(?:费用|投入|经费)\D{0,6}?" + _N + r"\s*(万|亿)")
_IP = re.compile(_N + r"\s*(?:件|项|个)\s*(?:授权)?(?:发明)?(?:专利|知识产权)|(?:专利|知识产权)\D{0,6}?" + _N + r"\s*(?:件|项|个)?")
_TYPE = {"高校": ("高校", "大学", "学院"), "科研院所": ("科研院所", "研究所", "研究院"), "企业": ("企业", "公司")}
_BARE = re.compile(r"^\s*" + _N + r"\s*(万元|万|亿元|亿|%|人|件|项|个|年)?\s*[。！!.]?\s*$")


def _wan(value: str, unit: str) -> float:
    return float(value) * (10000 if unit.startswith("亿") else 1)


def parse(text: str, pending: str | None = None, today: date | None = None) -> dict[str, Any]:
    """The profile facts stated in one message (`pending`: the field just asked about, for a bare answer)."""
    found: dict[str, Any] = {}
    certs = [name for name, words in CERTIFICATION_WORDS.items() if any(w in text for w in words)]
    if certs:
        found["certifications"] = certs
    elif pending == "certifications" and _NONE.match(text.strip()):
        found["certifications"] = []
    if (district := district_in(text)):
        found["district"] = district
    if (m := _YEAR.search(text)):
        found["founded_year"] = int(m.group(1) or m.group(2))
    elif (m := _AGE.search(text)) and today is not None:
        found["founded_year"] = today.year - int(float(m.group(1)))
    if (m := _REVENUE.search(text)):
        found["revenue"] = _wan(*m.groups())
    if (m := _RD_SPEND.search(text)):
        found["rd_spend"] = _wan(*m.groups())
    if (m := _RD_RATIO.search(text)):
        found["rd_ratio"] = float(m.group(1) or m.group(2))
    if (m := _IP.search(text)):
        found["ip_count"] = int(float(m.group(1) or m.group(2)))
    if (m := _STAFF.search(text)):
        found["employees"] = int(float(m.group(1)))
    if (kind := next((k for k, words in _TYPE.items() if any(w in text for w in words)), None)) and \
            (pending == "company_type" or kind != "企业"):
        found["company_type"] = kind
    if pending and pending not in found:
        found.update(_bare(text, pending))
    return found


def _bare(text: str, pending: str) -> dict[str, Any]:
    """A bare answer to the question just asked: "5000万", "80", "3.5%", "2019"."""
    m = _BARE.match(text)
    if m is None:
        return {}
    value, unit = float(m.group(1)), m.group(2) or ""
    if pending == "revenue":
        return {"revenue": _wan(m.group(1), unit) if unit.startswith("亿") else value}
    if pending == "founded_year" and 1900 <= value <= 2100:
        return {"founded_year": int(value)}
    if pending in ("employees", "ip_count"):
        return {pending: int(value)}
    if pending == "rd_ratio":
        return {"rd_ratio": value}
    return {}


def district_in(text: str) -> str:
    """A Qingdao district, else the innermost other place named in `text`, else ""."""
    for word, name in DISTRICTS.items():
        if word in text:
            return name
    places = [p for p in regions.find_places(text) if regions.level(p) >= 1]
    return regions.most_specific(places) or ""


def region_of(district: str, home: str) -> str:
    """The region (bot.regions) a company of `district` is in; the home region when not known."""
    if not district or district in DISTRICTS.values():
        return home if not district else "青岛市"
    return district if district in regions.PLACES else (regions.find_places(district) or [home])[0]
