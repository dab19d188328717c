"""The dense index: a Chroma collection of our own vectors (no Chroma embedding function).

Embedded (`PersistentClient` under data_dir/chroma) by default, or a `chroma run` server
(`HttpClient`, every request bounded by `HTTP_TIMEOUT`) when CHROMA_HOST is set. Every Chroma
failure is raised as `IndexUnavailableError`. The collection records the embedding model and the
vector size in its metadata and refuses vectors of another model. All methods block: call
them from a worker thread (`asyncio.to_thread`).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from bot.errors import IndexMismatchError, IndexUnavailableError
from bot.ports import Embedder
from bot.settings import Settings

_BATCH = 2000
_UPSERT_FLOATS = 400_000  # floats per upsert request: ~1 s for a server, well inside HTTP_TIMEOUT
HTTP_TIMEOUT = 5.0  # seconds a Chroma server may take to accept, read or answer one request


class VectorStore:
    """One Chroma collection, opened lazily and reopened on demand."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self.model_id = embedder.model_id
        self.name = settings.chroma_collection
        self.timeout = HTTP_TIMEOUT
        self._client: Any = None
        self._collection: Any = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        s = self.settings
        if s.chroma_host:
            return f"{'https' if s.chroma_ssl else 'http'}://{s.chroma_host}:{s.chroma_port}"
        return str(s.data_dir / "chroma")

    def _connect(self) -> Any:
        import chromadb

        s = self.settings
        try:
            if s.chroma_host:
                return self._http_client(s.chroma_host)
            (s.data_dir / "chroma").mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(s.data_dir / "chroma"))
        except Exception as exc:  # chromadb raises ValueError, httpx and Rust binding errors
            raise IndexUnavailableError(f"Chroma at {self.location} is unavailable: {exc}") from exc

    def _http_client(self, host: str) -> Any:
        """A server client whose requests time out (chromadb's own session never does)."""
        import chromadb
        import httpx

        timeout = httpx.Timeout(self.timeout, connect=min(2.0, self.timeout))
        # the client's first request has no timeout yet: check the server answers at all
        httpx.get(f"{self.location}/api/v2/heartbeat", timeout=timeout).raise_for_status()
        s = self.settings
        client = chromadb.HttpClient(host=host, port=s.chroma_port, ssl=s.chroma_ssl)
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = timeout
        return client

    def _open_collection(self, client: Any) -> Any:
        metadata = {"hnsw:space": "cosine", "embedding_model": self.model_id, "dim": self.embedder.dim}
        try:
            collection = client.get_or_create_collection(self.name, embedding_function=None, metadata=metadata)
        except Exception as exc:
            raise IndexUnavailableError(f"Chroma collection {self.name!r} at {self.location}: {exc}") from exc
        self._check_model(collection.metadata or {})
        return collection

    def _check_model(self, metadata: dict[str, Any]) -> None:
        model, dim = metadata.get("embedding_model"), metadata.get("dim")
        if model != self.model_id or (dim is not None and int(dim) != self.embedder.dim):
            raise IndexMismatchError(
                f"Chroma collection {self.name!r} at {self.location} holds vectors of model {model!r} "
                f"(dim {dim}), but the configured embedder is {self.model_id!r} (dim {self.embedder.dim}). "
                "Vectors of different models cannot be mixed: re-ingest into a new collection "
                "(set CHROMA_COLLECTION to a new name) or delete the old collection."
            )

    def collection(self) -> Any:
        """The open collection (connecting on first use)."""
        with self._lock:
            if self._collection is None:
                client = self._client or self._connect()
                self._collection = self._open_collection(client)
                self._client = client
            return self._collection

    def reopen(self, broken: bool = False) -> None:
        """Look the collection up again on the next call, to see what other processes wrote.

        The embedded client is reopened too (it caches what it read); a server client only
        when it is `broken` (a request failed), so in-flight searches are not cut off.
        """
        with self._lock:
            self._collection = None
            if self._client is None:
                return
            if not self.settings.chroma_host:
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient.clear_system_cache()
                self._client = None
            elif broken:
                client, self._client = self._client, None
                _close_quietly(client)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (IndexMismatchError, IndexUnavailableError):
            raise
        except Exception as exc:  # translate every Chroma failure at this boundary
            raise IndexUnavailableError(f"Chroma {what} failed at {self.location}: {exc}") from exc

    def upsert(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace vectors by id, in requests sized by the vector length."""
        step = max(50, min(_BATCH, _UPSERT_FLOATS // max(1, len(vectors[0]) if vectors else 1)))
        for start in range(0, len(ids), step):
            end = start + step
            self._call("upsert", self.collection().upsert, ids=list(ids[start:end]),
                       embeddings=[list(v) for v in vectors[start:end]])

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _BATCH):
            self._call("delete", self.collection().delete, ids=list(ids[start:start + _BATCH]))

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` that already have a vector."""
        found: set[str] = set()
        for start in range(0, len(ids), _BATCH):
            got = self._call("get", self.collection().get, ids=list(ids[start:start + _BATCH]), include=[])
            found.update(got["ids"])
        return found

    def count(self) -> int:
        return int(self._call("count", self.collection().count))

    def query(self, vector: Sequence[float], n: int) -> list[tuple[str, float]]:
        """The `n` nearest ids with their cosine similarity (1 - cosine distance), best first."""
        collection = self.collection()
        result = self._call("query", collection.query, query_embeddings=[list(vector)],
                            n_results=max(1, n), include=["distances"])
        ids, distances = result["ids"][0], result["distances"][0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances)]

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of those `ids` that have one."""
        got = self._call("get", self.collection().get, ids=list(ids), include=["embeddings"])
        return {cid: list(map(float, v)) for cid, v in zip(got["ids"], got["embeddings"])}


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception:  # a broken client may fail to close; it is dropped either way
        pass
