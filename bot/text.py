"""Small text tools shared by answering and retrieval: language, sentences, weighted query terms."""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]*[”」』）)]*|\n")
_jieba_lock = threading.Lock()
_jieba_ready = False

STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 么 和 与 及 或 是 在 有 对 把 被 将 为 也 都 就 还 又 而 并 等 这 那 其 之 以 于 从 "
    "什么 怎么 怎样 怎么样 如何 哪些 哪个 哪几个 几个 多少 是否 有没有 能否 可以 一下 请问 请 我 我们 你 你们 "
    "他们 它 这个 那个 这些 那些 现在 目前 主要 一些 一个 多 几 个 项 家 种 每 吗？ 呢？ "
    "a an the of to in on for and or is are was were be been do does did how what which who whom "
    "why when where many much there this that these those it its i we you they me my our your "
    "please can could would should will with about from by as at".split()
)
_ENTITY_TAGS = ("ns",)  # place names: the knowledge base is about one city
_WEIGHTS = {"ns": 0.3, "n": 1.0, "m": 1.0, "vn": 0.8, "v": 0.5, "a": 0.4}  # place names are context


def _jieba() -> Any:  # jieba ships no types
    """jieba, initialised once and quietly (it logs its dictionary load otherwise)."""
    global _jieba_ready
    import jieba
    import jieba.posseg

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def detect_lang(text: str) -> str:
    """'zh' when the text has Chinese characters in it, 'en' when it is Latin script, else 'zh'."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0 and latin > 0:
        return "en"
    return "zh"


def split_sentences(text: str) -> list[str]:
    """Sentences with their closing punctuation; never cuts inside one."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


@dataclass(frozen=True, slots=True)
class Term:
    word: str
    weight: float
    entity: bool


def _weight(word: str, flag: str) -> float:
    if word.lower() in STOPWORDS or not word.strip() or not re.search(r"\w", word):
        return 0.0
    if flag == "eng":
        return 1.0
    return _WEIGHTS.get(flag[:2], _WEIGHTS.get(flag[:1], 0.3))


def word_weight(word: str, flag: str) -> float:
    """How much a word of this part of speech counts as content (0: a stopword or punctuation)."""
    return _weight(word.strip().lower(), flag)


def pos_words(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs in reading order (jieba)."""
    _jieba()
    import jieba.posseg

    return [(p.word, p.flag) for p in jieba.posseg.lcut(text) if p.word.strip()]


@lru_cache(maxsize=4096)
def query_terms(text: str) -> tuple[Term, ...]:
    """The content words of a query with weights (nouns and figures count most) and entity flags."""
    jieba = _jieba()
    seen: dict[str, Term] = {}
    for pair in jieba.posseg.lcut(text):
        word, flag = pair.word.strip().lower(), pair.flag
        w = _weight(word, flag)
        if w > 0 and word not in seen:
            seen[word] = Term(word, w, flag in _ENTITY_TAGS)
    return tuple(seen.values())


def tokens(text: str) -> list[str]:
    """Lower-cased content tokens for overlap scoring (jieba search mode, stopwords removed)."""
    jieba = _jieba()
    return [t.lower() for t in jieba.lcut_for_search(text) if t.strip() and t.lower() not in STOPWORDS
            and re.search(r"\w", t)]
