"""The Chroma collection, embedded and as a `chroma run` server: ids, cosine, model guard."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.errors import IndexMismatchError, IndexUnavailableError
from knowledge.vectorstore import VectorStore
from tests.knowledge.conftest import make_settings
from tests.knowledge.kb_fakes import HashEmbedder, OtherModelEmbedder


def _embedded(tmp_path: Path, embedder=None) -> VectorStore:
    return VectorStore(make_settings(tmp_path / "data"), embedder or HashEmbedder())


def _served(server: tuple[str, int], collection: str, embedder=None) -> VectorStore:
    host, port = server
    settings = make_settings(Path("unused"), chroma_host=host, chroma_port=port, chroma_collection=collection)
    return VectorStore(settings, embedder or HashEmbedder())


def _exercise(store: VectorStore) -> None:
    """Upsert, query (cosine = 1 - distance), membership and delete by id."""
    embedder = HashEmbedder()
    texts = {"a": "概念验证平台60家左右", "b": "人才总量突破300万人", "c": "海洋生产总值增长6.1%"}
    store.upsert(list(texts), embedder.embed_passages(list(texts.values())))
    hits = store.query(embedder.embed_query("人才总量突破300万人"), 2)
    assert hits[0][0] == "b" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert store.existing(["a", "zz"]) == {"a"}
    store.delete(["b"])
    assert store.count() == 2 and "b" not in {cid for cid, _ in store.query(embedder.embed_query("人才"), 5)}


def test_embedded_collection_upserts_queries_and_deletes(tmp_path: Path) -> None:
    """The embedded (PersistentClient) collection stores our vectors and returns cosine similarity."""
    _exercise(_embedded(tmp_path))


def test_collection_records_model_and_cosine_space(tmp_path: Path) -> None:
    """The collection metadata names the embedding model, its dimension and the cosine space."""
    metadata = _embedded(tmp_path).collection().metadata
    assert metadata == {"hnsw:space": "cosine", "embedding_model": "test/hash-bigrams", "dim": 64}


def test_opening_with_another_model_raises_mismatch(tmp_path: Path) -> None:
    """A collection made by one model refuses another one, telling to re-ingest into a new collection."""
    _embedded(tmp_path).collection()
    with pytest.raises(IndexMismatchError, match="re-ingest into a new collection"):
        _embedded(tmp_path, OtherModelEmbedder()).collection()


def test_unreachable_server_raises_index_unavailable() -> None:
    """A CHROMA_HOST nobody listens on raises IndexUnavailableError."""
    store = _served(("127.0.0.1", 9), "nowhere")
    with pytest.raises(IndexUnavailableError, match="unavailable"):
        store.collection()


@pytest.mark.chroma_server
def test_server_collection_upserts_queries_and_deletes(chroma_server) -> None:
    """Against a real `chroma run` server the same operations behave the same."""
    _exercise(_served(chroma_server, f"t-{uuid.uuid4().hex[:8]}"))


@pytest.mark.chroma_server
def test_server_collection_refuses_another_model(chroma_server) -> None:
    """The model guard also holds for a collection on the server."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    _served(chroma_server, name).collection()
    with pytest.raises(IndexMismatchError):
        _served(chroma_server, name, OtherModelEmbedder()).collection()
