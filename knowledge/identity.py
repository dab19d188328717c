"""Document identity: title, issuing body, region, document number (文号) and dates, read from the
text of a policy document at ingest.

Chinese regulations and notices state who issued them and for where only in their head: the
title ("青岛市职业教育条例"), the lines under it ("2015年8月26日 青岛市第十五届人民代表大会常务委员会
第二十九次会议通过", "青政办发〔2024〕5号") and the closing clause ("本条例自2015年11月1日起施行").
The body says "本市". Everything here is rule-based, deterministic and explainable; an operator
can correct any field in the console (`DocumentIdentity.merged`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

from bot import regions
from knowledge.structure import match_heading

_HEAD_LINES = 14
_TITLE_MAX = 60
_TITLE_WORDS = ("通知", "办法", "条例", "规定", "意见", "方案", "细则", "决定", "公告", "措施", "计划", "规划",
                "指引", "指南", "清单", "目录", "法", "纲要", "政策", "通告", "批复", "函", "规则", "章程", "若干规定")
_CN_NUM = "〇零一二三四五六七八九十百"
_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,12}\s*[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*第?\s*\d{1,5}\s*号)")
_DECREE = re.compile(rf"((?:中华人民共和国)?[\u4e00-\u9fff]{{0,12}}令\s*第\s*[\d{_CN_NUM}]+\s*号)")
_CONGRESS = re.compile(rf"([\u4e00-\u9fff]{{0,12}}?)第[{_CN_NUM}\d]+届(全国)?人民代表大会(常务委员会)?")
_ISSUER_LINE = re.compile(r"^[\u4e00-\u9fff（）()、 ]{2,40}(人民政府办公厅|人民政府办公室|人民政府|办公厅|委员会|"
                          r"科学技术局|科技局|局|厅|部|委|办公室|管理委员会|管委会)$")
_EFFECTIVE = re.compile(r"自\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*起(?:施行|实施|执行|生效)")
_EFFECTIVE_HEAD = re.compile(r"(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*(?:起)?\s*(?:施行|实施|生效)$")
_EXPIRES = re.compile(r"有效期(?:至|到)\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)")
_VALID_YEARS = re.compile(rf"有效期(?:为)?\s*([\d{_CN_NUM}两]+)\s*年")
_ISSUED_WORDS = ("通过", "公布", "发布", "印发", "批准", "修正", "修订", "颁布")
_JUNK_TITLES = re.compile(r"^(untitled|无标题|microsoft word|document\d*|文档\d*|新建)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DocumentIdentity:
    """What a document is: all fields are plain strings ("" when unknown), dates as YYYY-MM-DD."""

    title: str = ""
    issuer: str = ""
    region: str = ""  # canonical region (青岛市, 山东省, 国家), see bot.regions
    doc_number: str = ""
    issued: str = ""
    effective: str = ""
    expires: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DocumentIdentity:
        names = {f.name for f in fields(cls)}
        return cls(**{k: str(v or "").strip() for k, v in (data or {}).items() if k in names})

    def merged(self, overrides: dict[str, Any] | None) -> DocumentIdentity:
        """This identity with an operator's corrections applied (empty corrections are ignored)."""
        fix = {k: v for k, v in DocumentIdentity.from_dict(overrides).as_dict().items() if v}
        return replace(self, **fix)


def extract(text: str, title_hint: str | None = None, fallback_title: str = "") -> DocumentIdentity:
    """Read a document's identity from its cleaned text. `title_hint` (a sidecar or metadata title)
    is used when the text has no title line of its own; `fallback_title` (the file name) last."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()][:_HEAD_LINES]
    title = find_title(lines) or _usable(title_hint) or fallback_title
    head = "\n".join(lines)
    issuer = find_issuer(lines)
    effective = _first_date(_EFFECTIVE, text) or _head_effective(lines)
    return DocumentIdentity(
        title=title, issuer=issuer, region=find_region(title, issuer, head),
        doc_number=find_doc_number(head), issued=find_issued(lines), effective=effective,
        expires=_first_date(_EXPIRES, text) or _expiry_from_years(text, effective))


def _usable(title: str | None) -> str:
    title = (title or "").strip()
    return "" if not title or _JUNK_TITLES.match(title) else title


def _is_title_line(line: str) -> bool:
    plain = line.lstrip("#").strip()
    numbered = (heading := match_heading(plain)) is not None and heading.rank > 6
    return (0 < len(plain) <= _TITLE_MAX and not plain.endswith(("。", "；", "，", "：", ":", ".", ";"))
            and not _DATE.match(plain) and not _DOC_NUMBER.fullmatch(plain) and not numbered)


def _issuer_above_title(lines: list[str], i: int) -> bool:
    """An authority's name on its own line right above the title (which may be wrapped)."""
    after = lines[i + 1:i + 3]
    return bool(_ISSUER_LINE.match(lines[i].lstrip("#").strip())) and any(
        _is_title_line(n) and (n.endswith(_TITLE_WORDS) or n.startswith("关于")) for n in after)


def find_title(lines: list[str]) -> str:
    """The first line that reads like a title (a long title wrapped onto a second line is joined)."""
    for i, line in enumerate(lines[:6]):
        if not _is_title_line(line) or _issuer_above_title(lines, i):
            continue
        title = line.lstrip("#").strip()
        nxt = lines[i + 1].lstrip("#").strip() if i + 1 < len(lines) else ""
        if (not title.endswith(_TITLE_WORDS) and nxt.endswith(_TITLE_WORDS) and _is_title_line(nxt)
                and len(title) + len(nxt) <= _TITLE_MAX):
            title += nxt
        return title
    return ""


def find_issuer(lines: list[str]) -> str:
    """The issuing body: a people's congress session named in the head, a State Council decree,
    or a line that is only an authority's name."""
    for line in lines:
        line = _DATE.sub(" ", line)
        congress = _CONGRESS.search(line)
        if congress and any(w in line for w in _ISSUED_WORDS):
            place = congress.group(1).strip()
            if congress.group(2) or not place:
                return "全国人民代表大会" + ("常务委员会" if congress.group(3) else "")
            return f"{place}人民代表大会" + ("常务委员会" if congress.group(3) else "")
        if "国务院令" in line:
            return "国务院"
    for line in lines:
        if _ISSUER_LINE.match(line):
            return line
    return ""


def find_region(title: str, issuer: str, head: str) -> str:
    """The region the document governs: the innermost place in the title, else the issuer's,
    else national for national laws and State Council regulations, else any place in the head."""
    for text in (title, issuer):
        places = [p for p in regions.find_places(text) if p != regions.NATIONAL]
        if places:
            return regions.most_specific(places) or ""
        if regions.NATIONAL in regions.find_places(text) or text.startswith("国家"):
            return regions.NATIONAL
    if "国务院令" in head or "全国人民代表大会" in head:
        return regions.NATIONAL
    places = regions.find_places(head)
    return regions.most_specific(places) or ""


def find_doc_number(head: str) -> str:
    head = _DATE.sub("\n", head)
    match = _DOC_NUMBER.search(head) or _DECREE.search(head)
    return re.sub(r"\s+", "", match.group(1)) if match else ""


def _iso(text: str) -> str:
    match = _DATE.search(text)
    if not match:
        return ""
    try:
        return date(*(int(x) for x in match.groups())).isoformat()
    except ValueError:
        return ""


def _first_date(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return _iso(match.group(1)) if match else ""


def _head_effective(lines: list[str]) -> str:
    for line in lines:
        match = _EFFECTIVE_HEAD.search(line)
        if match:
            return _iso(match.group(1))
    return ""


def find_issued(lines: list[str]) -> str:
    """The latest date in the head that a passing, publishing or amending line states."""
    dates = [_iso(line) for line in lines if _DATE.search(line) and any(w in line for w in _ISSUED_WORDS)]
    return max((d for d in dates if d), default="")


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
    if text == "十":
        return 10
    if len(text) == 1 and text in digits:
        return digits[text]
    if len(text) == 2 and text[0] == "十" and text[1] in digits:
        return 10 + digits[text[1]]
    return None


def _expiry_from_years(text: str, effective: str) -> str:
    match = _VALID_YEARS.search(text)
    years = _number(match.group(1)) if match else None
    if not years or not effective:
        return ""
    start = date.fromisoformat(effective)
    try:
        end = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + years, day=28)
    return date.fromordinal(end.toordinal() - 1).isoformat()


def header(identity: DocumentIdentity) -> str:
    """The line that prefixes every chunk of the document where it is embedded and indexed:
    the title and, when the title does not name it, the region."""
    region = identity.region
    if not region or region == regions.NATIONAL and "中华人民共和国" in identity.title:
        return identity.title
    short = region.rstrip("市省") if len(region) > 2 else region
    if short in identity.title:
        return identity.title
    return f"{identity.title}（{region}）" if identity.title else region


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def validate_identity(fields: Mapping[str, object]) -> dict[str, str]:
    """An operator's corrections, cleaned: known fields only, a region the gazetteer knows (in its
    canonical form), dates as YYYY-MM-DD. Raises ValueError naming the bad field."""
    out = {k: str(v or "").strip()[:200] for k, v in fields.items() if k in DocumentIdentity.__dataclass_fields__}
    if out.get("region"):
        places = regions.find_places(out["region"])
        if len(places) != 1:
            raise ValueError(f"region: unknown place {out['region']!r}")
        out["region"] = places[0]
    for key in ("issued", "effective", "expires"):
        if out.get(key) and not (_ISO_DATE.match(out[key]) and _iso_ok(out[key])):
            raise ValueError(f"{key}: not a date in YYYY-MM-DD form: {out[key]!r}")
    return out


def _iso_ok(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
