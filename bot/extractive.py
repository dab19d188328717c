"""Extractive answers: the sentences of the top passages that best match the question, verbatim,
with citations, plainly labelled as excerpts. Used when no LLM is configured or the LLM fails."""
from __future__ import annotations

from collections.abc import Sequence
import re
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


# What a question asks for -> what a sentence that answers it contains. Each matching kind adds
# TYPE_BONUS to the sentences that have the answer's form (a date, an amount, a body, a duty ...).
TYPE_BONUS = 0.25
_KINDS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(q, re.IGNORECASE), re.compile(a)) for q, a in (
        (r"哪天|哪一天|何时|什么时候|啥时候|哪年|日期|生效|施行|实施.*时间|开始|when|date|effective",
         r"\d{4}\s*年|[一二三四五六七八九十〇零]{4}年|起施行|起实施|生效|申报时间|受理时间|截止"),
        (r"多少|几|金额|比例|幅度|标准|额度|how much|how many|amount|fine|rate|percent",
         r"\d|[一二三四五六七八九十百千万]+(元|倍|年|日|个月|小时|周岁|万|％|%)|百分之|千分之|万分之|倍"),
        (r"罚|处罚|penalt|fine", r"罚款|处以|处罚|没收|吊销"),
        (r"谁|哪个部门|哪些部门|由谁|负责|承担|审批|主管|who|which (department|authority)",
         r"部门|机关|委员会|负责|承担|由.{1,12}(审批|批准|负责|承担)|政府"),
        (r"多久|多长|期限|几年|几个月|几天|几日|多少天|多少日|多少年|多少个月|多少个工作日|how long|how many (days|months|years|working days)|period|within",
         r"\d+\s*(年|个月|日|天|小时)|[一二三四五六七八九十]+(年|个月|日|天|小时)|期限|日内|以内"),
        (r"能不能|可不可以|行不行|可以吗|是否|是不是|必须|要不要|允许|can |may |must|allowed|required|whether",
         r"不得|禁止|应当|可以|必须|不应|不准|有权|须"),
        (r"哪些|有什么|包括|列举|what are|which", r"[：:]|、.*、|包括|以下|下列"),
        (r"叫什么|什么名字|名称|称为|叫做|called|name", r"设立|设置|称为|简称|名为|叫做|“"),
        (r"够不够|够吗|够格|达到|满足|条件|门槛|资格|qualif|eligib|requirement",
         r"以上|以下|不低于|不少于|不得低于|达到|具备|应当具有|条件"),
    ))


@dataclass(frozen=True, slots=True)
class Candidate:
    passage_index: int
    order: int
    sentence: str
    score: float


def _lexical(question: str, sentence: str, context: str = "") -> float:
    """Weighted share of the question's words in the sentence; words of `context` (the document's
    title: what the question names to say where to look, not what it asks) do not count."""
    terms = [t for t in query_terms(question) if not (context and t.word in context)]
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
             for j, s in enumerate(units(p.text)) if len(s) >= 6]
    items = [(i, j, s) for i, j, s in items if not _is_header(s, passages[i]) and not _flagged(s, passages[i])]
    dense = _normalised(_dense(question, [s for _, _, s in items], embedder))
    words = lexical_query or question
    kinds = [answer for asked, answer in _KINDS if asked.search(question)]
    return [Candidate(i, j, s, 0.6 * _lexical(words, s, passages[i].title) + 0.4 * d - 0.03 * i
                      + _form_bonus(kinds, s))
            for (i, j, s), d in zip(items, dense)]


_ITEM_START = re.compile(r"^([（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+、|\d+[.、．]|第[一二三四五六七八九十百]+条)")
UNIT_MAX = 220  # characters: a clause and its continuations are kept together up to this length


def units(text: str) -> list[str]:
    """Sentences as excerpt units: a clause ending in "；" and the part that continues it on the
    same line ("…责令限期改正；逾期不改正的，处…罚款") stay together; a new list item starts a unit."""
    out: list[str] = []
    for line in text.split("\n"):
        fresh = True
        for sentence in split_sentences(line):
            joins = not fresh and out[-1].endswith(("；", ";")) and not _ITEM_START.match(sentence) \
                and len(out[-1]) + len(sentence) <= UNIT_MAX
            if joins:
                out[-1] += sentence
            else:
                out.append(sentence)
            fresh = False
    return out


def _form_bonus(kinds: list[re.Pattern[str]], sentence: str) -> float:
    """A share of TYPE_BONUS for each kind of answer the question asks for that the sentence has."""
    if not kinds:
        return 0.0
    return TYPE_BONUS * sum(1 for k in kinds if k.search(sentence)) / len(kinds)


_HEAD_LINE = re.compile(r"^(\d{4}\s*年.{0,80}(通过|批准|公布|修正|修订|施行)|第[一二三四五六七八九十百]+[章节编]\s*\S{0,12})$")


def _flagged(unit: str, passage: Passage) -> bool:
    """Does the unit hold a sentence flagged at ingest (instruction-like text, a link not allowed)?
    Such a unit is never quoted as policy; operators review it on the knowledge-base page."""
    return any(f in unit or unit in f for f in passage.flagged)


def _is_header(sentence: str, passage: Passage) -> bool:
    """A title line, a chapter heading or a passing/amending record: never an excerpt on its own
    (the records of when a law was passed are kept only when they say when it takes effect)."""
    plain = sentence.strip().rstrip("。")
    if plain and (plain in passage.title or plain == passage.section.rsplit(" > ", 1)[-1]):
        return True
    return bool(_HEAD_LINE.match(plain)) and "施行" not in plain


LIST_ITEMS = 4  # items that follow a sentence introducing a list (ending in "：")


def _with_followers(chosen: list[Candidate], all_: list[Candidate]) -> list[Candidate]:
    """A short heading-like sentence is useless alone: add the sentence after it; a sentence that
    introduces a list (…包括：) brings its items along."""
    by_pos = {(c.passage_index, c.order): c for c in all_}
    extra: list[Candidate] = []
    for c in chosen:
        follow = LIST_ITEMS if c.sentence.rstrip().endswith(("：", ":")) else int(len(c.sentence) <= SHORT_SENTENCE)
        extra += [by_pos[(c.passage_index, c.order + k)] for k in range(1, follow + 1)
                  if (c.passage_index, c.order + k) in by_pos]
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
    chosen += _continuation(question, ranked[0], candidates)
    return sorted(_with_followers(chosen, candidates), key=lambda c: (c.passage_index, c.order))


def _continuation(question: str, best: Candidate, candidates: list[Candidate]) -> list[Candidate]:
    """The sentence after the best one, when the question asks for a form (a date, an amount, a
    duration …) that the best sentence lacks and the next sentence has: the answer is often in the
    sentence that continues the clause ("…予以确认债权债务关系。付款方应当自…起三十日内予以确认。")."""
    kinds = [answer for asked, answer in _KINDS if asked.search(question)]
    nxt = next((c for c in candidates if (c.passage_index, c.order) == (best.passage_index, best.order + 1)), None)
    if nxt is None or not kinds or any(k.search(best.sentence) for k in kinds):
        return []
    return [nxt] if any(k.search(nxt.sentence) for k in kinds) else []


def citation_for(p: Passage, snippet: str | None = None) -> Citation:
    return Citation(title=p.title, section=p.section, source=p.source, snippet=snippet or p.text,
                    chunk_id=p.chunk_id, score=p.score, region=p.region)


def excerpt_lines(question: str, passages: Sequence[Passage], embedder: Embedder | None = None,
                  lexical_query: str | None = None, offset: int = 0) -> tuple[str, tuple[Citation, ...]]:
    """The chosen sentences, one a line, each with its citation number; numbers start after `offset`
    and follow the order of first use."""
    chosen = select_sentences(question, passages, embedder, lexical_query)
    numbers: dict[int, int] = {}
    lines: list[str] = []
    for cand in chosen:
        n = numbers.setdefault(cand.passage_index, offset + len(numbers) + 1)
        lines.append(f"{cand.sentence} [{n}]")
    cites = tuple(citation_for(passages[i]) for i, _ in sorted(numbers.items(), key=lambda kv: kv[1]))
    return "\n".join(lines), cites


def build(question: str, passages: Sequence[Passage], lang: str, embedder: Embedder | None = None,
          lexical_query: str | None = None) -> tuple[str, tuple[Citation, ...]]:
    """The labelled excerpt answer and its citations, numbered [1], [2] in order of first use."""
    body, cites = excerpt_lines(question, passages, embedder, lexical_query)
    return f"{prompts.text(lang, 'extractive_intro')}\n{body}\n{prompts.text(lang, 'extractive_label')}", cites


def render_sources(citations: Sequence[Citation], lang: str) -> str:
    """A plain-text source list for channels without rich citations."""
    if not citations:
        return ""
    rows = [f"[{i}] 《{c.title}》" + (f" {c.section}" if c.section else "") for i, c in enumerate(citations, 1)]
    return prompts.text(lang, "sources_header") + "\n" + "\n".join(rows)
