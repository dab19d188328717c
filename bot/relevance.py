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

from bot import regions, synonyms
from bot.text import Term, detect_lang, query_terms
from bot.types import Passage

MIN_COVERAGE = 0.55  # share of the question's words in the top passages that suffices ...
WEAK_COVERAGE = 0.30  # ... down to this share when the meaning matches strongly (STRONG_SEMANTIC)
MIN_SEMANTIC = 0.15  # calibrated dense relevance below this: the passages are about something else ...
FULL_COVERAGE = 0.8  # ... unless nearly every word of the question is there
STRONG_SEMANTIC = 0.85
SITUATION_WEIGHT = 0.3  # numbers and counted things of a user's situation ("72岁", "一栋", "90天")
_SITUATION = re.compile(r"^(\d+(\.\d+)?[%％]?|[一二三四五六七八九十两几多\d]*[个位家栋所层天年岁件项名辆台间次月日号]|对方|本人|自己)$")
_QUOTED = re.compile(r"[“\"「『‘]([^”\"」』’]{2,24})[”\"」』’]")
COMMON_FLOOR = 0.4  # weight kept by a word every chunk has (rarity 0); a word no chunk has keeps all
LEFTOVER_ENGLISH = 0.25  # weight of an English word the glossary left untranslated
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


def content_terms(question: str) -> list[Term]:
    """The question's weighted content words, without the names of regions (the answer's region
    scope deals with those: `bot.scope`). English words that the glossary could not translate
    (in an expanded English question) count less: they are often just phrasing."""
    latin = detect_lang(question) == "en" or bool(re.search(r"[\u4e00-\u9fff]", question)) and \
        bool(re.search(r"[A-Za-z]{3,}", question))
    terms = []
    for t in query_terms(question):
        if regions.find_places(t.word):
            continue
        if latin and t.word.isascii():
            t = Term(t.word, t.weight * LEFTOVER_ENGLISH, False)
        elif _SITUATION.match(t.word):
            t = Term(t.word, min(t.weight, SITUATION_WEIGHT), False)
        terms.append(t)
    return terms


def quoted_unknown(question: str, known: Callable[[str], bool] | None) -> list[str]:
    """Names the user puts in quotes (“瞪羚企业”, "揭榜挂帅") that no document mentions: a named
    programme or title the knowledge base does not have."""
    if known is None:
        return []
    names = (m.group(1).strip() for m in _QUOTED.finditer(question))
    return [n for n in names if 2 <= len(n) <= 20 and not known(n)]


def coverage(question: str, passages: Sequence[Passage],
             known: Callable[[str], bool] | None = None,
             rarity: Callable[[str], float] | None = None) -> tuple[float, list[str]]:
    """Weighted share of content words present in the passages (an everyday word counts when the
    formal word it stands for is there: `bot.synonyms`), and the place names that are not regions
    and that neither the passages nor (when `known` is given) the rest of the knowledge base mention."""
    terms = content_terms(question)
    if rarity is not None:  # a word every document uses (企业, 规定) says little about the topic
        terms = [Term(t.word, t.weight * (COMMON_FLOOR + (1 - COMMON_FLOOR) * rarity(t.word)), t.entity)
                 for t in terms]
    total = sum(t.weight for t in terms)
    if not total:
        return 0.0, []
    haystack = " ".join(f"{p.title} {p.section} {p.text}" for p in passages).lower()
    lowered, everyday = question.lower(), synonyms.spans(question.lower())

    def present(word: str) -> bool:
        if word.isascii() and word.isalpha():  # Latin words match whole words only ("hi" is not in "phish")
            return re.search(rf"\b{re.escape(word)}\b", haystack) is not None
        return word in haystack or any(a in haystack for a in synonyms.alternatives(word, lowered, everyday))

    found = sum(t.weight for t in terms if present(t.word))
    missing = [t.word for t in terms if t.entity and not _mentioned(t.word, haystack, known)]
    return found / total, missing


def best_document_coverage(question: str, passages: Sequence[Passage],
                           known: Callable[[str], bool] | None = None,
                           rarity: Callable[[str], float] | None = None) -> tuple[float, list[str]]:
    """Coverage by the passages of one document (the best one): words found scattered over
    several documents ("科技型" in one law, "申请" in another) do not make an answer."""
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    best = max((coverage(question, group, known, rarity)[0], doc) for doc, group in by_doc.items())
    _, missing = coverage(question, passages, known)
    return best[0], missing


def judge(question: str, passages: Sequence[Passage], min_score: float,
          known: Callable[[str], bool] | None = None, expanded: str | None = None,
          rarity: Callable[[str], float] | None = None) -> Relevance:
    if not passages:
        return Relevance(False, 0.0, 0.0, "nothing retrieved")
    top = max(p.score for p in passages)
    if detect_lang(question) == "en":
        question = expanded or question
    # every passage the answer would quote counts (the caller passes the top k): the one that answers may
    # rank fourth behind passages that share only the topic
    cov, missing = best_document_coverage(question, passages, known, rarity)
    missing += quoted_unknown(question, known)
    semantic = max(p.semantic for p in passages)
    if missing:
        return Relevance(False, top, cov, f"not in the knowledge base: {', '.join(missing)}")
    if semantic < MIN_SEMANTIC and cov < FULL_COVERAGE:
        return Relevance(False, top, cov, "the passages are about something else (semantic match too weak)")
    if cov < WEAK_COVERAGE or cov < MIN_COVERAGE and semantic < STRONG_SEMANTIC:
        return Relevance(False, top, cov, "question words not found in the passages")
    if top < min_score:
        return Relevance(False, top, cov, "relevance score too low")
    return Relevance(True, top, cov, "ok")
