"""Answering: retrieve -> (rewrite, prompt, LLM, cite) or extractive excerpts -> `Answer`.

LLM mode when a chat model is configured; any LLM failure (timeout, 429, 5xx, garbage, figures
that are not in the sources) falls back to the extractive answer with a short notice.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog
from langchain_core.runnables import Runnable

import prompts
from bot import extractive, followup, llm as llm_ops
from bot.curated import CuratedAnswers
from bot.errors import LLMError
from bot.intent import Intent, classify_rules, parse_llm_label
from bot.policy import PolicyDesk, policy_notes
from bot.ports import Embedder, Retriever
from bot.relevance import Relevance, judge
from bot.scope import Scope, applicable, compare_heading, elsewhere, not_here_line, place_name, region_line, scope_of
from bot.settings import Settings
from bot.text import detect_lang
from bot.types import Answer, AnswerMode, Citation, Passage, Turn

log = structlog.get_logger(__name__)
POOL = 30  # passages retrieved before they are narrowed to the region asked about
_HOLD = len(llm_ops.NO_ANSWER) + 2  # characters held back while streaming, to catch NO_ANSWER


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of an answer being streamed."""

    text: str


class Answerer:
    policy: PolicyDesk | None = None  # (issue 16): calendar questions and the policy status line

    def __init__(self, retriever: Retriever, settings: Settings, llm: Runnable[Any, Any] | None = None,
                 embedder: Embedder | None = None, curated: CuratedAnswers | None = None):
        self.retriever = retriever
        self.settings = settings
        self.llm = llm
        self.embedder = embedder
        self.curated = curated  # answers the operators wrote; preferred when a question matches one

    @property
    def mode(self) -> AnswerMode:
        return AnswerMode.LLM if self.llm is not None else AnswerMode.EXTRACTIVE

    async def wants_human(self, text: str, lang: str | None = None) -> bool:
        """Rules first; the LLM settles ambiguous transfer-service messages in LLM mode."""
        intent = classify_rules(text)
        if intent is not Intent.UNSURE:
            return intent is Intent.HANDOFF
        if self.llm is None or not self.settings.llm_classify_intent:
            return False
        try:
            label = await llm_ops.classify(self.llm, text, lang or detect_lang(text))
        except LLMError as exc:
            log.warning("intent_llm_failed", error=str(exc))
            return False
        return parse_llm_label(label) is Intent.HANDOFF

    async def answer(self, question: str, history: Sequence[Turn] = (), lang: str | None = None) -> Answer:
        final: Answer | None = None
        async for event in self.stream(question, history, lang):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    @policy_notes
    async def stream(self, question: str, history: Sequence[Turn] = (),
                     lang: str | None = None) -> AsyncIterator[Delta | Answer]:
        """Deltas while an LLM answer is generated, then the final `Answer` (always last)."""
        lang = lang or detect_lang(question)
        t0 = time.perf_counter()
        query, notice = await self._standalone(question, history, lang)
        match = await self.curated.match(query) if self.curated is not None else None
        if match is not None:
            yield match.to_answer(lang, query if query != question else None, {"total_ms": _ms(t0)})
            return
        pool = await self.retriever.search(query, POOL)
        timings = {"retrieval_ms": _ms(t0)}
        scope = scope_of(query, self.settings.home_region)
        base = Answer(text="", mode=self.mode, passages=tuple(pool[:self._top_k]), lang=lang, timings=timings,
                      rewritten_query=query if query != question else None, notice=notice)
        if scope.comparison and self.llm is not None:
            places = self._per_place(pool, scope)
            async for event in self._generate(self.llm, replace(base, passages=tuple(places)), query, places, t0):
                yield event
            return
        if scope.comparison:
            yield await self._compare(base, query, pool, scope)
            return
        target = scope.targets[0]
        passages = self._closest_rules(query, applicable(pool, target), target)
        rel = self._judge(query, passages)
        if not rel.relevant:
            yield await self._not_here(replace(base, passages=tuple(passages)), query, pool, target, rel)
            return
        base = replace(base, passages=tuple(passages))
        if self.llm is None:
            answer = await self._extractive(base, query, passages)
            yield _with_region_line(answer, target)
            return
        async for event in self._generate(self.llm, base, query, passages, t0):
            yield _with_region_line(event, target) if isinstance(event, Answer) else event

    def _closest_rules(self, query: str, passages: list[Passage], target: str) -> list[Passage]:
        """The target's own documents first when they answer by themselves (a city's rule is the one
        that counts there), followed by the province's and the nation's; else in retrieval order."""
        own = [p for p in passages if p.region == target]
        if own and len(own) < len(passages) and self._judge(query, own[:self._top_k]).relevant:
            passages = own + [p for p in passages if p.region != target]
        return passages[:self._top_k]

    @property
    def _top_k(self) -> int:
        return getattr(self.retriever, "top_k", None) or self.settings.retrieval_top_k

    def _judge(self, query: str, passages: Sequence[Passage]) -> Relevance:
        return judge(query, passages, self.settings.retrieval_min_score, getattr(self.retriever, "mentions", None),
                     self._expand(query), getattr(self.retriever, "rarity", None))

    def _expand(self, query: str) -> str | None:
        expand = getattr(self.retriever, "expand_query", None)
        return expand(query) if expand else None

    async def _not_here(self, base: Answer, query: str, pool: Sequence[Passage], target: str,
                        rel: Relevance) -> Answer:
        """Nothing of the target's (or its province's, the nation's) documents answers: say so, and
        when another place's documents do, say whose and quote them as theirs, never as the target's."""
        others = elsewhere(pool, target)[:self._top_k]
        if not others or not self._judge(query, others).relevant:
            return self._no_answer(base, rel)
        text, cites = await asyncio.to_thread(extractive.excerpt_lines, query, others, self.embedder,
                                              self._expand(query))
        lines = [not_here_line(target, others, base.lang), text, prompts.text(base.lang, "offer_human")]
        return replace(base, text="\n".join(lines), citations=cites, no_answer=True, passages=tuple(others),
                       mode=AnswerMode.EXTRACTIVE, notice=f"only other regions' documents match ({rel.reason})",
                       timings={**base.timings, "top_score": rel.top_score, "coverage": rel.coverage})

    def _per_place(self, pool: Sequence[Passage], scope: Scope) -> list[Passage]:
        """For a comparison in LLM mode: each place's own passages (their titles name the place)."""
        per = max(2, self._top_k // len(scope.targets) + 1)
        return [p for target in scope.targets for p in [q for q in pool if q.region == target][:per]]

    async def _compare(self, base: Answer, query: str, pool: Sequence[Passage], scope: Scope) -> Answer:
        """A question about several places: each place answered from its own (and its higher) rules."""
        sections: list[str] = []
        cites: list[Citation] = []
        used: list[Passage] = []
        for target in scope.targets:
            own = [p for p in applicable(pool, target) if p.region == target][:self._top_k]
            sections.append(compare_heading(target, base.lang))
            if own and self._judge(query, own).relevant:
                text, found = await asyncio.to_thread(extractive.excerpt_lines, query, own, self.embedder,
                                                      self._expand(query), len(cites))
                sections.append(text)
                cites.extend(found)
                used.extend(own)
            else:
                sections.append(prompts.text(base.lang, "region_compare_missing", place=place_name(target, base.lang)))
        if not cites:
            return self._no_answer(base, self._judge(query, base.passages))
        body = "\n".join([prompts.text(base.lang, "extractive_intro"), *sections,
                          prompts.text(base.lang, "extractive_label")])
        return replace(base, text=body, citations=tuple(cites), passages=tuple(used), mode=AnswerMode.EXTRACTIVE)

    async def _standalone(self, question: str, history: Sequence[Turn], lang: str) -> tuple[str, str | None]:
        if not history:
            return question, None
        if self.llm is None:
            return followup.expand(question, history), None
        try:
            return await llm_ops.rewrite(self.llm, question, history, lang), None
        except LLMError as exc:
            log.warning("rewrite_failed", error=str(exc))
            return question, prompts.text(lang, "llm_fallback_notice")

    def _no_answer(self, base: Answer, rel: Relevance) -> Answer:
        text = f"{prompts.text(base.lang, 'no_answer')}\n{prompts.text(base.lang, 'offer_human')}"
        timings = {**base.timings, "top_score": rel.top_score, "coverage": rel.coverage}
        return replace(base, text=text, no_answer=True, timings=timings, notice=rel.reason)

    async def _extractive(self, base: Answer, query: str, passages: Sequence[Passage],
                          notice: str | None = None) -> Answer:
        """Sentence selection embeds and tokenises: it runs in a worker thread, never on the loop."""
        text, cites = await asyncio.to_thread(extractive.build, query, passages, base.lang, self.embedder,
                                              self._expand(query))
        if notice:
            text = f"{notice}\n{text}"
        return replace(base, text=text, citations=cites, mode=AnswerMode.EXTRACTIVE, notice=notice or base.notice)

    async def _generate(self, llm: Runnable[Any, Any], base: Answer, query: str, passages: Sequence[Passage],
                        t0: float) -> AsyncIterator[Delta | Answer]:
        messages = llm_ops.answer_messages(query, passages, base.lang)
        raw, held = "", True
        try:
            async for piece in llm_ops.stream(llm, messages):
                raw += piece
                if held and len(raw) >= _HOLD and not llm_ops.is_no_answer(raw):
                    held = False
                    yield Delta(raw)
                elif not held:
                    yield Delta(piece)
        except LLMError as exc:
            log.warning("llm_failed", error=str(exc))
            yield await self._extractive(base, query, passages, prompts.text(base.lang, "llm_fallback_notice"))
            return
        yield await self._finish(base, query, passages, raw, t0)

    async def _finish(self, base: Answer, query: str, passages: Sequence[Passage], raw: str, t0: float) -> Answer:
        timings = {**base.timings, "total_ms": _ms(t0)}
        if not raw.strip():
            return await self._extractive(base, query, passages, prompts.text(base.lang, "llm_fallback_notice"))
        if llm_ops.is_no_answer(raw):
            return self._no_answer(replace(base, timings=timings), Relevance(False, 0.0, 0.0, "model: not in passages"))
        if llm_ops.leaks_prompt(raw):
            log.warning("llm_leaked_prompt")
            return await self._extractive(base, query, passages, prompts.text(base.lang, "llm_fallback_notice"))
        invented = llm_ops.invented_figures(raw, passages, query)
        if invented:
            log.warning("llm_invented_figures", figures=invented[:5])
            return await self._extractive(base, query, passages, prompts.text(base.lang, "llm_fallback_notice"))
        text, cites = llm_ops.cite(raw, passages)
        if not cites:  # an uncited answer still shows the material it was given
            cites = tuple(extractive.citation_for(p) for p in passages[:3])
        return replace(base, text=text, citations=cites, timings=timings)


def _with_region_line(answer: Answer, target: str) -> Answer:
    """An answer citing rules other than the target's own says whose they are, in its first line."""
    found = None if answer.no_answer else region_line(target, answer.citations, answer.lang)
    if found is None:
        return answer
    line, first = found
    return replace(answer, text=f"{line}\n{answer.text}" if first else f"{answer.text}\n{line}")


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
