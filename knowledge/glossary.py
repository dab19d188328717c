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
    "pilot scale": "中试", "pilot testing": "中试", "pilot": "中试",
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
    # law and administration: penalties, duties, procedures
    "fine": "罚款", "fined": "罚款", "fines": "罚款", "penalty": "处罚", "penalties": "处罚", "punish": "处罚",
    "punished": "处罚", "confiscate": "没收", "illegal income": "违法所得", "illegal": "违法", "violation": "违反",
    "violate": "违反", "rectify": "改正", "correct": "改正", "order to correct": "责令改正", "warning": "警告",
    "revoke": "吊销", "license revoked": "吊销许可证", "permit": "许可证", "approval": "审批", "approve": "批准",
    "register": "登记", "registration": "登记", "record": "备案", "filing": "备案", "apply": "申请",
    "application": "申请", "applicant": "申请人", "deadline": "期限", "time limit": "期限", "within": "以内",
    "days": "日", "months": "个月", "years": "年", "how long": "期限", "effective": "施行",
    "take effect": "施行", "takes effect": "施行", "came into force": "施行", "come into force": "施行",
    "in force": "施行", "implementation": "实施", "implement": "实施", "regulation": "条例", "regulations": "条例",
    "law": "法", "rule": "规定", "rules": "规定", "provisions": "规定", "measures": "办法", "article": "条",
    "department": "部门", "authority": "部门", "authorities": "部门", "competent": "主管", "administrative": "行政",
    "administration": "管理", "supervision": "监督管理", "inspection": "检查", "people's government": "人民政府",
    "dispute": "纠纷", "disputes": "纠纷", "infringement": "侵权", "infringe": "侵权", "mediation": "调解",
    "arbitration": "仲裁", "lawsuit": "诉讼", "court": "法院", "liability": "责任", "responsible": "负责",
    "obligation": "义务", "right": "权利", "rights": "权利", "must": "应当", "shall": "应当", "prohibit": "禁止",
    "prohibited": "禁止", "forbidden": "禁止", "allowed": "可以", "may not": "不得",
    # money, tax and payments
    "vat": "增值税", "value-added tax": "增值税", "value added tax": "增值税", "consumption tax": "消费税",
    "income tax": "所得税", "tariff": "关税", "customs": "海关", "duty": "关税", "duties": "关税",
    "exempt": "免征", "exemption": "免征", "exempted": "免征", "tax refund": "退税", "refund": "退税",
    "tax collection": "税收征收", "taxpayer": "纳税人", "arrears": "欠缴", "owe": "欠缴", "unpaid": "欠缴",
    "payment": "支付", "payments": "款项", "pay": "支付", "paid": "支付", "late": "逾期", "overdue": "逾期",
    "interest": "利息", "late-payment interest": "逾期利息", "supplier": "中小企业", "suppliers": "中小企业",
    "small and medium-sized": "中小", "small": "中小企业", "large company": "大型企业", "large enterprise": "大型企业",
    "price": "价格", "prices": "价格", "pricing": "定价", "cost": "成本", "charge": "收费", "fee": "费用",
    "fees": "费用", "wage": "工资", "wages": "工资", "minimum wage": "最低工资标准", "salary": "工资",
    "insurance": "保险", "guarantee": "担保", "collateral": "抵押", "bank": "银行", "credit": "信用",
    "dishonest": "失信", "blacklist": "失信", "disclosure": "公开", "disclose": "公开",
    # sectors and places
    "bonded port area": "保税港区", "bonded": "保税", "port": "港", "free trade zone": "自由贸易试验区",
    "pilot free trade zone": "自由贸易试验区", "free trade": "自由贸易", "zone": "区", "area": "区域",
    "construction waste": "建筑废弃物", "construction": "建筑", "waste": "废弃物", "garbage": "垃圾",
    "builder": "施工单位", "builders": "施工单位", "developer": "建设单位", "building": "建筑",
    "energy saving": "节能", "energy-saving": "节能", "energy efficiency": "节能", "solar": "太阳能",
    "water heater": "热水", "residential": "居住建筑", "recycling": "资源化利用", "recycled": "再生",
    "at will": "随意", "dispose": "处置", "disposing": "处置", "disposal": "处置", "dump": "倾倒",
    "dumping": "倾倒", "sea": "海域", "sea area": "海域", "island": "海岛", "islands": "海岛",
    "uninhabited island": "无居民海岛", "bay": "湾", "sand": "砂石", "mining": "开采", "fishing": "捕捞",
    "pollution": "污染", "discharge": "排放", "emission": "排放", "protection": "保护", "protect": "保护",
    "foreigner": "外国人", "foreigners": "外国人", "foreign": "外国", "multilingual": "多语种",
    "hotline": "服务热线", "information": "信息", "internationalization": "国际化", "data": "数据",
    "personal information": "个人信息", "minor": "未成年人", "minors": "未成年人", "child": "未成年人",
    "children": "未成年人", "app": "应用程序", "user profile": "用户画像", "personalized": "个性化",
    "recommendation": "推荐", "push": "推送", "exhibition": "展会", "trade fair": "展会", "expo": "展会",
    "fair": "展会", "school": "学校", "schools": "学校", "vocational": "职业", "vocational education": "职业教育",
    "vocational school": "职业学校", "student": "学生", "students": "学生", "internship": "实习",
    "intern": "实习", "apprenticeship": "学徒", "teacher": "教师", "principal": "校长", "private school": "民办学校",
    "private": "民营", "private enterprise": "民营企业", "private economy": "民营经济", "employee": "职工",
    "employees": "职工", "worker": "劳动者", "workers": "劳动者", "continuing education": "继续教育",
    "professional": "专业技术人员", "invention": "发明", "inventor": "发明人", "design": "外观设计",
    "design patent": "外观设计专利", "utility model": "实用新型", "patent holder": "专利权人",
    "patent right": "专利权", "patent authority": "专利行政部门", "patent office": "专利行政部门",
    "protected": "保护期限", "term": "期限", "filing date": "申请日", "market": "市场", "commodity": "商品",
    "public institution": "事业单位", "state organ": "机关", "government agency": "机关",
    "objection": "异议", "objections": "异议", "object": "异议", "objects": "异议", "appeal": "申诉",
    "credit record": "信用信息", "credit records": "信用信息", "credit information": "信用信息",
    "working day": "工作日", "working days": "工作日", "business days": "工作日", "review": "审核",
    "reviewed": "审核", "verify": "核查", "verification": "核查", "provider": "提供单位",
    "contract period": "付款期限", "payment term": "付款期限", "delivery": "交付",
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
