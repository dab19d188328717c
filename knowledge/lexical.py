"""The lexical index: jieba tokens in a bm25s index, persisted under data_dir/bm25/.

Tokens are jieba's search-mode words, lowercased, without punctuation and stopwords (English
words are kept). Each saved index carries the chunk ids it covers and the registry generation
it was built from; a reader rebuilds it when the generation moved on.

`coverage` is the relevance signal used for thresholding: the IDF-weighted fraction of the
query's content tokens that occur in a passage (1.0: every query word is there).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.text import tokenize

RARITY_CACHE = 50_000  # words whose rarity is remembered per index (the gate asks for each question word)


def idf(df: int, n_docs: int) -> float:
    """BM25's IDF; a word found in no chunk gets the highest weight."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class LexicalIndex:
    """A BM25 index over chunk texts, with document frequencies for the coverage signal."""

    def __init__(self, ids: Sequence[str], generation: int, retriever: Any = None, df: dict[str, int] | None = None,
                 docs: Sequence[str] | None = None):
        self.ids = list(ids)
        self.generation = generation
        self._bm25 = retriever
        self._df = df or {}
        self.docs = list(docs) if docs is not None and len(docs) == len(self.ids) else [""] * len(self.ids)
        self._doc_array = np.asarray(self.docs, dtype=object)
        self._rarity: dict[str, float] = {}  # per index (a new generation starts empty)

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], generation: int,
              docs: Sequence[str] | None = None) -> LexicalIndex:
        """Tokenise and index `texts` (one per id; `docs`: the document id of each)."""
        import bm25s

        tokens = [tokenize(t) for t in texts]
        df = Counter(w for toks in tokens for w in set(toks))
        retriever = None
        if ids:
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
        return cls(ids, generation, retriever, dict(df), docs)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """The best `n` chunk ids by BM25 score (only those sharing a token with the query)."""
        tokens = tokenize(query)
        if not tokens or self._bm25 is None:
            return []
        scores = self._bm25.get_scores(tokens)
        return [(self.ids[i], float(scores[i])) for i in _best(scores, np.flatnonzero(scores > 0), n)]

    def search_within(self, query: str, doc_ids: set[str], n: int) -> list[tuple[str, float]]:
        """The best `n` chunks of the given documents by BM25 score (e.g. a document the question names)."""
        tokens = tokenize(query)
        if not tokens or self._bm25 is None or not doc_ids:
            return []
        scores = np.where(np.isin(self._doc_array, list(doc_ids)), self._bm25.get_scores(tokens), 0.0)
        ranked = np.argsort(-scores)[:n]
        return [(self.ids[i], float(scores[i])) for i in ranked if scores[i] > 0]

    def query_weights(self, query: str) -> dict[str, float]:
        """The query's content tokens with their IDF over the indexed chunks."""
        n_docs = max(len(self.ids), 1)
        return {t: idf(self._df.get(t, 0), n_docs) for t in set(tokenize(query))}

    def rarity(self, word: str) -> float:
        """How rare a word is in the indexed chunks, 0..1 (its tokens' mean IDF over the largest
        possible IDF; a word no chunk has is 1.0). Common words (企业, 规定) weigh little."""
        known = self._rarity.get(word)
        if known is not None:
            return known
        tokens = tokenize(word)
        n_docs = max(len(self.ids), 1)
        top = idf(0, n_docs)
        value = sum(idf(self._df.get(t, 0), n_docs) for t in tokens) / len(tokens) / top if tokens and top else 1.0
        if len(self._rarity) < RARITY_CACHE:
            self._rarity[word] = value
        return value

    def mentions(self, word: str) -> bool:
        """True when every content token of `word` occurs in some indexed chunk."""
        tokens = tokenize(word)
        return bool(tokens) and all(t in self._df for t in tokens)

    @staticmethod
    def coverage(weights: dict[str, float], text: str, *, lowered: bool = False) -> float:
        """IDF-weighted share of the query tokens (`query_weights`) found in `text` (0..1); `lowered`:
        the text is lowercased already."""
        total = sum(weights.values())
        if not total:
            return 0.0
        haystack = text if lowered else text.lower()
        return sum(w for t, w in weights.items() if t in haystack) / total

    def save(self, root: Path) -> None:
        """Write the index into a fresh folder, then point root/CURRENT at it atomically."""
        root.mkdir(parents=True, exist_ok=True)
        name = f"g{self.generation}-{uuid.uuid4().hex[:8]}"
        folder = root / name
        folder.mkdir()
        if self._bm25 is not None:
            self._bm25.save(str(folder), show_progress=False)
        meta = {"generation": self.generation, "ids": self.ids, "df": self._df, "docs": self.docs}
        (folder / "chunks.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp = root / f"CURRENT.{name}"
        tmp.write_text(name, encoding="utf-8")
        os.replace(tmp, root / "CURRENT")
        _remove_others(root, keep=name)

    @classmethod
    def load(cls, root: Path) -> LexicalIndex | None:
        """The saved index, or None when there is none or it cannot be read."""
        import bm25s

        try:
            folder = root / (root / "CURRENT").read_text(encoding="utf-8").strip()
            meta = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
            if "docs" not in meta:  # an index of an older format: rebuilt by the caller
                return None
            retriever = bm25s.BM25.load(str(folder), show_progress=False) if meta["ids"] else None
        except (OSError, ValueError, KeyError):
            return None
        return cls(meta["ids"], int(meta["generation"]), retriever, meta["df"], meta.get("docs"))


def _best(scores: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """The `n` best of the `candidates` (indexes into `scores`), best first; equal scores in index
    order. A large candidate set is first cut to those scoring at least a threshold read off every
    `step`-th candidate, chosen so that about 2n pass; when fewer than n pass, all are kept, so the
    result is exact either way (partitioning 100k scores costs ~1 ms, this a tenth of it)."""
    step = max(1, n // 4)
    if len(candidates) > 64 * n and step > 1:
        sample = scores[candidates[::step]]
        rank = min(len(sample), 2 * n // step)
        threshold = np.partition(sample, len(sample) - rank)[len(sample) - rank]
        passed = candidates[scores[candidates] >= threshold]
        if len(passed) >= n:
            candidates = passed
    if len(candidates) > n:  # every candidate scoring at least the n-th best (ties included)
        values = scores[candidates]
        candidates = candidates[values >= np.partition(values, len(values) - n)[len(values) - n]]
    return candidates[np.lexsort((candidates, -scores[candidates]))][:n]


def _remove_others(root: Path, keep: str) -> None:
    """Best-effort removal of older index folders (another process may still be reading one)."""
    for child in root.iterdir():
        if child.is_dir() and child.name != keep:
            shutil.rmtree(child, ignore_errors=True)
