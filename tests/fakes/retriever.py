"""An in-memory Retriever over a list of passages (character-bigram overlap): the test double of the
`Retriever` port for answering tests that are not about retrieval itself."""
from __future__ import annotations

from dataclasses import replace

from bot.types import Passage


def _bigrams(text: str) -> set[str]:
    t = "".join(ch for ch in text.lower() if ch.isalnum())
    return {t[i:i + 2] for i in range(len(t) - 1)}


class MemoryRetriever:
    def __init__(self, texts: list[tuple[str, str]], title: str = "青岛测试政策"):
        self.passages = [Passage(chunk_id=f"c{i}", text=text, title=title, section=section, source="test.txt",
                                 doc_id="d1", score=0.0, position=i) for i, (section, text) in enumerate(texts)]
        self.queries: list[str] = []

    def mentions(self, word: str) -> bool:
        return any(word in p.text or word in p.title for p in self.passages)

    async def search(self, query: str, k: int | None = None) -> list[Passage]:
        self.queries.append(query)
        q = _bigrams(query)
        scored = []
        for p in self.passages:
            overlap = len(q & _bigrams(p.text)) / max(1, len(q))
            scored.append(replace(p, score=overlap, dense_score=0.5 + overlap / 2, lexical_score=overlap))
        scored.sort(key=lambda p: p.score, reverse=True)
        return [p for p in scored[: k or 5] if p.score > 0]
