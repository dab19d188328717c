"""The dashboard's figures for a period, and the handoff SLA figures (pure core, no HTTP).

    messages per day by channel (user messages, local days), unique users, answered / not answered,
    answers by mode, handoffs with the median wait to claim, feedback 👍/👎, answer latency p50/p95,
    top topics (the most frequent content words of the questions, place names aside)

SLA, over the tickets opened in the period: median time from queueing to claim, to the manager's first
reply, and to resolution.
"""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.privacy import mask
from bot.states import TicketState
from bot.store import Store
from bot.records import TicketRecord
from bot.text import pos_words, word_weight

TOPIC_MIN_WEIGHT = 0.8


@dataclass(frozen=True, slots=True)
class Sla:
    tickets: int = 0
    claimed: int = 0
    resolved: int = 0
    expired: int = 0
    cancelled: int = 0
    median_wait_to_claim_s: float | None = None
    median_first_response_s: float | None = None
    median_resolution_s: float | None = None


@dataclass(frozen=True, slots=True)
class Dashboard:
    since: datetime
    until: datetime
    days: list[str]
    per_day: dict[str, list[int]]  # channel -> user messages for each of `days`
    messages: int
    unique_users: int
    answered: int
    not_answered: int
    by_mode: dict[str, int]
    feedback_up: int
    feedback_down: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    sla: Sla
    top_topics: list[tuple[str, int]] = field(default_factory=list)

    @property
    def answered_rate(self) -> float | None:
        total = self.answered + self.not_answered
        return self.answered / total if total else None

    @property
    def feedback_ratio(self) -> float | None:
        """Share of 👍 among rated answers."""
        total = self.feedback_up + self.feedback_down
        return self.feedback_up / total if total else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(since=self.since.isoformat(), until=self.until.isoformat(), answered_rate=self.answered_rate,
                    feedback_ratio=self.feedback_ratio, top_topics=[list(t) for t in self.top_topics],
                    handoffs=self.sla.tickets, median_wait_s=self.sla.median_wait_to_claim_s)
        return data


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _median_seconds(spans: Iterable[tuple[datetime | None, datetime | None]]) -> float | None:
    values = [(b - a).total_seconds() for a, b in spans if a is not None and b is not None and b >= a]
    return round(statistics.median(values), 1) if values else None


def sla(tickets: Sequence[TicketRecord]) -> Sla:
    queued = [t for t in tickets if t.waiting_since is not None]
    states = Counter(t.state for t in tickets)
    return Sla(
        tickets=len(queued), claimed=sum(1 for t in queued if t.claimed_at), resolved=states[TicketState.RESOLVED],
        expired=states[TicketState.EXPIRED], cancelled=states[TicketState.CANCELLED],
        median_wait_to_claim_s=_median_seconds((t.waiting_since, t.claimed_at) for t in queued),
        median_first_response_s=_median_seconds((t.waiting_since, t.first_response_at) for t in queued),
        median_resolution_s=_median_seconds((t.waiting_since, t.resolved_at) for t in queued if t.state == TicketState.RESOLVED),
    )


_NAMES = ("ns", "nr", "nrfg", "nrt")  # place and person names are never topics
_QUESTION_NOUNS = frozenset("时候 情况 方面 问题 东西 事情 哪里 地方 时间 内容 具体".split())


def _phrase_word(word: str, flag: str) -> bool:
    """Nouns (not place names), verbal nouns and English words that are not stopwords or personal data."""
    kind = flag.startswith("n") and flag not in _NAMES or flag in ("vn", "eng")
    return kind and word not in _QUESTION_NOUNS and word_weight(word, flag) > 0 and not _personal(word)


def _personal(word: str) -> bool:
    """Phone numbers, e-mails, ID numbers and long figures are never topics."""
    return mask(word) != word or (sum(c.isdigit() for c in word) >= 6)


def phrases(question: str) -> set[str]:
    """The question's topic phrases: runs of adjacent content words, a verb counted in between two of
    them (概念 验证 平台 -> 概念验证平台); place and person names, question words, stopwords and
    personal data aside; single characters are not topics."""
    words = pos_words(question[:300])
    found: set[str] = set()
    run: list[str] = []
    for i, (word, flag) in enumerate(words):
        inner_verb = flag == "v" and run and i + 1 < len(words) and _phrase_word(*words[i + 1])
        if _phrase_word(word, flag) or inner_verb:
            run.append(word)
            continue
        if run:
            found.add("".join(run))
        run = []
    if run:
        found.add("".join(run))
    return {p for p in found if len(p) > 1}


def top_topics(questions: Iterable[str], n: int = 12) -> list[tuple[str, int]]:
    """The most frequent topic phrases of the questions (each counted once per question)."""
    counts: Counter[str] = Counter()
    for q in questions:
        if not q.startswith("/"):
            counts.update(phrases(q))
    return counts.most_common(n)


def local_days(since: datetime, until: datetime, tz: str) -> list[str]:
    zone = ZoneInfo(tz)
    first, last = since.astimezone(zone).date(), (until - timedelta(microseconds=1)).astimezone(zone).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)] if last >= first else []


def _per_day(rows: list[tuple[str, str, int]], days: list[str]) -> dict[str, list[int]]:
    index = {d: i for i, d in enumerate(days)}
    out: dict[str, list[int]] = {}
    for day, channel, n in rows:
        if day in index:
            out.setdefault(channel, [0] * len(days))[index[day]] += n
    return out


async def build(store: Store, since: datetime, until: datetime, tz: str) -> Dashboard:
    """Every figure of the dashboard for [since, until)."""
    stats = store.console.stats
    days = local_days(since, until, tz)
    per_day = _per_day(await stats.messages_per_day(since, until, tz), days)
    answers = await stats.answers(since, until)
    feedback = await stats.feedback(since, until)
    latencies = await stats.latencies(since, until)
    by_mode: Counter[str] = Counter()
    for (mode, no_answer), n in answers.items():
        if not no_answer:
            by_mode[mode] += n
    return Dashboard(
        since=since, until=until, days=days, per_day=per_day, messages=sum(sum(v) for v in per_day.values()),
        unique_users=await stats.unique_users(since, until), answered=sum(by_mode.values()),
        not_answered=sum(n for (_, na), n in answers.items() if na), by_mode=dict(by_mode),
        feedback_up=feedback.get("up", 0), feedback_down=feedback.get("down", 0),
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
        sla=sla(await stats.tickets(since, until)), top_topics=top_topics(await stats.questions(since, until)),
    )


def period(days: int, tz: str, now: datetime) -> tuple[datetime, datetime]:
    """The last `days` local days up to now (today included)."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=max(days, 1) - 1), datetime.min.time(), zone)
    return start, now


def parse_day(value: str | None, tz: str) -> datetime | None:
    """The start of a local day given as YYYY-MM-DD; None when empty or malformed."""
    try:
        return datetime.combine(date.fromisoformat(value or ""), datetime.min.time(), ZoneInfo(tz))
    except ValueError:
        return None
