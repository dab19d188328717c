"""The CLI commands' bodies (parsing lives in `bot.cli`)."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from typing import Any

import prompts
from bot.app import App, build_app
from bot.engine import Outcome
from bot.extractive import render_sources
from bot.settings import Settings
from bot.states import OutcomeStatus
from bot.types import IncomingMessage


async def ingest(args: argparse.Namespace, settings: Settings) -> int:
    app = await build_app(settings, ingest_if_empty=False)
    try:
        report = await app.kb.ingest(args.paths or None, prune=args.prune, progress=not args.quiet)
    finally:
        await app.close()
    for path, reason in report.failures:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    for path, reason in report.duplicates:
        print(f"not indexed: {path}: {reason}", file=sys.stderr)
    if args.verbose:
        for source, identity in report.identities:
            print(_identity_line(source, identity))
    print(report.summary())
    return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0


def _identity_line(source: str, identity: dict[str, str]) -> str:
    """What ingest read from a document: one line per document for `qdbot ingest --verbose`."""
    names = {"title": "标题", "issuer": "发文机关", "region": "地区", "doc_number": "文号", "issued": "发布",
             "effective": "施行", "expires": "有效期至"}
    fields = "; ".join(f"{label} {identity[k]}" for k, label in names.items() if identity.get(k))
    return f"{source}: {fields or '(nothing found)'}"


def outcome_json(question: str, out: Outcome, latency_ms: float, mode: str) -> dict[str, Any]:
    """The `ask --json` contract: question, answer, mode, sources, handoff, no_answer, latency_ms."""
    a = out.answer
    text = a.text if a else "\n".join(r.text for r in out.replies)
    sources = [{"title": c.title, "section": c.section, "source": c.source, "text": c.snippet,
                "score": round(c.score, 4), "region": c.region} for c in (a.citations if a else ())]
    return {"question": question, "answer": text, "mode": _mode(a.mode.value if a else mode),
            "sources": sources, "handoff": out.status == OutcomeStatus.HANDOFF, "no_answer": bool(a and a.no_answer),
            "latency_ms": round(latency_ms, 1)}


def _mode(mode: str) -> str:
    return "llm" if mode == "llm" else "extractive"


async def ask_one(app: App, question: str, chat_id: str | None = None) -> tuple[Outcome, float]:
    chat_id = chat_id or uuid.uuid4().hex[:12]
    msg = IncomingMessage(channel="cli", chat_id=chat_id, user_id=f"cli-{chat_id}", text=question)
    t0 = time.perf_counter()
    out = await app.engine.handle(msg)
    return out, (time.perf_counter() - t0) * 1000


async def ask(args: argparse.Namespace, settings: Settings) -> int:
    app = await build_app(settings)
    mode = app.answerer.mode.value
    try:
        questions = [args.question] if args.question else (line.strip() for line in sys.stdin)
        for q in questions:
            if not q:
                continue
            out, ms = await ask_one(app, q)
            data = outcome_json(q, out, ms, mode)
            print(json.dumps(data, ensure_ascii=False) if args.json else _human(out), flush=True)
    finally:
        await app.close()
    return 0


def _human(out: Outcome) -> str:
    """The replies as terminal text; "click 联系技术经理人" becomes how to ask for one in words."""
    parts, lang = [], out.answer.lang if out.answer else "zh"
    for r in out.replies:
        parts.append(r.text.replace(prompts.text(lang, "offer_human"), prompts.text(lang, "chat_offer_human")))
        sources = render_sources(r.citations, out.answer.lang if out.answer else "zh")
        if sources:
            parts.append(sources)
    return "\n".join(parts)


async def chat(args: argparse.Namespace, settings: Settings) -> int:
    app = await build_app(settings)
    chat_id = uuid.uuid4().hex[:12]
    print(prompts.text("zh", "welcome"))
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, f"\n{prompts.text('zh', 'chat_prompt')}")
            except EOFError:
                print()
                return 0
            if line.strip():
                out, _ = await ask_one(app, line, chat_id)
                print(_human(out))
    finally:
        await app.close()


async def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.evaluation import run_eval

    app = await build_app(settings)
    try:
        report = await run_eval(app, args.file, verbose_json=args.json)
    finally:
        await app.close()
    print(report.table())
    if args.min is not None and report.pass_rate < args.min:
        print(f"pass rate {report.pass_rate:.1%} is below --min {args.min:.1%}", file=sys.stderr)
        return 1
    return 0


async def db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store import Store

    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    await store.close()
    print(f"database at the newest schema: {settings.db_url.split('@')[-1]}")
    return 0


async def serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve as run

    overrides = {k: v for k, v in (("qdbot_host", args.host), ("qdbot_port", args.port)) if v is not None}
    return await run(settings.model_copy(update=overrides) if overrides else settings)
