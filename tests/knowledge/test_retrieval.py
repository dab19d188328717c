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
    await hash_kb.store.kb.replace_document(doc, [chunk])
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


async def _policy_library(kb: KnowledgeBase, folder: Path) -> None:
    folder.mkdir()
    for i, topic in enumerate(["人才引进补贴", "概念验证平台建设", "专利转化奖励", "孵化器认定办法", "科技金融基金"]):
        lines = [f"第{n}条 {topic}的第{n}项规定：企业申请{topic}，应当提交材料{n}份。" for n in range(1, 13)]
        (folder / f"doc{i}.txt").write_text("\n".join(lines), encoding="utf-8")
    await kb.ingest([folder])


async def test_searches_read_no_chunk_from_the_database(hash_kb: KnowledgeBase, tmp_path: Path) -> None:
    """The chunk records of the current generation are in memory: hybrid, dense and BM25 searches ask
    the database at most for the generation number."""
    from sqlalchemy import event

    await _policy_library(hash_kb, tmp_path / "lib")
    await hash_kb.search("人才引进补贴怎么申请")
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 (conn, cursor, statement, ...)
    event.listen(hash_kb.store.engine.sync_engine, "before_cursor_execute", listener)
    try:
        await hash_kb.retriever.refresh(force=True)
        for question in ("专利转化奖励多少", "孵化器认定需要什么材料", "科技金融基金"):
            assert await hash_kb.search(question, k=30)
            assert await hash_kb.search_dense(question) and await hash_kb.search_lexical(question)
    finally:
        event.remove(hash_kb.store.engine.sync_engine, "before_cursor_execute", listener)
    assert statements and all("kb_state" in s and "kb_chunks" not in s for s in statements)


async def test_lexical_hits_get_their_true_cosine_and_their_vector_is_fetched_once(
        hash_kb: KnowledgeBase, tmp_path: Path) -> None:
    """Every passage's dense score is the cosine of the question and the chunk's stored vector, also
    for chunks only BM25 found (Chroma reports its own hits in float32); asking again fetches no
    vector from Chroma."""
    import numpy as np

    await _policy_library(hash_kb, tmp_path / "lib")
    hash_kb.retriever.candidates = 3  # few dense hits: most of the 30 passages are BM25's alone
    real, fetched = hash_kb.vectors.vectors, []

    def counting(ids):
        fetched.extend(ids)
        return real(ids)

    hash_kb.vectors.vectors = counting
    question = "企业申请专利转化奖励应当提交材料"
    passages = await hash_kb.search(question, k=30)
    stored = real([p.chunk_id for p in passages])
    q = np.asarray(HashEmbedder().embed_query(question))
    for p in passages:
        v = np.asarray(stored[p.chunk_id])
        assert p.dense_score == pytest.approx(float(q @ v / np.linalg.norm(q) / np.linalg.norm(v)), abs=1e-5)
    assert len(passages) == 30 and fetched
    fetched.clear()
    assert [p.chunk_id for p in await hash_kb.search(question, k=30)] == [p.chunk_id for p in passages]
    assert fetched == []
