"""Small real embedders for the knowledge tests (no mocks): a fast hashing one and a counting E5;
and a FakeOpenAI that fails when a given text reaches its embeddings endpoint."""
from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from aiohttp import web

from knowledge.embeddings import LocalE5Embedder
from tests.fakes.openai_server import BODY, FakeOpenAI


class HashEmbedder:
    """Deterministic bag-of-character-bigram vectors: offline, instant, similar texts score close."""

    model_id = "test/hash-bigrams"
    dim = 64

    def __init__(self) -> None:
        self.passage_calls = 0
        self.embedded: list[str] = []

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for a, b in zip(text, text[1:]):
            slot = int.from_bytes(hashlib.md5((a + b).encode()).digest()[:4], "big") % self.dim
            vector[slot] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.passage_calls += 1
        self.embedded.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class OtherModelEmbedder(HashEmbedder):
    """The same vectors under another model name, to provoke a model mismatch."""

    model_id = "test/other-model"


class CountingE5Embedder(LocalE5Embedder):
    """The real local model, counting the passages it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return super().embed_passages(texts)


class FlakyOpenAI(FakeOpenAI):
    """FakeOpenAI that records the texts it embedded and can start failing after a chosen text."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embedded: list[str] = []
        self._trigger: tuple[str, int, str] | None = None

    def fail_after(self, marker: str, n: int, kind: str) -> None:
        """Once a text containing `marker` has been embedded, fail the next `n` requests with `kind`."""
        self._trigger = (marker, n, kind)

    async def _embeddings(self, request: web.Request) -> web.Response:
        texts = _inputs(request[BODY])
        self.embedded.extend(texts)
        if self._trigger and any(self._trigger[0] in text for text in texts):
            _, n, kind = self._trigger
            self._trigger = None
            self.fail_next(n, kind)
        return await super()._embeddings(request)


def _inputs(body: dict) -> list[str]:
    items = body.get("input")
    return [items] if isinstance(items, str) else [i for i in items or [] if isinstance(i, str)]
