"""End-to-end load benchmark: N simulated users through the web API and the (fake) Telegram Bot API,
against a fake OpenAI-compatible LLM that takes `--llm-delay` seconds per call.

    python -m tests.bench.bench_load [--users 50,200,500] [--llm-delay 1.5] [--channels web,telegram]

`qdbot serve` runs as a real subprocess (its own data dir, the bundled document ingested at start)
with MAX_CONCURRENCY high enough for the load. Each user sends one question. Measured per run:
throughput (answers/s over the whole run), p50/p95/p99 of the time the assistant adds on top of the
LLM (end-to-end latency minus the LLM delay), errors, and the server's peak memory (VmHWM).
Prints one JSON object, then a table.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.fakes.telegram_server import FakeTelegram  # noqa: E402

QUESTIONS = ["青岛计划建设多少家概念验证平台？", "市级财政科技资金每年增长多少？", "青岛现在的人才总量有多少？",
             "海洋科技大市场每年要筛选多少项科技成果？", "青岛有哪几个国家先进制造业集群？"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def start_server(data_dir: Path, llm: FakeOpenAI, tg: FakeTelegram | None, port: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECOM_", "OPENAI_"))}
    env.update(QDBOT_DATA_DIR=str(data_dir), OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY="k",
               LLM_MAX_RETRIES="0", MAX_CONCURRENCY="1000", RATE_LIMIT_PER_MINUTE="0", QDBOT_LOG_LEVEL="WARNING")
    if tg is not None:
        env.update(TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_BASE_URL=tg.base_url)
    log = open(data_dir.parent / "serve.log", "ab")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", "--port", str(port),
                                                env=env, cwd=data_dir.parent, stdout=log, stderr=log)
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                await asyncio.sleep(0.25)
    raise RuntimeError("server did not start: " + (data_dir.parent / "serve.log").read_text()[-2000:])


async def web_user(http: aiohttp.ClientSession, port: int, i: int) -> float:
    t0 = time.perf_counter()
    async with http.post(f"http://127.0.0.1:{port}/api/chat",
                         json={"session_id": f"bench-user-{i:06d}", "text": QUESTIONS[i % len(QUESTIONS)]}) as r:
        body = await r.json()
        if r.status != 200 or not body.get("answer"):
            raise RuntimeError(f"bad answer {r.status}")
    return time.perf_counter() - t0


async def telegram_user(tg: FakeTelegram, i: int) -> float:
    chat = 500_000 + i
    t0 = time.perf_counter()
    tg.user_message(chat, chat, QUESTIONS[i % len(QUESTIONS)])
    while not tg.sent_messages(chat):
        await asyncio.sleep(0.01)
    return time.perf_counter() - t0


async def run_users(channel: str, n: int, port: int, tg: FakeTelegram) -> tuple[list[float], int, float]:
    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as http:
        if channel == "web":
            tasks = [web_user(http, port, i) for i in range(n)]
        else:
            tasks = [asyncio.wait_for(telegram_user(tg, i + n * 1000), 600) for i in range(n)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - t0
    ok = [r for r in results if isinstance(r, float)]
    return ok, len(results) - len(ok), wall


async def bench(users: list[int], channels: list[str], delay: float) -> dict:
    out: dict = {"llm_delay_s": delay, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeOpenAI(api_key="k") as llm, FakeTelegram() as tg:
            llm.responder = lambda m, b: "青岛计划三年内建设概念验证平台60家左右[1]。"
            port = free_port()
            proc = await start_server(Path(tmp) / "data", llm, tg if "telegram" in channels else None, port)
            llm.delay = delay
            try:
                for channel in channels:
                    for n in users:
                        latencies, errors, wall = await run_users(channel, n, port, tg)
                        added = [max(0.0, x - delay) * 1000 for x in latencies]
                        out["runs"].append({
                            "channel": channel, "users": n, "errors": errors, "wall_s": round(wall, 2),
                            "throughput_per_s": round(len(latencies) / wall, 1),
                            "added_ms_p50": round(pct(added, 50), 1), "added_ms_p95": round(pct(added, 95), 1),
                            "added_ms_p99": round(pct(added, 99), 1),
                            "server_peak_rss_mb": round(peak_rss_mb(proc.pid), 1)})
            finally:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
    return out


def table(result: dict) -> str:
    rows = [f"{'channel':<9}{'users':>6}{'ok/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>7}{'peak MB':>9}"]
    for r in result["runs"]:
        rows.append(f"{r['channel']:<9}{r['users']:>6}{r['throughput_per_s']:>7}{r['added_ms_p50']:>9}"
                    f"{r['added_ms_p95']:>9}{r['added_ms_p99']:>9}{r['errors']:>7}{r['server_peak_rss_mb']:>9}")
    return "\n".join(rows) + f"\n(time added on top of a {result['llm_delay_s']} s LLM; one question per user)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="50,200,500")
    ap.add_argument("--channels", default="web,telegram")
    ap.add_argument("--llm-delay", type=float, default=1.5)
    args = ap.parse_args()
    result = asyncio.run(bench([int(x) for x in args.users.split(",")], args.channels.split(","), args.llm_delay))
    print(json.dumps(result, ensure_ascii=False))
    print(table(result))


if __name__ == "__main__":
    main()
