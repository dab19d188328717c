"""Rules that read a document's support measures as `SupportItem`s (issue 17).

A support sentence states money or a ratio with a support verb: "给予50万元奖励", "按研发费用的10%给予补助，
最高50万元". Each becomes an item; its conditions are read from that sentence, from the other
sentences of its section that state no support, and from the document's own 申报条件 / 支持对象
sections. Conditions understood:

    certifications   高新技术企业, 科技型中小企业, 专精特新, 瞪羚企业, 独角兽企业, 技术先进型服务企业
    rd_ratio         研发费用占营业收入比例不低于3%
    revenue          上年度营业收入2000万元以上 / 不超过2亿元  (万元)
    employees        职工总数不超过500人
    ip_count         拥有发明专利2件以上 / 授权发明专利不少于1件
    age              成立不满5年 / 成立3年以上 ; founded_year: 2020年1月1日以后注册
    district         注册在崂山区 / 崂山区内 / a district in the title (the item is that district's)
    company_type     高校、科研院所 named as applicants
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bot.support import Condition, SupportItem
from knowledge.policy_text import clauses, subject, who_may_apply

CERTIFICATIONS = {"高新技术企业": r"高新技术企业", "科技型中小企业": r"科技型中小企业",
                  "专精特新": r"专精特新", "瞪羚企业": r"瞪羚企业", "独角兽企业": r"独角兽企业",
                  "技术先进型服务企业": r"技术先进型服务企业"}
DISTRICTS = {"市南区": "市南区", "市北区": "市北区", "李沧区": "李沧区", "崂山区": "崂山区", "城阳区": "城阳区",
             "黄岛区": "西海岸新区", "西海岸新区": "西海岸新区", "即墨区": "即墨区", "胶州市": "胶州市",
             "平度市": "平度市", "莱西市": "莱西市", "高新区": "高新区"}
_NUM = r"(\d+(?:\.\d+)?)"
_VERB = re.compile(r"奖励|补助|资助|补贴|奖补|扶持|支持")
_MONEY = re.compile(_NUM + r"\s*(万元|亿元)")
_RATIO = re.compile(r"按[^。；]{0,40}?" + _NUM + r"\s*%|" + _NUM + r"\s*%\s*(?:的)?(?:比例)?(?:给予)?(?:奖励|补助|资助|补贴)")
_CAP = re.compile(r"(?:最高|最多|上限为?|不超过|单个\w{0,6}最高)\s*(?:不超过)?\s*" + _NUM + r"\s*(万元|亿元)")
_AT_LEAST = ("不低于", "不少于", "达到", "以上", "及以上", "≥", "超过", "高于", "大于")
_AT_MOST = ("不超过", "不高于", "以下", "以内", "及以下", "≤", "低于", "少于", "不足", "小于")
_CMP = r"(不低于|不少于|达到|超过|高于|大于|不超过|不高于|低于|少于|小于|≥|≤|在)?"
_TAIL = r"\s*(以上|及以上|以下|及以下|以内)?"
_RD = re.compile(r"研发(?:费用|经费|投入)[^。；，\d]{0,20}?(?:占|比例|比重)[^。；\d]{0,16}?" + _CMP + r"\s*" + _NUM + r"\s*%" + _TAIL)
_REVENUE = re.compile(r"(?:营业收入|主营业务收入|销售收入|年营收)[^。；，\d]{0,10}?" + _CMP + r"\s*" + _NUM + r"\s*(万元|亿元)" + _TAIL)
_STAFF = re.compile(r"(?:职工总数|职工人数|从业人员|从业人数|员工总数|员工|职工)[^。；，\d]{0,8}?" + _CMP + r"\s*" + _NUM + r"\s*人" + _TAIL)
_IP = re.compile(r"(?:拥有|授权|取得)?(?:有效)?(?:发明专利|知识产权|专利)[^。；，\d]{0,8}?" + _CMP + r"\s*" + _NUM + r"\s*(?:件|项)" + _TAIL)
_IP_BEFORE = re.compile(r"(?:拥有|授权|取得)\s*" + _NUM + r"\s*(?:件|项)" + _TAIL + r"(?:有效|授权)?(?:发明专利|知识产权|专利)")
_YOUNG = re.compile(r"成立(?:时间)?\s*(不满|未满|不超过|少于|在)\s*" + _NUM + r"\s*年")
_OLD = re.compile(r"成立(?:时间)?\s*(?:满|已满|达到)?\s*" + _NUM + r"\s*年\s*(以上|及以上)")
_SINCE = re.compile(r"(\d{4})\s*年(?:\d{1,2}\s*月\d{1,2}\s*日)?\s*(?:以后|之后|以来|后)\s*(?:注册|成立|设立)")
_TYPES = re.compile(r"高校|高等学校|科研院所|新型研发机构")
_SHARED_HEADING = re.compile(r"申报条件|支持对象|申报对象|适用范围|适用对象|基本条件|申报主体")


def _op(word: str | None, tail: str | None, strict_words: tuple[str, ...] = ("超过", "高于", "大于")) -> str:
    if word in _AT_MOST or tail in ("以下", "及以下", "以内"):
        return "<" if word in ("低于", "少于", "不足", "小于") else "<="
    if word in strict_words:
        return ">"
    return ">="


def _wan(value: str, unit: str) -> float:
    return float(value) * (10000 if unit == "亿元" else 1)


def _threshold(rx: re.Pattern[str], field: str, text: str, unit: Callable[[re.Match[str]], float]) -> list[Condition]:
    out = []
    for m in rx.finditer(text):
        word, tail = m.group(1), m.groups()[-1]
        out.append(Condition(field, _op(word, tail), unit(m), m.group(0).strip("，, ")))
    return out


def conditions_of(text: str) -> list[Condition]:
    """Every condition the rules read in one stretch of text, in a stable order, without repeats."""
    found: list[Condition] = []
    for name, pattern in CERTIFICATIONS.items():
        if re.search(pattern, text):
            found.append(Condition("certifications", "has", name, name))
    found += _threshold(_RD, "rd_ratio", text, lambda m: float(m.group(2)))
    found += _threshold(_REVENUE, "revenue", text, lambda m: _wan(m.group(2), m.group(3)))
    found += _threshold(_STAFF, "employees", text, lambda m: float(m.group(2)))
    found += _threshold(_IP, "ip_count", text, lambda m: float(m.group(2)))
    found += [Condition("ip_count", ">=", float(m.group(1)), m.group(0)) for m in _IP_BEFORE.finditer(text)]
    for m in _YOUNG.finditer(text):
        found.append(Condition("age", "<=" if m.group(1) in ("不超过", "在") else "<", float(m.group(2)), m.group(0)))
    found += [Condition("age", ">=", float(m.group(1)), m.group(0)) for m in _OLD.finditer(text)]
    found += [Condition("founded_year", ">=", float(m.group(1)), m.group(0)) for m in _SINCE.finditer(text)]
    if types := _TYPES.findall(text):
        names = sorted({"高校" if t in ("高校", "高等学校") else t for t in types})
        found.append(Condition("company_type", "in", ["企业", *names], "、".join(types)))
    if (district := district_of(text, registered=True)):
        found.append(Condition("district", "==", district, district))
    return _unique(found)


def _unique(conditions: Iterable[Condition]) -> list[Condition]:
    seen, out = set(), []
    for c in conditions:
        key = (c.field, c.op, str(c.value))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def district_of(text: str, registered: bool = False) -> str:
    """A Qingdao district named in `text` (with `registered`: only as where applicants are registered)."""
    for word, name in DISTRICTS.items():
        if registered:
            if re.search(rf"(?:注册|注册地|登记|落户|位于|在){word}|{word}(?:内|范围内|辖区)", text):
                return name
        elif word in text:
            return name
    return ""


def support_of(sentence: str) -> tuple[float | None, float | None, float | None] | None:
    """(amount, ratio, cap) stated by a support sentence, or None when it states none."""
    if not _VERB.search(sentence):
        return None
    ratio_m, cap_m = _RATIO.search(sentence), _CAP.search(sentence)
    ratio = float(ratio_m.group(1) or ratio_m.group(2)) if ratio_m else None
    cap = _wan(*cap_m.groups()) if cap_m else None
    amount = None
    if ratio is None:
        money = [m for m in _MONEY.finditer(sentence) if not (cap_m and cap_m.start() <= m.start() < cap_m.end())
                 and not _is_threshold(sentence, m)]
        amount = _wan(*money[0].groups()) if money else None
    if amount is None and ratio is None and cap is None:
        return None
    return amount, ratio, cap


def _is_threshold(sentence: str, money: re.Match[str]) -> bool:
    """Money that is a condition (营业收入2000万元以上), not the support."""
    before = sentence[max(0, money.start() - 14): money.start()]
    return bool(re.search(r"收入|营收|投入|总额|资产|规模|销售", before))


def _support_words(sentence: str) -> str:
    m = re.search(r"(?:按|给予|奖励|补助|资助|补贴)[^。；]*", sentence)
    return (m.group(0) if m else sentence).strip("，。； ")


def support_items(sections: Iterable[tuple[str, str]], *, doc_id: str = "", title: str = "", source: str = "",
                  region: str = "") -> list[SupportItem]:
    """The items stated by (section path, text) pairs of one document, one per support sentence."""
    grouped: dict[str, list[str]] = {}
    for section, text in sections:
        grouped.setdefault(section, []).append(text)
    shared_text = [s for section, texts in grouped.items() if _SHARED_HEADING.search(section)
                   and not any(support_of(s) for t in texts for s in clauses(t))
                   for t in texts for s in clauses(t) if conditions_of(s)]
    shared = conditions_of("".join(shared_text))
    doc_district = district_of(title)
    items: list[SupportItem] = []
    for section, texts in grouped.items():
        sentences = [s for t in texts for s in clauses(t)]
        plain = [s for s in sentences if support_of(s) is None]
        local = conditions_of("".join(plain))
        who = who_may_apply("".join(texts))
        for sentence in sentences:
            if (found := support_of(sentence)) is None:
                continue
            own = conditions_of(sentence)
            conds = _unique([*own, *local, *shared])
            district = next((c.value for c in conds if c.field == "district"), "") or doc_district
            if district and not any(c.field == "district" for c in conds):
                conds.append(Condition("district", "==", district, title))
            amount, ratio, cap = found
            clause = "".join([*(s for s in plain if conditions_of(s)), sentence])
            if shared_text:
                clause += "……" + "".join(shared_text)
            items.append(SupportItem(what=subject(section, title), who=who, conditions=tuple(conds), amount=amount,
                                     ratio=ratio, cap=cap, support=_support_words(sentence), clause=clause,
                                     section=section, doc_id=doc_id, title=title, source=source, region=region,
                                     district=district))
    return items
