"""Everyday words -> the words policy and legal texts use for the same thing.

People ask "罚多少钱", "哪天开始", "厂里", "老板"; regulations say 罚款, 施行, 企业/单位, 负责人.
`formal_terms` lists the formal words a question implies, so that retrieval can search for them
and the relevance gate can count a colloquial word as found when its formal word is in a passage.
"""
from __future__ import annotations

import re

# colloquial pattern -> formal words (space separated). Patterns are plain substrings unless they
# contain regex syntax; keep them general (vocabulary of the field, never one question's wording).
_MAP: dict[str, str] = {
    r"罚(多少|几|啥)|罚钱|罚款多少|被罚|怎么罚|罚不罚|罚吗": "罚款 处以",
    r"(哪天|哪一天|什么时候|何时|啥时候|几号|哪年)[^，。？?]{0,6}(开始|起|生效|实施|施行|执行|实行)|开始施行|开始实施|生效": "施行 起施行",
    r"多久|多长时间|几年|几个月|几天|期限是": "期限 日内 年",
    r"老板|负责人|老总|法人": "负责人 法定代表人",
    r"公司|厂里|工厂|厂子|单位里": "企业 单位",
    r"多少钱|给多少|拿多少|领多少|奖多少|补多少": "资金 补助 奖励 元",
    r"补贴|补助|扶持资金|资助": "补助 补贴 资助 扶持",
    r"找哪个部门|哪个部门|谁管|归谁管|谁来管|谁审批|找谁": "部门 主管部门 审批",
    r"能不能|可不可以|行不行|可以吗|允许|能否|是否可以|让不让": "可以 不得 禁止 应当",
    r"是不是必须|必须|要不要|需不需要|是否需要|一定要|应不应该": "应当 必须",
    r"拦|扣住|不让走": "阻止 限制",
    r"出国|出境": "出境",
    r"毕业": "毕业生 毕业",
    r"小孩|孩子|未成年|小朋友": "未成年人 未满 周岁",
    r"多大年纪|年龄|岁": "周岁 年龄",
    r"乱扔|随便扔|扔进|扔到|乱倒|随意倒|倒掉|扔": "倾倒 抛弃 丢弃 弃置",
    r"垃圾": "垃圾 废弃物",
    r"开店|开饭店|做生意|经营": "经营者 经营",
    r"涨价|收费|加价|另收": "价格 收费 收取",
    r"最多|最长|上限|最高|不能超过": "最高 不超过 不得超过",
    r"最少|至少|最低|下限|不能低于": "不低于 不少于 最低",
    r"工资|报酬|薪水|工钱": "报酬 工资",
    r"员工|工人|职工|打工": "职工 劳动者 从业人员",
    r"外国人|老外|外籍": "外国人 境外 外籍",
    r"热线|电话": "热线 服务热线",
    r"什么关系|有啥关系|什么区别": "关系 区别",
    r"怎么申请|如何申请|怎么报|去哪申请|申请流程": "申请 申报 程序",
    r"交钱|缴费|交费|交税|缴税": "缴纳 缴费",
    r"欠税|不交税|逃税": "欠缴税款 欠税",
    r"好处|优惠|优待": "优惠 享受",
    r"保护多少年|保护期|管多少年": "保护期限 期限",
    r"付款|给钱|结账|回款": "支付 付款 款项",
    r"晚付|拖欠|拖延付款|逾期": "逾期 拖欠 迟延",
    r"利息": "利息 利率",
    r"展会|展览|博览会": "展会 展览",
    r"供货|送货|发货|交货|进货": "货物 交付 采购",
    r"学校和企业|学校与企业|高校和企业|高校与企业|院校和企业|学校跟企业|校企": "校企合作 产学研",
    r"企业和高校|企业与高校|企业和学校|产学研": "产学研 校企合作",
    r"设了|设个|设置了|成立了|建了": "设立 建立",
    r"一笔钱|这笔钱|笔钱|专门的钱|专项钱": "资金 专项资金 经费",
    r"合规|合法|违规|违法吗|算不算|符合规定": "符合 规定 不得 违反",
}
_COMPILED = tuple((re.compile(pattern), tuple(formal.split())) for pattern, formal in _MAP.items())


def formal_terms(text: str) -> list[str]:
    """The formal words the text's everyday wording stands for (without repeats, in map order)."""
    found: dict[str, None] = {}
    for pattern, formal in _COMPILED:
        if pattern.search(text):
            found.update(dict.fromkeys(formal))
    return list(found)


def expand(text: str) -> str:
    """The text followed by the formal words it implies (for searching); a group of which the text
    already uses a word adds nothing (补贴 is formal enough: no 资助/扶持 to widen the search)."""
    extra: dict[str, None] = {}
    for pattern, formal in _COMPILED:
        if pattern.search(text) and not any(w in text for w in formal):
            extra.update(dict.fromkeys(formal))
    return f"{text} {' '.join(extra)}" if extra else text


def spans(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """Where the text uses everyday wording: (start, end, the formal words it stands for)."""
    return [(m.start(), m.end(), formal) for pattern, formal in _COMPILED for m in pattern.finditer(text)]


def alternatives(word: str, text: str, found: list[tuple[int, int, tuple[str, ...]]]) -> tuple[str, ...]:
    """The formal words that may stand for `word` where it occurs in `text` (spans from `spans`)."""
    at = text.find(word)
    if at < 0:
        return ()
    return tuple(w for start, end, formal in found if start <= at < end for w in formal)
