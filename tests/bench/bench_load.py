"""End-to-end load benchmark: N simulated users through the web API and the (fake) Telegram Bot API,
against a fake OpenAI-compatible LLM that takes `--llm-delay` seconds per call.

    python -m tests.bench.bench_load [--users 50,200,500] [--llm-delay 1.5] [--channels web,telegram]
        [--query-cache 4096] [--workers 1] [--postgres] [--database-url postgresql+asyncpg://...]
        [--extractive] [--profile]

`qdbot serve` runs as a real subprocess (its own data dir, the bundled document ingested at start)
with MAX_CONCURRENCY high enough for the load and the per-user and per-address limits off (every
user comes from 127.0.0.1). Each user sends one question, drawn in turn from the
fact questions of the evaluation sets (tests/eval/paraphrases.jsonl and ../shared/eval/qa.jsonl when
present). The fake LLM answers with the first sentence of the first source it is given, cited, so
its answers pass the grounding checks as a real model's would. `--query-cache 0` turns the
in-memory cache of question vectors off, so every question is embedded (the cold path).
One worker runs on SQLite and embedded Chroma unless `--postgres` is given. `--workers N` (or
`--postgres`) starts the workers on one PostgreSQL database (`--database-url`; default: a fresh
database on the local server, dropped afterwards) and a `chroma run` server, and spreads
the web users over them round-robin, as a reverse proxy would (Telegram long polling runs in one
worker only, so the Telegram runs use a single worker).

Measured per run: throughput (answers/s over the whole run), p50/p95/p99 of the time the assistant
adds on top of the LLM (end-to-end latency minus the LLM delay), errors, the servers' CPU time per
answer (user + system time of the worker processes, all their threads, over the run, divided by
the answers), and the servers' peak memory (VmHWM, the largest worker). Prints one JSON object,
then a table. `--extractive` runs the workers without a chat model (extractive answers; the
LLM delay is then not subtracted). `--profile` runs each worker under cProfile and prints its
30 most expensive functions (own time; the main thread only, so worker-thread work such as
embedding shows as waiting) after the table.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import signal
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
from tests.test_process_faults import free_port, serving  # noqa: E402



def questions() -> list[str]:
    """The fact questions of the evaluation sets, in file order, without repeats."""
    files = [REPO / "tests/eval/paraphrases.jsonl", REPO.parent / "shared/eval/qa.jsonl"]
    seen: dict[str, None] = {}
    for path in files:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                item = json.loads(line) if line.strip() else {}
                if item.get("kind") == "fact" and item.get("lang", "zh") == "zh":
                    seen.setdefault(item["question"], None)
    return list(seen)


QUESTIONS = questions()
SOURCE = re.compile(r"\[1\] 《[^》]*》[^\n]*\n([^\n]+)")


def grounded_responder(messages: list[dict], body: dict) -> str:
    """What a well-behaved model does: the first sentence of source [1], cited."""
    found = SOURCE.search(str(messages[-1].get("content", "")))
    if not found:
        return "NO_ANSWER"
    first = re.split(r"(?<=[。；！？])", found.group(1).strip())[0]
    return first.rstrip("。；") + "[1]。"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def start_server(data_dir: Path, llm: FakeOpenAI | None, tg: FakeTelegram | None, port: int,
                       extra: dict[str, str]):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECOM_", "OPENAI_"))}
    if llm is not None:
        env.update(OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY="k", LLM_MAX_RETRIES="0")
    env.update(QDBOT_DATA_DIR=str(data_dir), MAX_CONCURRENCY="1000", RATE_LIMIT_PER_MINUTE="0", WEB_RATE_LIMIT_PER_IP="0",
               QDBOT_LOG_LEVEL="WARNING",
               QDBOT_SECRET_KEY="bench-secret-shared-by-the-workers-0123456789", **extra)
    if tg is not None:
        env.update(TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_BASE_URL=tg.base_url)
    log = open(data_dir.parent / f"serve-{port}.log", "ab")
    profile = os.environ.get("QDBOT_BENCH_PROFILE")  # a path: run the worker under cProfile, stats there
    prefix = ["-m", "cProfile", "-o", f"{profile}.{port}"] if profile else []
    proc = await asyncio.create_subprocess_exec(sys.executable, *prefix, "-m", "bot", "serve", "--port", str(port),
                                                env=env, cwd=data_dir.parent, stdout=log, stderr=log)
    return await serving(proc, port, data_dir.parent / f"serve-{port}.log", timeout=150)


async def web_user(http: aiohttp.ClientSession, port: int, i: int) -> float:
    t0 = time.perf_counter()
    async with http.post(f"http://127.0.0.1:{port}/api/chat",
                         json={"session_id": f"bench-user-{i:06d}", "text": QUESTIONS[i % len(QUESTIONS)]}) as r:
        body = await r.json()
        if r.status != 200 or not body.get("answer"):
            raise RuntimeError(f"bad answer {r.status}")
    return time.perf_counter() - t0


class Answers:
    """Futures resolved when the bot's sendMessage to a chat reaches the fake (one listener for all
    chats: polling the fake's call log from every user would load the benchmark process itself)."""

    def __init__(self, tg: FakeTelegram) -> None:
        self.waiting: dict[int, asyncio.Future] = {}
        tg.listeners.append(self._recorded)

    def expect(self, chat: int) -> asyncio.Future:
        self.waiting[chat] = asyncio.get_running_loop().create_future()
        return self.waiting[chat]

    def _recorded(self, call) -> None:
        if call.ok and call.method == "sendMessage":
            future = self.waiting.pop(call.params.get("chat_id"), None)
            if future is not None and not future.done():
                future.set_result(None)


async def telegram_user(tg: FakeTelegram, answers: Answers, i: int) -> float:
    chat = 500_000 + i
    answered = answers.expect(chat)
    t0 = time.perf_counter()
    tg.user_message(chat, chat, QUESTIONS[i % len(QUESTIONS)])
    await answered
    return time.perf_counter() - t0


async def run_users(channel: str, n: int, ports: list[int], tg: FakeTelegram,
                    offset: int) -> tuple[list[float], int, float]:
    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as http:
        if channel == "web":
            tasks = [web_user(http, ports[i % len(ports)], offset + i) for i in range(n)]
        else:
            answers = Answers(tg)
            tasks = [asyncio.wait_for(telegram_user(tg, answers, offset + i), 600) for i in range(n)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - t0
    ok = [r for r in results if isinstance(r, float)]
    return ok, len(results) - len(ok), wall


@contextlib.asynccontextmanager
async def shared_backends(workers: int, postgres: bool, database_url: str | None, tmp: Path):
    """Nothing for one worker (SQLite and embedded Chroma in its data dir); for several, a fresh
    PostgreSQL database and a `chroma run` server."""
    if workers == 1 and not postgres and not database_url:
        yield {}
        return
    from tests.conftest import create_pg_database, drop_pg_database
    from tests.knowledge.conftest import ChromaProcess

    name, url = (None, database_url) if database_url else await create_pg_database()
    chroma = ChromaProcess(tmp / "chroma").start()
    try:
        yield {"DATABASE_URL": url, "CHROMA_HOST": chroma.host, "CHROMA_PORT": str(chroma.port)}
    finally:
        chroma.stop()
        if name:
            await drop_pg_database(name)


async def bench(users: list[int], channels: list[str], delay: float, query_cache: int, workers: int,
                postgres: bool, database_url: str | None, extractive: bool = False) -> dict:
    delay = 0.0 if extractive else delay
    out: dict = {"llm_delay_s": delay, "workers": workers, "query_cache": query_cache,
                 "mode": "extractive" if extractive else "llm",
                 "database": "postgresql" if workers > 1 or postgres or database_url else "sqlite",
                 "distinct_questions": len(QUESTIONS), "runs": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with FakeOpenAI(api_key="k") as llm, FakeTelegram() as tg, \
                shared_backends(workers, postgres, database_url, tmp) as shared:
            llm.responder = grounded_responder
            extra = {**shared, "EMBEDDING_QUERY_CACHE": str(query_cache)}
            ports, procs = [], []
            try:
                for w in range(workers):  # one after the other: the first ingests the bundled document
                    ports.append(free_port())
                    telegram = tg if "telegram" in channels and w == 0 else None
                    procs.append(await start_server(tmp / f"data{w}", None if extractive else llm, telegram,
                                                    ports[-1], extra))
                llm.delay = delay
                offset = 0
                for channel in channels:
                    for n in users:
                        targets = ports if channel == "web" else ports[:1]
                        calls_before = collections.Counter(c.method for c in tg.calls)
                        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
                        latencies, errors, wall = await run_users(channel, n, targets, tg, offset)
                        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
                        offset += n
                        added = [max(0.0, x - delay) * 1000 for x in latencies]
                        out["runs"].append({
                            "channel": channel, "users": n, "workers": len(targets), "errors": errors,
                            "wall_s": round(wall, 2), "throughput_per_s": round(len(latencies) / wall, 1),
                            "added_ms_p50": round(pct(added, 50), 1), "added_ms_p95": round(pct(added, 95), 1),
                            "added_ms_p99": round(pct(added, 99), 1),
                            "server_cpu_ms_per_answer": round(cpu * 1000 / max(1, len(latencies)), 1),
                            "server_peak_rss_mb": round(max(peak_rss_mb(p.pid) for p in procs), 1)})
                        if channel == "telegram":  # Bot API calls per answer (Telegram allows ~30/s per bot)
                            calls = collections.Counter(c.method for c in tg.calls) - calls_before
                            out["runs"][-1]["bot_api_calls_per_answer"] = {
                                m: round(k / max(1, n), 2) for m, k in sorted(calls.items()) if m != "getUpdates"}
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    await proc.wait()
                if any(r["errors"] for r in out["runs"]):  # show why, before the logs are gone
                    for log_file in sorted(tmp.glob("serve-*.log")):
                        print(f"== {log_file.name}\n" + log_file.read_text(errors="replace")[-3000:], file=sys.stderr)
    return out


def table(result: dict) -> str:
    rows = [f"{'channel':<9}{'users':>6}{'wrk':>4}{'ok/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>7}"
            f"{'cpu ms/answer':>14}{'peak MB':>9}"]
    for r in result["runs"]:
        rows.append(f"{r['channel']:<9}{r['users']:>6}{r['workers']:>4}{r['throughput_per_s']:>7}{r['added_ms_p50']:>9}"
                    f"{r['added_ms_p95']:>9}{r['added_ms_p99']:>9}{r['errors']:>7}{r['server_cpu_ms_per_answer']:>14}"
                    f"{r['server_peak_rss_mb']:>9}")
    return "\n".join(rows) + (f"\n({result['mode']} answers; time added on top of a {result['llm_delay_s']} s LLM; "
                              f"one question per user, {result['distinct_questions']} distinct; query cache "
                              f"{result['query_cache']}; {result['database']})")


def print_profiles(prefix: str) -> None:
    """The 30 functions with the most own time in each profiled worker."""
    import pstats

    for path in sorted(Path(prefix).parent.glob(Path(prefix).name + ".*")):
        print(f"\n== cProfile of the worker ({path.name}), by own time")
        pstats.Stats(str(path)).sort_stats("tottime").print_stats(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="50,200,500")
    ap.add_argument("--channels", default="web,telegram")
    ap.add_argument("--llm-delay", type=float, default=1.5)
    ap.add_argument("--query-cache", type=int, default=4096, help="EMBEDDING_QUERY_CACHE of the workers")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL and a Chroma server for one worker too")
    ap.add_argument("--database-url", default=None, help="PostgreSQL for several workers (default: a fresh "
                                                         "database on the local server)")
    ap.add_argument("--extractive", action="store_true", help="workers without a chat model")
    ap.add_argument("--profile", action="store_true", help="run the workers under cProfile, print the top functions")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as profiles:
        if args.profile:
            os.environ["QDBOT_BENCH_PROFILE"] = str(Path(profiles) / "worker")
        result = asyncio.run(bench([int(x) for x in args.users.split(",")], args.channels.split(","), args.llm_delay,
                                   args.query_cache, args.workers, args.postgres, args.database_url, args.extractive))
        result["load_average"] = [round(x, 1) for x in os.getloadavg()]
        print(json.dumps(result, ensure_ascii=False))
        print(table(result))
        if args.profile:
            print_profiles(os.environ["QDBOT_BENCH_PROFILE"])


if __name__ == "__main__":
    main()
