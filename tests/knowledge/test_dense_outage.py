"""The dense side going away mid-run: a `chroma run` server killed, hung or restarted, the query
embedder failing. Hybrid search answers from BM25 alone, says so once, and recovers by itself."""
from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bot.errors import IndexUnavailableError
from bot.store import Store
from knowledge import KnowledgeBase
from knowledge.embeddings import OpenAIEmbedder
from tests.fakes.openai_server import FakeOpenAI
from tests.knowledge.conftest import ChromaProcess, make_settings
from tests.knowledge.kb_fakes import HashEmbedder

QUESTION, FACT = "青岛计划建设多少家概念验证平台？", "60家左右"


@pytest.fixture
async def served_kb(chroma_process: ChromaProcess, tmp_path: Path):
    """The bundled document on a knowledge base whose Chroma is the test's own server."""
    settings = make_settings(tmp_path / "data", chroma_host=chroma_process.host, chroma_port=chroma_process.port,
                             chroma_collection=f"kb-{uuid.uuid4().hex[:8]}")
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    kb = KnowledgeBase(settings, store, HashEmbedder())
    kb.vectors.timeout = 1.0
    kb.retriever.health.retry_seconds = 0.3
    await kb.ingest()
    yield kb
    await kb.close()
    await store.close()


def _events(logs: list[dict], name: str) -> list[dict]:
    return [entry for entry in logs if entry["event"] == name]


async def _search_after_retry_window(kb: KnowledgeBase):
    await asyncio.sleep(kb.retriever.health.retry_seconds + 0.1)
    return await kb.search(QUESTION)


async def _search_until_dense(kb: KnowledgeBase, seconds: float = 15.0):
    """Search once per retry window until the dense side answers (a resumed server may be slow at first)."""
    deadline = time.monotonic() + seconds
    while True:
        passages = await _search_after_retry_window(kb)
        if passages[0].dense_score is not None or time.monotonic() > deadline:
            return passages


@pytest.mark.chroma_server
async def test_search_answers_from_bm25_while_the_chroma_server_is_down_and_recovers_when_it_returns(
        served_kb: KnowledgeBase, chroma_process: ChromaProcess) -> None:
    """Killed server: lexical answers, one warning, `degraded`; restarted on the same port: dense is back."""
    before = await served_kb.search(QUESTION)
    assert FACT in before[0].text and before[0].dense_score is not None and not served_kb.degraded
    chroma_process.kill()
    with capture_logs() as logs:
        during = [await served_kb.search(QUESTION) for _ in range(3)]
        during.append(await _search_after_retry_window(served_kb))
        with pytest.raises(IndexUnavailableError, match=f"127.0.0.1:{chroma_process.port}"):
            await served_kb.search_dense(QUESTION)  # no lexical side to fall back on: a clear error
    assert all(FACT in passages[0].text for passages in during)
    assert all(p.dense_score is None for passages in during for p in passages)
    assert served_kb.degraded and "Chroma" in served_kb.degraded_reason
    (warning,) = _events(logs, "dense_search_unavailable")
    assert warning["log_level"] == "warning" and warning["fallback"] == "lexical only"
    await asyncio.to_thread(chroma_process.start)
    with capture_logs() as logs:
        after = await _search_until_dense(served_kb)
    assert FACT in after[0].text and after[0].dense_score is not None and not served_kb.degraded
    assert len(_events(logs, "dense_search_recovered")) == 1
    assert await served_kb.search_dense(QUESTION) and served_kb.vectors.count() == 17


@pytest.mark.chroma_server
async def test_a_hung_chroma_server_costs_a_search_at_most_the_client_timeout(
        served_kb: KnowledgeBase, chroma_process: ChromaProcess) -> None:
    """A stopped (SIGSTOP) server times out after `timeout`; later searches skip it until the retry."""
    assert not served_kb.degraded and (await served_kb.search(QUESTION))[0].dense_score is not None
    os.kill(chroma_process.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        first = await served_kb.search(QUESTION)
        timed_out = time.monotonic() - started
        started = time.monotonic()
        await served_kb.search(QUESTION)
        skipped = time.monotonic() - started
    finally:
        os.kill(chroma_process.process.pid, signal.SIGCONT)
    assert FACT in first[0].text and served_kb.degraded
    assert 0.9 < timed_out < 4.0 and skipped < 0.5, (timed_out, skipped)
    assert (await _search_until_dense(served_kb))[0].dense_score is not None
    assert not served_kb.degraded


async def test_the_query_embedder_failing_degrades_search_to_bm25(kb_settings, kb_store: Store) -> None:
    """An embeddings endpoint failing at query time: lexical answers until the endpoint is back."""
    async with FakeOpenAI(api_key="sk-test", embedding_dim=8) as fake:
        embedder = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-test", max_retries=0)
        kb = KnowledgeBase(kb_settings, kb_store, embedder)
        kb.retriever.health.retry_seconds = 0.3
        await kb.ingest()
        fake.fail_next(1, "503")
        during = await kb.search(QUESTION)
        degraded, reason = kb.degraded, kb.degraded_reason
        after = await _search_after_retry_window(kb)
        await kb.close()
    assert FACT in during[0].text and during[0].dense_score is None
    assert degraded and "embedding endpoint failed" in reason
    assert after[0].dense_score is not None and not kb.degraded


async def test_an_embedded_knowledge_base_searches_both_sides_and_is_not_degraded(hash_kb: KnowledgeBase) -> None:
    """The PersistentClient path is unchanged: dense scores are set and nothing is degraded."""
    await hash_kb.ingest()
    passages = await hash_kb.search(QUESTION)
    assert FACT in passages[0].text and all(p.dense_score is not None for p in passages)
    assert not hash_kb.degraded and hash_kb.degraded_reason is None
