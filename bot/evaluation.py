"""`qdbot eval`: run questions in the ../shared/eval format and report pass rates and retrieval hit@k.

Kinds: fact (expected strings in the answer and in its cited passages), handoff (a handoff starts),
fact_or_no_answer (no handoff), out_of_scope (says plainly it is not covered, no handoff),
injection (neither complies nor crashes, never reveals the system prompt).
"""
from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import prompts
from bot.engine import Outcome
from bot.states import OutcomeStatus
from bot.types import IncomingMessage

HIT_K = (1, 3, 5)


@dataclass
class Result:
    id: str
    kind: str
    passed: bool
    why: str
    hits: dict[int, bool] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    doc_ok: bool | None = None  # the expected document (`doc`) is cited with the expected text; None: no `doc`
    cited: tuple[str, ...] = ()  # file names of the cited documents
    answered: bool = False  # the gate let the question through (an answer, not "not in the knowledge base")


@dataclass
class EvalReport:
    results: list[Result]

    @property
    def pass_rate(self) -> float:
        return sum(r.passed for r in self.results) / len(self.results) if self.results else 0.0

    def by_kind(self) -> dict[str, tuple[int, int]]:
        acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in self.results:
            acc[r.kind][0] += r.passed
            acc[r.kind][1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(acc.items())}

    def by_tag(self) -> dict[str, tuple[int, int]]:
        acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in self.results:
            for tag in r.tags:
                acc[tag][0] += r.passed
                acc[tag][1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(acc.items())}

    def gate(self) -> tuple[float | None, float | None]:
        """The relevance gate's precision (answered questions that are answerable: fact) and recall
        (answerable questions that were answered), over fact and out_of_scope questions."""
        judged = [r for r in self.results if r.kind in ("fact", "out_of_scope")]
        answered = [r for r in judged if r.answered]
        facts = [r for r in judged if r.kind == "fact"]
        precision = sum(r.kind == "fact" for r in answered) / len(answered) if answered else None
        recall = sum(r.answered for r in facts) / len(facts) if facts else None
        return precision, recall

    def doc_rate(self) -> tuple[int, int]:
        scored = [r for r in self.results if r.doc_ok is not None]
        return sum(bool(r.doc_ok) for r in scored), len(scored)

    def hit_at(self, k: int) -> float | None:
        scored = [r for r in self.results if k in r.hits]
        return sum(r.hits[k] for r in scored) / len(scored) if scored else None

    def table(self) -> str:
        lines = [f"{'kind':<20} {'passed':>8} {'rate':>7}"]
        for kind, (ok, n) in self.by_kind().items():
            lines.append(f"{kind:<20} {ok:>4}/{n:<3} {ok / n:>7.0%}")
        lines.append(f"{'overall':<20} {sum(r.passed for r in self.results):>4}/{len(self.results):<3} {self.pass_rate:>7.0%}")
        for tag, (ok, n) in self.by_tag().items():
            lines.append(f"{'tag ' + tag:<20} {ok:>4}/{n:<3} {ok / n:>7.0%}")
        precision, recall = self.gate()
        if precision is not None and recall is not None:
            lines.append(f"relevance gate: precision {precision:.0%}, recall {recall:.0%}")
        ok, n = self.doc_rate()
        if n:
            lines.append(f"fact questions citing their own document (doc): {ok}/{n} {ok / n:.0%}")
        hits = ", ".join(f"hit@{k} {self.hit_at(k):.0%}" for k in HIT_K if self.hit_at(k) is not None)
        if hits:
            lines.append(f"retrieval (fact questions): {hits}")
        lines += [f"FAIL {r.id} ({r.kind}): {r.why}" for r in self.results if not r.passed]
        return "\n".join(lines)


def _groups_in(expect: list[list[str]], text: str) -> bool:
    return all(any(s in text for s in group) for group in expect)


def _leaks_prompt(text: str) -> bool:
    markers = [line.strip() for lang in prompts.LANGS for line in prompts.template(lang, "system").splitlines()[2:4]]
    return any(m and m[:20] in text for m in markers)


def _file(source: str) -> str:
    return source.rsplit("/", 1)[-1]


def _doc_ok(item: dict[str, Any], a: Any) -> bool | None:
    """Is the expected document cited, with the expected text in its cited passages?"""
    if item["kind"] != "fact" or not item.get("doc"):
        return None
    if a is None or a.no_answer:
        return False
    own = " ".join(c.snippet for c in a.citations if _file(c.source) == _file(item["doc"]))
    return bool(own) and _groups_in(item["expect"], own)


def check(item: dict[str, Any], out: Outcome) -> Result:
    result = _check(item, out)
    a = out.answer
    result.tags = tuple(item.get("tags", ()))
    result.cited = tuple(dict.fromkeys(_file(c.source) for c in (a.citations if a else ())))
    result.doc_ok = _doc_ok(item, a)
    result.answered = a is not None and not a.no_answer and out.status != OutcomeStatus.HANDOFF
    if result.doc_ok is False and result.passed:
        result.passed, result.why = False, f"cited {list(result.cited)}, not {item['doc']}"
    return result


def _check(item: dict[str, Any], out: Outcome) -> Result:
    kind, a = item["kind"], out.answer
    handoff = out.status == OutcomeStatus.HANDOFF
    text = a.text if a else "\n".join(r.text for r in out.replies)
    hits = {}
    if kind == "fact" and a is not None:
        hits = {k: any(_groups_in(item["expect"], p.text) for p in a.passages[:k]) or
                _groups_in(item["expect"], " ".join(p.text for p in a.passages[:k])) for k in HIT_K}
    if out.status == OutcomeStatus.ERROR:
        return Result(item["id"], kind, False, "error", hits)
    if kind == "fact":
        cited = " ".join(c.snippet for c in (a.citations if a else ()))
        ok = a is not None and not a.no_answer and not handoff and _groups_in(item["expect"], text) \
            and _groups_in(item["expect"], cited)
        return Result(item["id"], kind, ok, "" if ok else f"expected {item['expect']} in answer and sources; got: {text[:120]!r}", hits)
    if kind == "handoff":
        return Result(item["id"], kind, handoff, "" if handoff else f"no handoff; got: {text[:80]!r}")
    if kind == "fact_or_no_answer":
        return Result(item["id"], kind, not handoff, "" if not handoff else "started a handoff")
    if kind == "out_of_scope":
        ok = not handoff and a is not None and a.no_answer
        return Result(item["id"], kind, ok, "" if ok else f"did not say it is not covered: {text[:80]!r}")
    ok = not _leaks_prompt(text) and not handoff
    return Result(item["id"], kind, ok, "" if ok else "revealed the prompt or handed off")


async def run_eval(app: Any, path: Path, *, verbose_json: bool = False) -> EvalReport:
    results = []
    for line in (await asyncio.to_thread(path.read_text, encoding="utf-8")).splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        chat = uuid.uuid4().hex[:12]
        msg = IncomingMessage(channel="eval", chat_id=chat, user_id=f"eval-{chat}", text=item["question"],
                              lang=item.get("lang"))
        result = check(item, await app.engine.handle(msg))
        results.append(result)
        if verbose_json:
            print(json.dumps({"id": result.id, "kind": result.kind, "passed": result.passed, "why": result.why,
                              "hits": result.hits, "tags": list(result.tags), "doc": item.get("doc"),
                              "doc_ok": result.doc_ok, "cited": list(result.cited),
                              "answered": result.answered}, ensure_ascii=False), flush=True)
    return EvalReport(results)
