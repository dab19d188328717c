"""Is anything retrieved actually about the question? The gate before answering.

Signals, all explainable in the console:
- `score`: the retriever's calibrated relevance of the best passage (0..1), compared with
  RETRIEVAL_MIN_SCORE;
- coverage (Chinese questions): the weighted share of the question's content words found in the
  top passages (nouns and figures weigh most);
- a place name that no document mentions (e.g. another city) means the knowledge base does not
  cover the question. Country short forms in compounds (中日韩, 中德) count as mentions.
English questions against Chinese documents are judged on the retriever's score alone (its
lexical side translates known terms, its dense side is multilingual).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.text import detect_lang, query_terms
from bot.types import Passage

MIN_COVERAGE = 0.55
_SHORT = {"日本": "日", "俄罗斯": "俄", "新加坡": "新", "以色列": "以", "澳大利亚": "澳", "欧洲": "欧",
          "香港": "港", "澳门": "澳", "台湾": "台", "非洲": "非", "东盟": "东盟"}
_PARTNERS = "中鲁青日韩美德法英俄新以澳欧港台非"


@dataclass(frozen=True, slots=True)
class Relevance:
    relevant: bool
    top_score: float
    coverage: float
    reason: str


def _short_form(place: str) -> str | None:
    if place in _SHORT:
        return _SHORT[place]
    return place[0] if len(place) == 2 and place.endswith("国") else None


def _mentioned(place: str, haystack: str, known: Callable[[str], bool] | None) -> bool:
    if place in haystack or (known is not None and known(place)):
        return True
    short = _short_form(place)
    return bool(short and re.search(f"[{_PARTNERS}]{short}|{short}[{_PARTNERS}]", haystack))


def coverage(question: str, passages: Sequence[Passage],
             known: Callable[[str], bool] | None = None) -> tuple[float, list[str]]:
    """Weighted share of content words present in the passages, and the place names that neither
    the passages nor (when `known` is given) the rest of the knowledge base mention."""
    terms = query_terms(question)
    if not terms:
        return 0.0, []
    haystack = " ".join(f"{p.title} {p.section} {p.text}" for p in passages).lower()
    total = sum(t.weight for t in terms)
    found = sum(t.weight for t in terms if t.word in haystack)
    missing = [t.word for t in terms if t.entity and not _mentioned(t.word, haystack, known)]
    return found / total, missing


def judge(question: str, passages: Sequence[Passage], min_score: float,
          known: Callable[[str], bool] | None = None) -> Relevance:
    if not passages:
        return Relevance(False, 0.0, 0.0, "nothing retrieved")
    top = max(p.score for p in passages)
    if detect_lang(question) == "en":
        ok = top >= min_score
        return Relevance(ok, top, 0.0, "ok" if ok else "relevance score too low")
    cov, missing = coverage(question, passages[:3], known)
    if missing:
        return Relevance(False, top, cov, f"not in the knowledge base: {', '.join(missing)}")
    if cov < MIN_COVERAGE:
        return Relevance(False, top, cov, "question words not found in the passages")
    if top < min_score:
        return Relevance(False, top, cov, "relevance score too low")
    return Relevance(True, top, cov, "ok")
