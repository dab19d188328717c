"""Policy documents for the eligibility tests, and a helper that ingests them as ingest does (registry
write, then the on_document hooks). EVERY DOCUMENT HERE IS FICTIONAL TEST DATA made up for these tests:
no real policy, no real amounts."""
from __future__ import annotations

from datetime import datetime, timezone

from bot.store import Store
from bot.records import ChunkRecord, DocumentRecord
from knowledge.policy_ingest import PolicyIngest
from knowledge.support_ingest import SupportIngest, chain

FICTIONAL = "（虚构测试数据）"
TODAY = datetime(2027, 5, 10, 9, 0, tzinfo=timezone.utc)

CITY = ("city", "青岛市科技企业培育支持办法" + FICTIONAL, {"region": "青岛市", "effective": "2026-01-01",
                                                         "expires": "2030-12-31"}, [
    ("一、支持对象", "本办法支持对象为在青岛市注册、具有独立法人资格的企业。"),
    ("二、支持标准 > （一）高新技术企业奖励", "对首次认定的高新技术企业，给予20万元奖励。"),
    ("二、支持标准 > （二）研发费用后补助",
     "对上年度研发费用占营业收入比例不低于3%的企业，按其研发费用增量的10%给予补助，最高50万元。"),
    ("二、支持标准 > （三）专精特新培育", "对职工总数不超过200人、拥有发明专利2件以上的专精特新中小企业，给予30万元资助。"),
    ("二、支持标准 > （四）初创科技企业", "对成立不满5年的科技型中小企业，给予10万元补贴。"),
    ("三、申报时间", "每年6月1日至6月30日集中受理申报。"),
])
DISTRICT = ("laoshan", "崂山区技术转移奖励办法" + FICTIONAL, {"region": "青岛市"}, [
    ("一、奖励措施", "对注册在崂山区的企业，按技术合同成交额的5%给予奖励，单个企业最高100万元。"),
])
EXPIRED = ("old", "青岛市旧版高企奖励办法" + FICTIONAL, {"region": "青岛市", "expires": "2025-12-31"}, [
    ("一、奖励", "对高新技术企业给予15万元奖励。"),
])
OTHER_CITY = ("jinan", "济南市科技企业奖励办法" + FICTIONAL, {"region": "济南市"}, [
    ("一、奖励", "对高新技术企业给予25万元奖励。"),
])
ALL = (CITY, DISTRICT, EXPIRED, OTHER_CITY)


async def ingest(store: Store, docs=ALL, publish: bool = True, llm=None) -> None:
    hook = chain(PolicyIngest(store), SupportIngest(store, llm, publish=publish))
    for doc_id, title, identity, sections in docs:
        doc = DocumentRecord(id=doc_id, title=title, source=f"test/{doc_id}.txt", sha256=doc_id * 8,
                             chunk_count=len(sections), identity={"title": title, **identity})
        chunks = [ChunkRecord(id=f"{doc_id}-{n}", doc_id=doc_id, position=n, title=title, section=sec,
                              source=doc.source, text=text) for n, (sec, text) in enumerate(sections)]
        await store.kb.replace_document(doc, chunks)
        await hook(doc, chunks, False)


def by_what(items) -> dict:
    return {i.what: i for i in items}
