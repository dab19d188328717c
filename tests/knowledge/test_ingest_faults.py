"""The embeddings endpoint (or Chroma) failing during an ingest: failed documents are reported,
the registry never points at missing vectors, and running the ingest again resumes it."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from bot.store import Store
from knowledge import KnowledgeBase
from knowledge.embeddings import OpenAIEmbedder
from knowledge.ingest import doc_id_for
from tests.knowledge.conftest import ChromaProcess, make_settings
from tests.knowledge.kb_fakes import FlakyOpenAI

FACTS = {"a": "海洋创新券每家企业最高50万元", "b": "人才公寓补贴每月3000元", "c": "中试平台一次性奖励200万元",
         "d": "首台套保险补偿保费的80%", "e": "概念验证中心每年资助100万元"}


def _text(name: str, fact: str) -> str:
    return (f"一、总则\n{name}号文件适用于青岛市行政区域。\n二、支持措施\n{fact}。\n"
            f"三、附则\n{name}号文件自发布之日起施行。")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    for name, fact in FACTS.items():
        (folder / f"{name}.txt").write_text(_text(name, fact), encoding="utf-8")
    return folder


@pytest.fixture
async def flaky():
    async with FlakyOpenAI(api_key="sk-test", embedding_dim=8) as fake:
        yield fake


@pytest.fixture
async def endpoint_kb(kb_settings, kb_store: Store, flaky: FlakyOpenAI):
    """A knowledge base embedding one chunk per request through the fake endpoint (one retry)."""
    embedder = OpenAIEmbedder("fake-embedding", base_url=flaky.base_url, api_key="sk-test", batch_size=1,
                              max_retries=1, backoff=0.01)
    kb = KnowledgeBase(kb_settings, kb_store, embedder)
    await asyncio.to_thread(kb.vectors.collection)  # the dimension probe, before any fault is armed
    yield kb
    await kb.close()


async def assert_consistent(kb: KnowledgeBase) -> None:
    """Every chunk the registry serves has its vector in Chroma."""
    ids = [c.id for c in await kb.store.kb.all_chunks()]
    assert await asyncio.to_thread(kb.vectors.existing, ids) == set(ids)


async def assert_searchable(kb: KnowledgeBase, names: str) -> None:
    """Each named document's fact is among the hybrid passages (the fake's vectors are random)."""
    for name in names:
        assert any(FACTS[name] in p.text for p in await kb.search(FACTS[name]))


async def test_an_endpoint_failing_mid_ingest_fails_only_the_document_it_hit(
        endpoint_kb: KnowledgeBase, flaky: FlakyOpenAI, docs: Path) -> None:
    """The document being embedded is failed with the endpoint's reason; the others are added and searchable."""
    flaky.fail_after("c号文件适用", 2, "503")
    report = await endpoint_kb.ingest([docs])
    assert (report.added, report.failed) == (4, 1)
    ((path, reason),) = report.failures
    assert Path(path).name == "c.txt" and reason.startswith("not indexed: embedding endpoint failed")
    assert "503" in reason and "after 2 attempts" in reason
    failed = await endpoint_kb.store.kb.get_document(doc_id_for("policies/c.txt"))
    assert failed.status == "failed" and failed.error == reason
    assert await endpoint_kb.store.kb.chunk_ids(failed.id) == []
    await assert_consistent(endpoint_kb)
    await assert_searchable(endpoint_kb, "abde")
    assert all(FACTS["c"] not in p.text for p in await endpoint_kb.search(FACTS["c"]))


async def test_rerunning_the_ingest_completes_only_what_was_missing_and_embeds_nothing_twice(
        endpoint_kb: KnowledgeBase, flaky: FlakyOpenAI, docs: Path) -> None:
    """After recovery the failed document is added from its missing chunks alone; every text reaches the endpoint once."""
    flaky.fail_after("c号文件适用", 2, "503")
    await endpoint_kb.ingest([docs])
    sent_before = len(flaky.embedded)
    report = await endpoint_kb.ingest([docs])
    assert (report.added, report.unchanged, report.failed, report.embedded) == (1, 4, 0, 3)
    assert len(flaky.embedded) - sent_before == 2  # c's first chunk was kept by the cache
    assert len(set(flaky.embedded)) == len(flaky.embedded)
    await assert_consistent(endpoint_kb)
    await assert_searchable(endpoint_kb, "abcde")


async def test_an_endpoint_that_stays_down_stops_the_ingest_after_three_documents(
        endpoint_kb: KnowledgeBase, flaky: FlakyOpenAI, docs: Path) -> None:
    """Three failures in a row: the rest is reported as not attempted, nothing is served, a rerun adds all."""
    flaky.fail_next(6, "503")
    report = await endpoint_kb.ingest([docs])
    reasons = [reason for _, reason in report.failures]
    assert report.failed == 5 and report.added == 0
    assert all(r.startswith("not indexed: embedding endpoint failed") for r in reasons[:3])
    assert all(r.startswith("not attempted:") and "run the ingest again" in r for r in reasons[3:])
    assert await endpoint_kb.store.kb.all_chunks() == []
    assert len([r for r in flaky.requests if r.path.endswith("/embeddings")]) == 1 + 6  # probe + 3 x 2 attempts
    again = await endpoint_kb.ingest([docs])
    assert (again.added, again.failed) == (5, 0)
    await assert_consistent(endpoint_kb)


async def test_a_document_whose_update_fails_to_embed_keeps_serving_its_previous_version(
        endpoint_kb: KnowledgeBase, flaky: FlakyOpenAI, docs: Path) -> None:
    """The old chunks and vectors stay; the document is marked failed; the next ingest applies the update."""
    await endpoint_kb.ingest([docs])
    (docs / "b.txt").write_text(_text("b", FACTS["b"].replace("3000", "3500")), encoding="utf-8")
    flaky.fail_next(2, "500")
    report = await endpoint_kb.ingest([docs])
    assert (report.failed, report.unchanged) == (1, 4)
    assert (await endpoint_kb.store.kb.get_document(doc_id_for("policies/b.txt"))).status == "failed"
    assert "3000元" in (await endpoint_kb.search("人才公寓补贴"))[0].text
    await assert_consistent(endpoint_kb)
    again = await endpoint_kb.ingest([docs])
    assert (again.updated, again.embedded) == (1, 1)
    assert "3500元" in (await endpoint_kb.search("人才公寓补贴"))[0].text
    await assert_consistent(endpoint_kb)


@pytest.mark.chroma_server
async def test_an_ingest_while_the_chroma_server_is_down_writes_nothing_and_resumes_after(
        chroma_process: ChromaProcess, tmp_path: Path, docs: Path) -> None:
    """Chroma unreachable: documents fail with a clear reason, no chunk enters SQL; after restart a rerun adds all."""
    settings = make_settings(tmp_path / "data", chroma_host=chroma_process.host, chroma_port=chroma_process.port,
                             chroma_collection=f"kb-{uuid.uuid4().hex[:8]}")
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    async with FlakyOpenAI(embedding_dim=8) as fake:
        kb = KnowledgeBase(settings, store, OpenAIEmbedder("fake-embedding", base_url=fake.base_url))
        kb.vectors.timeout = 1.0
        chroma_process.kill()
        report = await kb.ingest([docs])
        assert report.failed == 5 and "Chroma at http://127.0.0.1" in report.failures[0][1]
        assert await store.kb.all_chunks() == [] and fake.embedded == []
        await asyncio.to_thread(chroma_process.start)
        again = await kb.ingest([docs])
        assert (again.added, again.failed) == (5, 0)
        await assert_consistent(kb)
        await kb.close()
    await store.close()
