"""Places: which region a document or a question is about, and which rules apply where.

A small gazetteer of China's administrative regions, enough for a city policy library: the
nation, every province-level region, the larger cities (every city of Shandong) and Qingdao's
districts and county-level cities. A district counts as its city (西海岸新区 -> 青岛市); a
municipality (北京市, 上海市 ...) is a province-level region that is also its own city.

Rules flow downwards: a national rule applies everywhere, a provincial rule in every city of the
province, a city's rule in the city. `applies(doc_region, target)` says whether a document of
`doc_region` governs `target`; a document whose region is unknown ("") is assumed to apply.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

NATIONAL = "国家"


@dataclass(frozen=True, slots=True)
class Place:
    name: str  # canonical name, e.g. 青岛市
    level: int  # 0 national, 1 province-level, 2 city
    parent: str | None  # canonical name of the enclosing region


_MUNICIPALITIES = {"北京市": "北京 beijing", "天津市": "天津 tianjin", "上海市": "上海 shanghai",
                   "重庆市": "重庆 chongqing"}
_PROVINCES = {
    "河北省": "河北 hebei", "山西省": "山西 shanxi", "辽宁省": "辽宁 liaoning", "吉林省": "吉林 jilin",
    "黑龙江省": "黑龙江 heilongjiang", "江苏省": "江苏 jiangsu", "浙江省": "浙江 zhejiang", "安徽省": "安徽 anhui",
    "福建省": "福建 fujian", "江西省": "江西 jiangxi", "山东省": "山东 shandong 鲁", "河南省": "河南 henan",
    "湖北省": "湖北 hubei", "湖南省": "湖南 hunan", "广东省": "广东 guangdong", "海南省": "海南 hainan",
    "四川省": "四川 sichuan", "贵州省": "贵州 guizhou", "云南省": "云南 yunnan", "陕西省": "陕西 shaanxi",
    "甘肃省": "甘肃 gansu", "青海省": "青海 qinghai", "台湾省": "台湾 taiwan",
    "内蒙古自治区": "内蒙古 inner-mongolia", "广西壮族自治区": "广西 guangxi", "西藏自治区": "西藏 tibet",
    "宁夏回族自治区": "宁夏 ningxia", "新疆维吾尔自治区": "新疆 xinjiang",
    "香港特别行政区": "香港 hong-kong", "澳门特别行政区": "澳门 macau macao",
}
# city -> (province, aliases). Qingdao's districts and county-level cities count as Qingdao.
_CITIES = {
    "青岛市": ("山东省", "青岛 qingdao tsingtao 岛城 市南区 市北区 李沧区 崂山区 城阳区 黄岛区 西海岸新区 即墨区 即墨 "
                        "胶州市 胶州 平度市 平度 莱西市 莱西 青岛西海岸 前湾保税港区 "
                        "laoshan jimo jiaozhou pingdu laixi huangdao chengyang licang shinan shibei"),
    "济南市": ("山东省", "济南 jinan"), "淄博市": ("山东省", "淄博 zibo"), "枣庄市": ("山东省", "枣庄 zaozhuang"),
    "东营市": ("山东省", "东营 dongying"), "烟台市": ("山东省", "烟台 yantai"), "潍坊市": ("山东省", "潍坊 weifang"),
    "济宁市": ("山东省", "济宁 jining"), "泰安市": ("山东省", "泰安 taian"), "威海市": ("山东省", "威海 weihai"),
    "日照市": ("山东省", "rizhao"), "临沂市": ("山东省", "临沂 linyi"), "德州市": ("山东省", "德州 dezhou"),
    "聊城市": ("山东省", "聊城 liaocheng"), "滨州市": ("山东省", "滨州 binzhou"), "菏泽市": ("山东省", "菏泽 heze"),
    "广州市": ("广东省", "广州 guangzhou 中新广州知识城"), "深圳市": ("广东省", "深圳 shenzhen 深圳经济特区"),
    "珠海市": ("广东省", "珠海 zhuhai"), "佛山市": ("广东省", "佛山 foshan"), "东莞市": ("广东省", "东莞 dongguan"),
    "杭州市": ("浙江省", "杭州 hangzhou"), "宁波市": ("浙江省", "宁波 ningbo"), "温州市": ("浙江省", "温州 wenzhou"),
    "嘉兴市": ("浙江省", "嘉兴 jiaxing"), "绍兴市": ("浙江省", "绍兴 shaoxing"), "南京市": ("江苏省", "南京 nanjing"),
    "苏州市": ("江苏省", "苏州 suzhou 苏州工业园区"), "无锡市": ("江苏省", "无锡 wuxi"), "常州市": ("江苏省", "常州 changzhou"),
    "郑州市": ("河南省", "郑州 zhengzhou"), "洛阳市": ("河南省", "洛阳 luoyang"), "武汉市": ("湖北省", "武汉 wuhan"),
    "长沙市": ("湖南省", "长沙 changsha"), "成都市": ("四川省", "成都 chengdu"), "西安市": ("陕西省", "西安 xian xi'an"),
    "合肥市": ("安徽省", "合肥 hefei"), "福州市": ("福建省", "福州 fuzhou"), "厦门市": ("福建省", "厦门 xiamen"),
    "沈阳市": ("辽宁省", "沈阳 shenyang"), "大连市": ("辽宁省", "大连 dalian"), "长春市": ("吉林省", "长春 changchun"),
    "哈尔滨市": ("黑龙江省", "哈尔滨 harbin"), "石家庄市": ("河北省", "石家庄 shijiazhuang"),
    "太原市": ("山西省", "太原 taiyuan"), "南昌市": ("江西省", "南昌 nanchang"), "南宁市": ("广西壮族自治区", "南宁 nanning"),
    "海口市": ("海南省", "海口 haikou"), "贵阳市": ("贵州省", "贵阳 guiyang"), "昆明市": ("云南省", "昆明 kunming"),
    "兰州市": ("甘肃省", "兰州 lanzhou"), "西宁市": ("青海省", "西宁 xining"), "银川市": ("宁夏回族自治区", "银川 yinchuan"),
    "乌鲁木齐市": ("新疆维吾尔自治区", "乌鲁木齐 urumqi"), "呼和浩特市": ("内蒙古自治区", "呼和浩特 hohhot"),
    "拉萨市": ("西藏自治区", "拉萨 lhasa"),
}
_NATIONAL_ALIASES = "中华人民共和国 全国 国务院 national nationwide 全国人民代表大会"
# Words that contain a place name but are not about that place.
_NOT_PLACES = ("上海合作组织", "上海合作", "中山大学", "南京路", "北京路", "广州路", "天津路")


def _places() -> tuple[dict[str, Place], dict[str, str]]:
    places = {NATIONAL: Place(NATIONAL, 0, None)}
    aliases: dict[str, str] = {a: NATIONAL for a in _NATIONAL_ALIASES.split()}
    for name, words in {**_MUNICIPALITIES, **_PROVINCES}.items():
        places[name] = Place(name, 1, NATIONAL)
        aliases.update({name: name, **{w.replace("-", " "): name for w in words.split()}})
    for name, (province, words) in _CITIES.items():
        places[name] = Place(name, 2, province)
        aliases.update({name: name, **{w: name for w in words.split()}})
    return places, aliases


PLACES, ALIASES = _places()


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    latin = sorted((a for a in ALIASES if a.isascii()), key=len, reverse=True)
    chinese = sorted((a for a in ALIASES if not a.isascii()), key=len, reverse=True)
    ignored = "|".join(map(re.escape, _NOT_PLACES))
    return re.compile(f"(?P<skip>{ignored})|(?P<zh>{'|'.join(map(re.escape, chinese))})"
                      f"|\\b(?P<en>{'|'.join(map(re.escape, latin))})\\b", re.IGNORECASE)


def find_places(text: str) -> list[str]:
    """The canonical regions named in `text`, in order of first mention, without repeats."""
    found: list[str] = []
    for match in _pattern().finditer(text):
        word = match.group("zh") or match.group("en")
        if not word:
            continue
        name = ALIASES[word if word in ALIASES else word.lower()]
        if name not in found:
            found.append(name)
    return found


def level(name: str) -> int:
    place = PLACES.get(name)
    return place.level if place else 2


def lineage(name: str) -> tuple[str, ...]:
    """The region and every region above it, innermost first (青岛市, 山东省, 国家)."""
    chain: list[str] = []
    current: str | None = name
    while current and current not in chain:
        chain.append(current)
        current = PLACES[current].parent if current in PLACES else NATIONAL
    return tuple(chain)


def applies(doc_region: str, target: str) -> bool:
    """Does a rule of `doc_region` govern `target`? Unknown regions ("") are assumed to apply."""
    return not doc_region or doc_region in lineage(target)


def most_specific(names: list[str]) -> str | None:
    """The innermost of several regions (the first one among equals), or None."""
    return max(names, key=level) if names else None


def targets(question: str, home: str) -> tuple[list[str], bool]:
    """The regions a question asks about and whether it named them: the innermost named places
    (several when they do not contain one another: a comparison; 青岛 alone for "青岛的公司按山东
    的规定"), or the home region when it names none."""
    named = find_places(question)
    if not named:
        return [home], False
    inner = [n for n in named if not any(o != n and n in lineage(o) for o in named)]
    return inner, True
