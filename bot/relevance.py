"""Is anything retrieved actually about the question? The gate before answering.

Two signals, both explainable in the console:
- the best dense similarity (cosine, from the retriever), and
- coverage: the weighted share of the question's content words found in the top passages
  (nouns and figures weigh most). A named place or organisation that none of the top passages
  mentions (e.g. another city) means the knowledge base does not cover the question.
Latin-script questions against Chinese passages have no lexical overlap, so they are judged on
the dense score alone, with a stricter bar.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.text import detect_lang, query_terms
from bot.types import Passage

MIN_COVERAGE = 0.55


@dataclass(frozen=True, slots=True)
class Relevance:
    relevant: bool
    top_score: float
    coverage: float
    reason: str


def coverage(question: str, passages: Sequence[Passage],
             known: Callable[[str], bool] | None = None) -> tuple[float, list[str]]:
    """Weighted share of content words present in the passages, and the named entities that neither
    the passages nor (when `known` is given) the rest of the knowledge base mention."""
    terms = query_terms(question)
    if not terms:
        return 0.0, []
    haystack = " ".join(f"{p.title} {p.section} {p.text}" for p in passages).lower()
    total = sum(t.weight for t in terms)
    found = sum(t.weight for t in terms if t.word in haystack)
    missing_entities = [t.word for t in terms if t.entity and t.word not in haystack
                        and not (known is not None and known(t.word))]
    return found / total, missing_entities


def judge(question: str, passages: Sequence[Passage], min_score: float,
          known: Callable[[str], bool] | None = None) -> Relevance:
    if not passages:
        return Relevance(False, 0.0, 0.0, "nothing retrieved")
    top = max((p.dense_score or 0.0) for p in passages)
    if detect_lang(question) == "en" and not any(c.isascii() and c.isalpha() for p in passages for c in p.text[:200]):
        ok = top >= min_score + 0.3
        return Relevance(ok, top, 0.0, "dense score (cross-lingual)" if ok else "dense score too low")
    cov, missing = coverage(question, passages[:3], known)
    if missing:
        return Relevance(False, top, cov, f"not in the knowledge base: {', '.join(missing)}")
    if cov < MIN_COVERAGE:
        return Relevance(False, top, cov, "question words not found in the passages")
    if top < min_score:
        return Relevance(False, top, cov, "dense score too low")
    return Relevance(True, top, cov, "ok")
