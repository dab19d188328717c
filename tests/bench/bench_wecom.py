"""WeCom callback benchmark: how fast the app channel acknowledges callbacks while answers are
being generated.

    python -m tests.bench.bench_wecom [--callbacks 200] [--waves 2] [--llm-delay 1.5] [--db-url URL]

Everything is real except the two platforms: the app channel's routes on an aiohttp server
(loopback), the real Engine and Store (SQLite in a temporary directory unless ``--db-url``), the
real LLM client (``bot.llm.make_chat_model``) against the loopback OpenAI-compatible fake, which
waits ``--llm-delay`` seconds per request, and the loopback fake WeCom API for ``message/send``.

Each wave fires ``--callbacks`` distinct encrypted text callbacks (200 members) at once from a
separate load process (so the client's own work does not count); the second wave starts while the
first wave's answers are still being generated. Measured: the time from sending a callback to its
200 (what WeCom's 5-second rule is about), p50/p95/p99/max per wave and overall, timed twice: from
the load process starting the request ("started", which includes that process waiting for its own
CPU to open 200 connections) and from its headers being written to the socket ("on wire", what the
platform's timer sees), and the time until
every answer went out through message/send. The fakes run in the server's process and event loop,
so their work (streaming 400 answers) counts against the figures. Each callback is stored in the
durable inbox before its 200 (group commit): the sizes of the inbox batches written during the
waves are reported too. Prints one JSON object, then a short table.

    python -m tests.bench.bench_wecom                                   # SQLite
    python -m tests.bench.bench_wecom --db-url postgresql+asyncpg://postgres@127.0.0.1/bench
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from adapters.wecom.app_channel import WeComAppChannel
    from tests.fakes.wecom_server import FakeWeCom

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The heavy imports live in ``run``: the load process imports this module and should start fast.

SEND = "/cgi-bin/message/send"
ANSWER = "青岛计划三年内建设概念验证平台60家左右[1]。"


def responder(messages: list[dict], body: dict) -> str:
    system = str(messages[0].get("content", "")) if messages else ""
    return "QUESTION" if "意图" in system or "intent" in system.lower() else ANSWER


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2)}


async def _serve(channel: WeComAppChannel, backlog: int) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.add_routes(channel.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=backlog)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/wecom/callback"


def _load(conn) -> None:
    """The load process: receive (url, waves, gap), fire each wave at once, ``gap`` seconds apart,
    and send back the latencies."""
    url, waves, gap = conn.recv()

    async def fire() -> list[list[tuple[float, float]]]:
        results = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         trace_configs=[_sent_trace()]) as session:
            for i, requests in enumerate(waves):
                if i:
                    await asyncio.sleep(gap)
                results.append(await _wave(session, url, requests))
        return results
    conn.send(asyncio.run(fire()))
    conn.close()


def _sent_trace() -> aiohttp.TraceConfig:
    """Notes when a request's headers were written to its connection (in ``trace_request_ctx``)."""
    async def headers_sent(session: aiohttp.ClientSession, ctx, params) -> None:
        ctx.trace_request_ctx["sent"] = time.perf_counter()
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(headers_sent)
    return trace


async def _wave(session: aiohttp.ClientSession, url: str, requests: list) -> list[tuple[float, float]]:
    """Per request: ms from the client starting it, and ms from its headers being on the wire (what
    the platform's timer sees, without the load process's own queueing for its CPU), to the 200."""
    async def one(query: dict, body: bytes) -> tuple[float, float]:
        mark: dict[str, float] = {}
        started = time.perf_counter()
        async with session.post(url, params=query, data=body, trace_request_ctx=mark) as resp:
            await resp.read()
            assert resp.status == 200, resp.status
        done = time.perf_counter()
        return (done - started) * 1000, (done - mark.get("sent", started)) * 1000
    return list(await asyncio.gather(*(one(q, b) for q, b in requests)))


def _requests(fake: FakeWeCom, crypto, wave: int, n: int) -> list:
    from tests.adapters.wecom.harness import QUESTION, text_xml
    from tests.fakes.wecom_server import callback_request

    run = int(time.time()) % 10**8  # MsgIds and members unique per run: a reused database has seen earlier ones
    return [callback_request(crypto, text_xml(fake, QUESTION, f"{run}{wave}{i:06d}", user=f"member{run}_{wave}_{i}"))
            for i in range(n)]


async def run(args: argparse.Namespace, load) -> dict:
    from adapters.wecom.app_channel import WeComAppChannel
    from bot.llm import close_chat_model, make_chat_model
    from bot.settings import load_settings
    from bot.store import Store
    from tests.adapters.wecom.harness import wecom_settings
    from tests.fakes.engine import make_engine
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.wecom_server import FakeWeCom

    tmp = Path(tempfile.mkdtemp(prefix="qdbot-bench-wecom-"))
    async with FakeWeCom() as fake, FakeOpenAI(api_key="sk-bench") as llm_fake:
        llm_fake.delay, llm_fake.responder = args.llm_delay, responder
        settings = load_settings(qdbot_data_dir=tmp / "data", openai_base_url=llm_fake.base_url,
                                 openai_api_key="sk-bench", llm_model="fake-model")
        store = await Store.open(args.db_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
        llm = make_chat_model(settings)
        engine = make_engine(store, settings=settings, llm=llm)
        wecom = wecom_settings(fake)
        channel = WeComAppChannel(engine, settings, wecom)
        engine.register(channel)
        await channel.start(engine.handle)
        runner, url = await _serve(channel, args.backlog)
        try:
            return await _measure(args, fake, channel, url, load)
        finally:
            await channel.stop()
            await runner.cleanup()
            await close_chat_model(llm)
            await store.close()


async def _measure(args: argparse.Namespace, fake: FakeWeCom, channel: WeComAppChannel, url: str,
                   load) -> dict:
    crypto = channel.endpoint.crypto
    waves = [_requests(fake, crypto, w + 1, args.callbacks) for w in range(args.waves)]
    async with aiohttp.ClientSession() as session:
        await _wave(session, url, _requests(fake, crypto, 0, 1))  # warm-up: jieba, first token
    await fake.wait_for(SEND, 1, timeout=60, ok=True)
    from bot.app import freeze_startup_heap

    freeze_startup_heap()  # as run_server does once its channels have started
    loop = asyncio.get_running_loop()
    inbox = channel.engine.store.inbox
    inbox.batches = []
    started = time.perf_counter()
    await loop.run_in_executor(None, load.send, (url, waves, args.gap))
    results = await loop.run_in_executor(None, load.recv)
    await fake.wait_for(SEND, 1 + args.callbacks * args.waves, timeout=600, ok=True)
    all_answered_s = time.perf_counter() - started
    delivered = [d.body["touser"] for d in fake.sent("message")]
    return {"callbacks_per_wave": args.callbacks, "waves": args.waves, "llm_delay_s": args.llm_delay,
            "backlog": args.backlog,
            "db": "sqlite" if not args.db_url else args.db_url.split(":")[0],
            "ack": summary([ms for wave in results for ms, _ in wave]),
            "ack_by_wave": [summary([ms for ms, _ in wave]) for wave in results],
            "ack_on_wire": summary([ms for wave in results for _, ms in wave]),
            "ack_on_wire_by_wave": [summary([ms for _, ms in wave]) for wave in results],
            "inbox_batches": len(inbox.batches), "inbox_largest_batch": max(inbox.batches, default=0),
            "all_answers_sent_s": round(all_answered_s, 2), "answers_sent": len(delivered),
            "members_answered_twice": len(delivered) - len(set(delivered))}


def table(result: dict) -> str:
    keys = ("n", "p50_ms", "p95_ms", "p99_ms", "max_ms")
    rows = [("timed", "wave", "n", "p50 ms", "p95 ms", "p99 ms", "max ms")]
    for timed, name in (("started", "ack"), ("on wire", "ack_on_wire")):
        for i, wave in enumerate(result[f"{name}_by_wave"], 1):
            rows.append((timed, str(i), *(str(wave[k]) for k in keys)))
        rows.append((timed, "all", *(str(result[name][k]) for k in keys)))
    lines = ["  ".join(cell.rjust(8) for cell in row) for row in rows]
    lines.append(f"answers sent: {result['answers_sent']} in {result['all_answers_sent_s']} s "
                 f"(LLM delay {result['llm_delay_s']} s per call); answered twice: "
                 f"{result['members_answered_twice']}")
    lines.append(f"inbox: {result['ack']['n']} callbacks "
                 f"stored in {result['inbox_batches']} transactions (largest {result['inbox_largest_batch']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callbacks", type=int, default=200)
    parser.add_argument("--waves", type=int, default=2)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between waves")
    parser.add_argument("--llm-delay", type=float, default=1.5)
    parser.add_argument("--db-url", default=None)
    parser.add_argument("--backlog", type=int, default=1024,
                        help="listen backlog (aiohttp's default 128 makes a burst of new connections "
                             "wait for the kernel's 1 s SYN retry)")
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("spawn")
    load, child = ctx.Pipe()
    process = ctx.Process(target=_load, args=(child,), daemon=True)
    process.start()  # first: it is ready by the time the server is
    from bot.logs import configure

    configure(level="WARNING")
    result = asyncio.run(run(args, load))
    process.join(10)
    print(json.dumps(result, ensure_ascii=False))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
