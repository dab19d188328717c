"""The text tools shared by answering and retrieval: language, sentences, weighted query terms and the one
jieba tokeniser (the lexical index in `knowledge.lexical` uses `tokenize`)."""
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

_BOTH = (  # stopwords of queries and of the lexical index alike
    "的 了 和 与 及 或 等 是 在 有 也 就 都 而 并 对 把 被 将 从 为 以 于 之 其 这 那 这个 那个 哪些 哪个 哪几个 几 几个 "
    "多少 什么 怎么 怎么样 怎样 如何 吗 呢 吧 啊 呀 么 请问 请 一下 我 我们 你 你们 他们 它 个 还 又 现在 目前 "
    "a an the of to in on for and or is are was were be been do does did how what which who whom when where why "
    "many much there this that these those it its with by at as from will would can could should about please "
    "me my our your you i we"
)
STOPWORDS = frozenset((_BOTH + " 可以 是否 有没有 能否 这些 那些 主要 一些 一个 多 项 家 种 每 吗？ 呢？ they").split())
"""What a query's weighted terms leave out (`query_terms`, `word_weight`)."""
INDEX_STOPWORDS = frozenset((
    _BOTH + " 及其 以及 向 为了 哪 他 她 要 会 能 可以 可 想 问 些 再 已 已经 中 上 下 里 s shall may might has have had "
    "doing done get got large big long often into over under than then so if not no yes tell their").split())
"""What the lexical index's tokens leave out (`tokenize`)."""
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
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


def tokenize(text: str) -> list[str]:
    """Content tokens of a text for the lexical index and its queries: jieba search-mode words, lowercased,
    no punctuation or stopwords (`INDEX_STOPWORDS`)."""
    words = (w.strip().lower() for w in _jieba().cut_for_search(text))
    return [w for w in words if w and _WORD.search(w) and w not in INDEX_STOPWORDS]
