"""Hybrid retrieval on the bundled document with the real local model, and freshness across processes."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from bot.ports import Retriever
from bot.store import Store
from bot.records import ChunkRecord, DocumentRecord
from knowledge import KnowledgeBase
from knowledge.retriever import rrf
from tests.knowledge.conftest import make_settings
from tests.knowledge.kb_fakes import HashEmbedder

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("question", "fact"), [
    ("青岛计划建设多少家概念验证平台？", "60家左右"),
    ("青岛的人才总量有多少？", "300万"),
    ("市级财政科技资金每年增长多少？", "15%以上"),
    ("How many proof-of-concept platforms does Qingdao plan to build?", "60家左右"),
])
async def test_hybrid_search_puts_the_passage_with_the_fact_first(seeded, question: str, fact: str) -> None:
    """The top passage for a seed-fact question contains the fact and scores as relevant."""
    _, _, kb = seeded
    passages = await kb.search(question)
    assert fact in passages[0].text
    assert passages[0].score >= 0.5


async def test_passages_carry_metadata_and_both_signals(seeded) -> None:
    """Passages keep title, section, source and position, with dense and lexical signals set."""
    _, _, kb = seeded
    passage = (await kb.search("概念验证平台", k=3))[0]
    assert passage.section.endswith("二是优化市场服务") and passage.source == "bundled/000_fc93bdf836211329.txt"
    assert 0.0 < passage.dense_score <= 1.0 and passage.lexical_score == 1.0
    assert 0.0 <= passage.score <= 1.0


async def test_off_topic_questions_score_below_the_relevance_bar(seeded) -> None:
    """A question the document does not cover gets a top score under 0.5."""
    _, _, kb = seeded
    passages = await kb.search("今天青岛天气怎么样？")
    assert max(p.score for p in passages) < 0.5


async def test_top_k_comes_from_the_settings_or_the_call(seeded) -> None:
    """Without k the search returns retrieval_top_k passages; with k, k of them."""
    settings, _, kb = seeded
    assert len(await kb.search("科技成果转化")) == settings.retrieval_top_k
    assert len(await kb.search("科技成果转化", k=2)) == 2


async def test_knowledge_base_is_a_retriever(seeded) -> None:
    """KnowledgeBase satisfies the core's Retriever port."""
    assert isinstance(seeded[2], Retriever)


def test_rrf_rewards_agreement_between_rankings() -> None:
    """An id ranked well by both lists beats ids ranked first by only one."""
    assert rrf([["a", "b"], ["c", "b"]]) == ["b", "a", "c"]


async def test_dense_hits_unknown_to_the_registry_are_dropped(hash_kb: KnowledgeBase, tmp_path: Path) -> None:
    """A vector without a chunk in SQL (e.g. a crashed ingest) never reaches the results."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("人才总量突破300万人。", encoding="utf-8")
    await hash_kb.ingest([tmp_path / "d"])
    orphan = HashEmbedder().embed_passages(["人才总量突破300万人！"])
    hash_kb.vectors.upsert(["orphan"], orphan)
    passages = await hash_kb.search_dense("人才总量突破300万人！", k=5)
    assert [p.chunk_id for p in passages] != [] and "orphan" not in {p.chunk_id for p in passages}


async def test_a_reingest_by_another_process_is_seen_without_restart(seeded) -> None:
    """After another process ingests a new file, the running knowledge base finds it within a second."""
    settings, _, kb = seeded
    assert "QD-7788" not in (await kb.search("海底隧道实验基地编号"))[0].text
    folder = settings.data_dir.parent / "extra"
    folder.mkdir()
    (folder / "tunnel.txt").write_text("青岛海底隧道实验基地的编号为QD-7788。", encoding="utf-8")
    await asyncio.to_thread(_ingest_in_another_process, settings.data_dir, folder)
    await asyncio.sleep(1.1)
    passages = await kb.search("海底隧道实验基地编号")
    assert "QD-7788" in passages[0].text
    assert "QD-7788" in (await kb.search_dense("海底隧道实验基地编号"))[0].text


def _ingest_in_another_process(data_dir: Path, folder: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from bot.settings import load_settings
        from bot.store import Store
        from knowledge import KnowledgeBase

        async def main():
            settings = load_settings(qdbot_data_dir=Path({str(data_dir)!r}), chroma_host=None, database_url=None)
            store = await Store.open(settings.db_url)
            kb = KnowledgeBase(settings, store)
            report = await kb.ingest([Path({str(folder)!r})])
            assert report.added == 1, report.summary()
            await kb.close()
            await store.close()

        asyncio.run(main())
    """)
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=120)


async def test_generation_change_made_through_the_store_is_picked_up(hash_kb: KnowledgeBase) -> None:
    """A chunk written straight to the registry (another writer) becomes searchable after a refresh."""
    assert await hash_kb.search_lexical("量子通信") == []
    doc = DocumentRecord(id="ext", title="外部", source="ext/x.txt", sha256="0", chunk_count=1)
    chunk = ChunkRecord(id="ext-1", doc_id="ext", position=0, title="外部", section="", source="ext/x.txt",
                        text="量子通信产业园已投入运营。")
    await hash_kb.store.kb_replace_document(doc, [chunk])
    await hash_kb.retriever.refresh(force=True)
    assert [p.chunk_id for p in await hash_kb.search_lexical("量子通信")] == ["ext-1"]


@pytest.mark.chroma_server
async def test_knowledge_base_works_against_a_chroma_server(chroma_server, tmp_path: Path) -> None:
    """With CHROMA_HOST set, ingest and hybrid search go through the `chroma run` server."""
    host, port = chroma_server
    settings = make_settings(tmp_path / "data", chroma_host=host, chroma_port=port,
                             chroma_collection=f"kb-{uuid.uuid4().hex[:8]}")
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    kb = KnowledgeBase(settings, store, HashEmbedder())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("一、人才\n人才总量突破300万人。\n二、海洋\n海洋生产总值增长6.1%。",
                                            encoding="utf-8")
    try:
        assert (await kb.ingest([tmp_path / "docs"])).added == 1
        assert "300万" in (await kb.search("人才总量"))[0].text
        assert kb.vectors.count() == 2
    finally:
        await kb.close()
        await store.close()
