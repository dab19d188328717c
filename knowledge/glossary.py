"""An English -> Chinese glossary of science-and-technology policy terms, for cross-lingual search.

The knowledge base is Chinese; the bundled embedding model matches English questions to Chinese
passages only weakly, and BM25 not at all. `translate_terms` rewrites the English terms of a
query into their Chinese equivalents (unknown words are left as they are), so that the lexical
index and its coverage signal work for English questions too.
"""
from __future__ import annotations

import re

GLOSSARY: dict[str, str] = {
    # places and bodies
    "qingdao": "青岛", "shandong": "山东", "laoshan laboratory": "崂山实验室", "laoshan": "崂山",
    "shanghai cooperation organisation": "上合组织", "shanghai cooperation organization": "上合组织",
    "sco": "上合组织", "china": "中国", "japan": "日本", "korea": "韩国", "hong kong": "香港",
    "municipal": "市级", "city": "市", "province": "省", "provincial": "省级", "national": "国家",
    "government": "政府", "ministry": "部",
    # research and innovation
    "science and technology": "科技", "technological": "科技", "technology": "技术", "science": "科学",
    "scientific": "科学", "research and development": "研发", "r&d": "研发", "research": "科研",
    "innovation": "创新", "innovative": "创新", "laboratory": "实验室", "laboratories": "实验室",
    "key laboratory": "重点实验室", "state key laboratory": "全国重点实验室",
    "infrastructure": "基础设施", "core technology": "核心技术", "key technologies": "关键技术",
    "key technology": "关键技术", "breakthrough": "攻关", "tackling": "攻关", "bottleneck": "卡脖子",
    "proof of concept": "概念验证", "proof-of-concept": "概念验证", "pilot-scale": "中试",
    "pilot scale": "中试", "pilot testing": "中试", "pilot": "中试", "verification": "验证",
    "validation": "验证", "platform": "平台", "center": "中心", "centre": "中心", "base": "基地",
    "incubator": "孵化器", "accelerator": "加速器", "science park": "科技园", "corridor": "走廊",
    "innovation corridor": "科创大走廊", "achievement": "成果", "achievements": "成果", "results": "成果",
    "commercialization": "转化", "commercialisation": "转化", "transformation": "转化",
    "technology transfer": "技术转移", "tech transfer": "技术转移", "transfer": "转移",
    "technology manager": "技术经理人", "technology broker": "技术经理人",
    "technology market": "科技大市场", "technology contract": "技术合同", "contract": "合同",
    "transaction": "成交额", "turnover": "成交额", "patent": "专利", "license": "许可",
    "licensing": "许可", "intellectual property": "知识产权", "standard": "标准",
    # industry and enterprises
    "industry": "产业", "industries": "产业", "industrial": "产业", "industrial chain": "产业链",
    "supply chain": "供应链", "cluster": "集群", "manufacturing": "制造", "advanced manufacturing": "先进制造业",
    "enterprise": "企业", "company": "企业", "firm": "企业", "business": "企业",
    "high-tech enterprise": "高新技术企业", "high-tech": "高新技术", "sme": "中小企业",
    "specialized and sophisticated": "专精特新", "specialised and sophisticated": "专精特新",
    "project": "项目", "investment": "投资", "total investment": "总投资", "emerging": "新兴",
    "future industries": "未来产业", "leading": "先导", "pioneer": "先导", "advantage": "优势",
    "artificial intelligence": "人工智能", "ai": "人工智能", "information technology": "信息技术",
    "new energy": "新能源", "new materials": "新材料", "biomedicine": "生物医药", "health": "健康",
    "smart home appliances": "智能家电", "home appliances": "家电", "rail transit": "轨道交通",
    "shipbuilding": "船舶", "instruments": "仪器仪表", "integrated circuit": "集成电路",
    "low-altitude economy": "低空经济", "low altitude economy": "低空经济",
    "marine": "海洋", "ocean": "海洋", "maritime": "海洋", "blue granary": "蓝色粮仓",
    "deep sea": "深海", "desalination": "海水淡化", "digital": "数字", "digitalization": "数智化",
    "productivity": "生产力", "new quality productive forces": "新质生产力",
    # money and support
    "fund": "基金", "funding": "资金", "funds": "资金", "finance": "金融", "financial": "金融",
    "venture capital": "风险投资", "subsidy": "补贴", "subsidies": "补贴", "grant": "补助",
    "reward": "奖补", "award": "奖励", "tax": "税收", "loan": "贷款", "budget": "财政",
    "fiscal": "财政", "policy": "政策", "policies": "政策", "support": "支持", "plan": "计划",
    "program": "计划", "programme": "计划", "service": "服务", "services": "服务",
    # people
    "talent": "人才", "talents": "人才", "talent pool": "人才总量", "university": "高校",
    "universities": "高校", "college": "高校", "institute": "院所", "institutes": "院所",
    "researcher": "科研人员", "scientist": "科学家", "entrepreneur": "创业", "startup": "创业",
    "education": "教育", "training": "培养",
    # measures
    "growth": "增长", "increase": "增长", "annual": "年均", "annually": "每年", "every year": "每年",
    "each year": "每年", "per year": "每年", "total": "总量", "number": "数量",
    "international": "国际", "cooperation": "合作", "collaboration": "合作", "open": "开放",
    "build": "建设", "construct": "建设", "establish": "设立", "set up": "设立", "key": "重点",
    "major": "重大", "facility": "设施", "facilities": "设施", "layout": "布局", "value": "总值",
    "ecosystem": "生态", "environment": "环境", "reform": "改革", "mechanism": "机制",
}
_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(term) for term in sorted(GLOSSARY, key=len, reverse=True)) + r")(?:e?s)?\b",
    re.IGNORECASE,
)


def has_latin_words(text: str) -> bool:
    return re.search(r"[A-Za-z]{2,}", text) is not None


def translate_terms(query: str) -> str:
    """The query with every glossary term (singular or plural) replaced by its Chinese term."""
    return _PATTERN.sub(lambda m: f" {GLOSSARY[m.group(1).lower()]} ", query)
