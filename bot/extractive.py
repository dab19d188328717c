"""Extractive answers: the sentences of the top passages that best match the question, verbatim,
with citations, plainly labelled as excerpts. Used when no LLM is configured or the LLM fails."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import prompts
from bot.ports import Embedder
from bot.text import query_terms, split_sentences
from bot.types import Citation, Passage

MAX_SENTENCES = 3
KEEP_MARGIN = 0.12  # sentences within this much of the best one are kept too
SHORT_SENTENCE = 24  # a sentence this short (a heading like 二是…。) brings the next one along
PASSAGES_CONSIDERED = 5


@dataclass(frozen=True, slots=True)
class Candidate:
    passage_index: int
    order: int
    sentence: str
    score: float


def _lexical(question: str, sentence: str) -> float:
    terms = query_terms(question)
    total = sum(t.weight for t in terms)
    if not total:
        return 0.0
    s = sentence.lower()
    return sum(t.weight for t in terms if t.word in s) / total


def _dense(question: str, sentences: list[str], embedder: Embedder | None) -> list[float]:
    if embedder is None or not sentences:
        return [0.0] * len(sentences)
    q = np.asarray(embedder.embed_query(question), dtype=np.float32)
    m = np.asarray(embedder.embed_passages(sentences), dtype=np.float32)
    return [float(x) for x in m @ q]


def _normalised(values: list[float]) -> list[float]:
    lo, hi = min(values, default=0.0), max(values, default=0.0)
    return [(v - lo) / (hi - lo) if hi > lo else 0.0 for v in values]


def _candidates(question: str, passages: Sequence[Passage], embedder: Embedder | None,
                lexical_query: str | None = None) -> list[Candidate]:
    """Every sentence of the top passages, scored by word overlap and (relative) dense similarity.
    `lexical_query` is the question as the lexical index sees it (e.g. English terms translated)."""
    items = [(i, j, s) for i, p in enumerate(passages[:PASSAGES_CONSIDERED])
             for j, s in enumerate(split_sentences(p.text)) if len(s) >= 6]
    dense = _normalised(_dense(question, [s for _, _, s in items], embedder))
    words = lexical_query or question
    return [Candidate(i, j, s, 0.6 * _lexical(words, s) + 0.4 * d - 0.03 * i)
            for (i, j, s), d in zip(items, dense)]


def _with_followers(chosen: list[Candidate], all_: list[Candidate]) -> list[Candidate]:
    """A short heading-like sentence is useless alone: add the sentence after it."""
    by_pos = {(c.passage_index, c.order): c for c in all_}
    extra = [by_pos[(c.passage_index, c.order + 1)] for c in chosen
             if len(c.sentence) <= SHORT_SENTENCE and (c.passage_index, c.order + 1) in by_pos]
    return list({(c.passage_index, c.order): c for c in chosen + extra}.values())


def select_sentences(question: str, passages: Sequence[Passage], embedder: Embedder | None = None,
                     lexical_query: str | None = None) -> list[Candidate]:
    """The best sentence and those close to it (at most MAX_SENTENCES), in reading order."""
    candidates = _candidates(question, passages, embedder, lexical_query)
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    if not ranked:
        return []
    best = ranked[0].score
    chosen = [c for c in ranked[:MAX_SENTENCES] if c.score >= best - KEEP_MARGIN]
    return sorted(_with_followers(chosen, candidates), key=lambda c: (c.passage_index, c.order))


def citation_for(p: Passage, snippet: str | None = None) -> Citation:
    return Citation(title=p.title, section=p.section, source=p.source, snippet=snippet or p.text,
                    chunk_id=p.chunk_id, score=p.score)


def build(question: str, passages: Sequence[Passage], lang: str, embedder: Embedder | None = None,
          lexical_query: str | None = None) -> tuple[str, tuple[Citation, ...]]:
    """The labelled excerpt answer and its citations, numbered [1], [2] in order of first use."""
    chosen = select_sentences(question, passages, embedder, lexical_query)
    numbers: dict[int, int] = {}
    lines: list[str] = []
    for cand in chosen:
        n = numbers.setdefault(cand.passage_index, len(numbers) + 1)
        lines.append(f"{cand.sentence} [{n}]")
    cites = tuple(citation_for(passages[i]) for i, _ in sorted(numbers.items(), key=lambda kv: kv[1]))
    body = "\n".join(lines)
    return f"{prompts.text(lang, 'extractive_intro')}\n{body}\n{prompts.text(lang, 'extractive_label')}", cites


def render_sources(citations: Sequence[Citation], lang: str) -> str:
    """A plain-text source list for channels without rich citations."""
    if not citations:
        return ""
    rows = [f"[{i}] 《{c.title}》" + (f" {c.section}" if c.section else "") for i, c in enumerate(citations, 1)]
    return prompts.text(lang, "sources_header") + "\n" + "\n".join(rows)
