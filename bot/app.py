"""The composition root: the one place that wires concrete classes (knowledge, adapters) to the core.

`build_app` opens the store and the knowledge base and wires the engine; `serve` runs one aiohttp
server hosting the web chat, its API, the channel webhooks and /healthz, starts every channel whose
credentials are set, and shuts down cleanly on SIGTERM/SIGINT.
"""
from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from langchain_core.runnables import Runnable

from bot.answerer import Answerer
from bot.clock import Clock, SystemClock
from bot.curated import CuratedAnswers
from bot.eligibility import EligibilityDesk
from bot.engine import Engine
from bot.llm import close_chat_model, make_chat_model
from bot.policy import PolicyDesk
from bot.errors import QdbotError
from bot.handoff import StaffChannel
from bot.ports import Channel
from bot.settings import Settings
from bot.store import Store
from bot.subscriptions import Notices
from bot.text import query_terms
from bot.types import utcnow
from knowledge import KnowledgeBase
from knowledge.embeddings import cached, make_embedder
from knowledge.policy_ingest import PolicyIngest
from knowledge.support_ingest import SupportIngest, chain

log = structlog.get_logger("qdbot.serve")
ChannelFactory = Callable[[Engine, Settings], "Channel | None"]


@dataclass
class App:
    settings: Settings
    store: Store
    kb: KnowledgeBase
    answerer: Answerer
    engine: Engine
    channels: list[Any] = field(default_factory=list)
    owns_llm: bool = False  # the model was made here (from settings), so it is closed here
    starting: bool = False  # run_server: listening, channels not all started yet (/healthz: 503 "starting")

    async def close(self) -> None:
        if self.owns_llm:
            await close_chat_model(self.answerer.llm)
        await self.kb.close()
        await self.store.close()



APP = web.AppKey("qdbot", App)  # /healthz reads the App; adapters get what they need from the Engine


async def build_app(settings: Settings, *, llm: Runnable[Any, Any] | None = None, ingest_if_empty: bool = True,
                    clock: Clock | None = None) -> App:
    """Open the store and the knowledge base, ingest the bundled documents on first start, wire the engine."""
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url, pool_size=settings.db_pool_size,
                             max_overflow=settings.db_max_overflow)
    embedder = cached(make_embedder(settings), settings)
    kb = KnowledgeBase(settings, store, embedder=embedder)
    owns_llm = llm is None and settings.llm_enabled
    if owns_llm:
        llm = make_chat_model(settings)
    policy = PolicyDesk(store, clock or SystemClock(settings.calendar_timezone))
    kb.ingestor.on_document = chain(
        PolicyIngest(store, llm if settings.calendar_llm_extract else None, policy.forget),
        SupportIngest(store, llm if settings.support_items_llm_extract else None, settings.support_items_auto_publish))
    if ingest_if_empty and not await store.kb.list_documents():
        log.info("ingesting bundled documents… (first start)")
        report = await kb.ingest_if_empty()
        if report is not None:
            log.info(f"ingesting bundled documents… {report.chunks} chunks in {report.seconds:.1f} s",
                     documents=report.added, failed=report.failed)
    await _warm_up(kb)
    answerer = Answerer(kb, settings, llm=llm, embedder=embedder, curated=CuratedAnswers(store, embedder))
    answerer.policy = policy
    engine = Engine(settings, store, answerer, knowledge=kb)
    engine.notices = Notices(engine, policy.clock)
    engine.eligibility = EligibilityDesk(engine, policy.clock, llm)
    loaded = await engine.desk.load_roster()
    if loaded:
        log.info("roster_loaded", managers=loaded)
    return App(settings, store, kb, answerer, engine, owns_llm=owns_llm)


async def _warm_up(kb: KnowledgeBase) -> None:
    """Load the lexical index, the tokenizers and the embedder now, not on the first user's question
    (jieba's part-of-speech tables take a second to load, and the relevance gate needs them)."""
    try:
        await asyncio.to_thread(query_terms, "青岛科技创新政策")
        await kb.search("青岛科技创新政策")
    except Exception as exc:  # a broken index must not stop the server from starting
        log.warning("warm_up_failed", error=f"{exc.__class__.__name__}: {exc}")


def channel_factories() -> list[ChannelFactory]:
    """Every channel the server knows; each returns None when its credentials are not set. Imported
    statically: a broken channel package stops the start with its error instead of switching it off."""
    from adapters import console as operator_console
    from adapters import telegram, wecom
    from adapters import web as web_chat

    return [web_chat.create, operator_console.create, telegram.create, wecom.create, wecom.create_kf]


STORAGE_PROBE_SECONDS = 3.0
GC_YOUNG_THRESHOLD = 20_000  # see freeze_startup_heap


async def _storage_problem(app: "App") -> str | None:
    """Write a row (channel_state `healthz:probe`) as every message is written; None when it worked."""
    try:
        await asyncio.wait_for(app.store.set_state("healthz:probe", utcnow().isoformat()), STORAGE_PROBE_SECONDS)
    except asyncio.TimeoutError:
        return f"a database write took over {STORAGE_PROBE_SECONDS:g} s"
    except Exception as exc:  # whatever the driver raises: the answer is the same
        log.warning("healthz_storage_failed", error=type(exc).__name__)
        return f"a database write failed ({type(exc).__name__})"
    return None


async def _healthz(request: web.Request) -> web.Response:
    """ok / degraded (dense retrieval down, answers from BM25) / unavailable (503: the database cannot be
    written, so no message could be stored) / starting (503: listening, but the channels are still starting,
    e.g. the Telegram webhook is not registered yet)."""
    app = request.app[APP]
    if app.starting:
        return web.json_response({"status": "starting", "mode": app.answerer.mode.value}, status=503)
    storage = await _storage_problem(app)
    degraded = bool(getattr(app.kb, "degraded", False))
    status = "unavailable" if storage else ("degraded" if degraded else "ok")
    return web.json_response({"status": status, "mode": app.answerer.mode.value,
                              "channels": [c.name for c in app.channels], "storage": storage or "ok",
                              "retrieval": getattr(app.kb, "degraded_reason", None) if degraded else "hybrid"},
                             status=503 if storage else 200)


def make_web_app(app: App, factories: list[ChannelFactory] | None = None) -> web.Application:
    """The aiohttp application with /healthz and every configured channel's routes."""
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app[APP] = app
    web_app.router.add_get("/healthz", _healthz)
    for factory in factories if factories is not None else channel_factories():
        channel = factory(app.engine, app.settings)
        if channel is None:
            continue
        if hasattr(channel, "routes"):
            web_app.add_routes(channel.routes())
        app.engine.register(channel)
        if isinstance(channel, StaffChannel):
            app.engine.desk.add_staff(channel)
        app.channels.append(channel)
    return web_app


async def _desk_timer(app: App, every: float = 30.0) -> None:
    """Re-notify, expire and time out tickets; finish messages a dead worker left behind."""
    while True:
        await asyncio.sleep(every)
        try:
            await app.engine.desk.tick()
            await app.engine.recover()
            await app.store.forget_events_before(utcnow() - timedelta(days=7))
            await app.store.inbox.forget_before(utcnow() - timedelta(days=7))
            await app.store.locks.prune()
        except Exception:
            log.exception("background_tick_failed")


async def _notice_timer(app: App) -> None:
    """Subscribers' notices: new or changed documents and closing windows (issue 16)."""
    while True:
        await asyncio.sleep(app.settings.notice_check_seconds)
        try:
            if app.engine.notices is not None:
                await app.engine.notices.tick()
        except Exception:
            log.exception("notice_tick_failed")


async def run_server(app: App, web_app: web.Application, stop: asyncio.Event,
                     started: asyncio.Event | None = None) -> None:
    """Listen, start the channels, wait for `stop`, then shut down in order."""
    s = app.settings
    booted = utcnow()  # before the first request: anything stored earlier was stored by another run
    app.starting = True
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, s.qdbot_host, s.qdbot_port, backlog=1024)  # bursts of webhook connections
    await site.start()
    timer = asyncio.create_task(_desk_timer(app))
    notices = asyncio.create_task(_notice_timer(app))
    try:
        orphans_before = await _orphans_before(app, booted)
        for channel in list(app.channels):
            await _start_channel(app, channel)
        app.starting = False
        freeze_startup_heap()
        await app.engine.recover(received_grace=(utcnow() - orphans_before).total_seconds() if orphans_before else 60.0)
        url = f"http://{s.qdbot_host}:{s.qdbot_port}/"
        log.info("serving", url=url, mode=app.answerer.mode.value, channels=[c.name for c in app.channels])
        if started is not None:
            started.set()
        await stop.wait()
    finally:
        timer.cancel()
        notices.cancel()
        await _shutdown(app, runner)


def freeze_startup_heap() -> None:
    """Collect once, then keep everything alive now (the embedder, jieba's dictionaries, the lexical index,
    the channels) out of the cyclic collector's reach (`gc.freeze`), and let the youngest generation grow
    to 20,000 objects before a collection (Python's default, 700, collects several times per answer).
    Without this the first full collection walks the start-up heap in the middle of the first burst of
    traffic. Measured: the first WeCom burst's acknowledgements went from p99 227 ms to 83-104 ms
    (`tests.bench.bench_wecom`); CPU per answer went from 12.2-12.9 to 11.3-11.8 ms extractive and from
    13.6-14.0 to 11.5 ms LLM (`tests.bench.bench_load`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


async def _orphans_before(app: App, booted: datetime) -> datetime | None:
    """On SQLite (one process, and it is this one) every message stored before now and not finished was
    left by a dead run: those "processing" become "received" again, and the time is returned so that
    recovery at start answers them at once. None with PostgreSQL: other workers may be answering them."""
    if app.store.locks.shared:
        return None
    if released := await app.store.release_processing(claimed_before=booted):
        log.info("released_orphaned_messages", messages=released)
    return booted


async def _start_channel(app: App, channel: Channel) -> None:
    """Start one channel; a platform that is down at start must not take the others with it."""
    try:
        await channel.start(app.engine.handle)
    except QdbotError as exc:
        log.error("channel_start_failed", channel=channel.name, error=str(exc))
        app.channels.remove(channel)
        app.engine.unregister(channel.name)


async def _shutdown(app: App, runner: web.AppRunner) -> None:
    log.info("stopping", inflight=app.engine._inflight)
    for channel in reversed(app.channels):  # stop taking updates first
        try:
            await channel.stop()
        except Exception:
            log.exception("channel_stop_failed", channel=channel.name)
    drained = await app.engine.drain(app.settings.shutdown_grace_seconds)
    log.info("drained" if drained else "drain_timeout")
    await runner.cleanup()


async def serve(settings: Settings) -> int:
    settings.check_public_bind()
    app = await build_app(settings)
    web_app = make_web_app(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_server(app, web_app, stop)
    finally:
        await app.close()
    return 0
