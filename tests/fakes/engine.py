"""A real Engine on a real Store with an in-memory retriever over a few policy passages, for channel tests."""
from __future__ import annotations

from bot.answerer import Answerer
from bot.engine import Engine
from bot.settings import Settings, load_settings
from bot.store import Store
from tests.fakes.retriever import MemoryRetriever

POLICY = [
    ("二、提升科技成果转化效能 > 二是优化市场服务",
     "积极推动海洋科技大市场特色化发展，每年筛选成果2000项以上、转化项目500项以上。"
     "促进验证平台共建共享共用，三年内建设概念验证平台60家左右、省级以上中试验证平台15家左右。"),
    ("四、营造良好创新生态",
     "“十四五”前四年全社会研发经费投入年均增长11.6%、居副省级城市前列，人才总量突破300万人。"),
    ("四、营造良好创新生态 > 二是加强科技创新政策支持",
     "保持市级财政科技资金每年15%以上稳定增长，引导各类创新主体加大科技投入。"),
]


def make_engine(store: Store, settings: Settings | None = None, llm=None, **overrides) -> Engine:
    """Engine(settings, store, Answerer(MemoryRetriever(POLICY))) — extractive unless `llm` is given."""
    s = settings or load_settings(**overrides)
    return Engine(s, store, Answerer(MemoryRetriever(POLICY), s, llm=llm))
