"""Retrieval benchmark: latency at scale, ingest throughput, hit@k on the eval questions.

    python -m tests.bench.bench_retrieval [--sizes 1000,10000,100000] [--queries 200]
                                          [--synthetic-ingest 300] [--eval PATH] [--skip-quality]

Prints one JSON object, then a short table. What is measured:

- latency: hybrid (`KnowledgeBase.search`) and dense-only (`search_dense`) p50/p95 over a synthetic
  corpus of N chunks (sentences of the bundled document recombined, with fresh numbers). To build
  100k chunks in minutes, corpus and query vectors are *random unit vectors* (384 dims), not the
  model's: the figures time Chroma, BM25, fusion and the SQL registry. The real model's query
  embedding time is measured separately and adds to the dense and hybrid figures.
- ingest: chunks/s with the real local model (empty cache) on the bundled document and on a few
  hundred synthetic chunks.
- quality: hit@1 and hit@5 of dense-only, BM25-only and hybrid on the `fact` questions of the eval
  file (a hit: a top-k passage contains one string of every `expect` group).
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.settings import load_settings  # noqa: E402
from bot.store import ChunkRecord, DocumentRecord, Store  # noqa: E402
from knowledge import KnowledgeBase, bundled_documents_dir  # noqa: E402
from knowledge.chunking import chunk_id  # noqa: E402
from knowledge.cleaning import clean_text  # noqa: E402
from knowledge.embeddings import LocalE5Embedder  # noqa: E402
from knowledge.structure import split_sentences  # noqa: E402

DIM = 384
DOC_CHUNKS = 1000
SEED_FILE = bundled_documents_dir() / "000_fc93bdf836211329.txt"
DEFAULT_EVAL = Path(os.environ.get("QDBOT_SHARED_DIR", REPO.parent / "shared")) / "eval" / "qa.jsonl"


class RandomVectorEmbedder:
    """Unit vectors seeded by the text's hash: instant, deterministic, meaningless as semantics."""

    model_id = "bench/random-unit-384"
    dim = DIM

    @staticmethod
    def _vector(text: str) -> list[float]:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))
        v = rng.standard_normal(DIM).astype(np.float32)
        return (v / np.linalg.norm(v)).tolist()

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


# -- synthetic corpus ----------------------------------------------------------------------------
def seed_phrases() -> tuple[list[str], list[str]]:
    """Clauses of the bundled document and its headings, as material for synthetic chunks."""
    text = clean_text(SEED_FILE.read_text(encoding="utf-8"))
    lines = [line for line in text.split("\n") if line]
    headings = [line for line in lines if len(line) < 45 and not line.endswith("。")]
    clauses = [c.strip("。；") for line in lines for s in split_sentences(line) for c in s.split("，")]
    return [c for c in clauses if len(c) >= 6], headings


def synthetic_chunks(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """`n` (section, text) pairs: 3-6 seed clauses recombined, numbers replaced by fresh ones."""
    rng = random.Random(seed)
    clauses, headings = seed_phrases()
    out = []
    for _ in range(n):
        parts = [re.sub(r"\d+", lambda _m: str(rng.randint(2, 5000)), rng.choice(clauses))
                 for _ in range(rng.randint(3, 6))]
        out.append((rng.choice(headings), "，".join(parts) + "。"))
    return out


def synthetic_records(n: int) -> list[tuple[DocumentRecord, list[ChunkRecord]]]:
    """The synthetic corpus as documents of DOC_CHUNKS chunks each."""
    pairs, docs = synthetic_chunks(n), []
    for start in range(0, n, DOC_CHUNKS):
        doc_id = f"synthetic-{start // DOC_CHUNKS:04d}"
        chunks = [ChunkRecord(id=chunk_id(doc_id, sec, text, i), doc_id=doc_id, position=i, title=doc_id,
                              section=sec, source=f"bench/{doc_id}.txt", text=text)
                  for i, (sec, text) in enumerate(pairs[start:start + DOC_CHUNKS])]
        doc = DocumentRecord(id=doc_id, title=doc_id, source=f"bench/{doc_id}.txt", sha256=doc_id,
                             chunk_count=len(chunks))
        docs.append((doc, chunks))
    return docs


def bench_queries(n: int) -> list[str]:
    rng = random.Random(11)
    clauses, _ = seed_phrases()
    return [rng.choice(clauses)[: rng.randint(6, 16)] for _ in range(n)]


# -- measurements --------------------------------------------------------------------------------
async def open_kb(data_dir: Path, embedder) -> tuple[KnowledgeBase, Store]:
    settings = load_settings(qdbot_data_dir=data_dir, chroma_host=None, database_url=None)
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    return KnowledgeBase(settings, store, embedder), store


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


async def timed(fn, queries: list[str]) -> dict[str, float]:
    samples = []
    for q in queries:
        started = time.perf_counter()
        await fn(q)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def latency_at(size: int, n_queries: int, workdir: Path) -> dict:
    kb, store = await open_kb(workdir / f"size-{size}", RandomVectorEmbedder())
    started = time.perf_counter()
    for doc, chunks in synthetic_records(size):
        vectors = kb.embedder.inner.embed_passages([c.text for c in chunks])
        await asyncio.to_thread(kb.vectors.upsert, [c.id for c in chunks], vectors)
        await store.kb_replace_document(doc, chunks)
    await kb.retriever.rebuild(await store.kb_generation())
    build_s = time.perf_counter() - started
    queries = bench_queries(n_queries)
    await kb.search(queries[0])  # warm up
    result = {"chunks": size, "build_seconds": round(build_s, 1),
              "hybrid": await timed(kb.search, queries), "dense": await timed(kb.search_dense, queries),
              "bm25": await timed(kb.search_lexical, queries)}
    await kb.close()
    await store.close()
    return result


def query_embedding_latency(n: int) -> dict[str, float]:
    embedder = LocalE5Embedder()
    embedder.embed_query("预热")
    samples = []
    for q in bench_queries(n):
        started = time.perf_counter()
        embedder.embed_query(q)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def ingest_throughput(workdir: Path, synthetic: int) -> dict:
    kb, store = await open_kb(workdir / "ingest-seed", LocalE5Embedder())
    report = await kb.ingest()
    seed = {"chunks": report.chunks, "seconds": round(report.seconds, 2),
            "chunks_per_s": round(report.chunks / report.seconds, 2)}
    await kb.close()
    await store.close()
    folder = workdir / "synthetic-docs"
    folder.mkdir()
    pairs = synthetic_chunks(synthetic, seed=3)
    for i in range(0, len(pairs), 20):
        lines = [f"{sec}\n{text}" for sec, text in pairs[i:i + 20]]
        (folder / f"doc-{i // 20:03d}.txt").write_text("\n".join(lines), encoding="utf-8")
    kb, store = await open_kb(workdir / "ingest-synthetic", LocalE5Embedder())
    report = await kb.ingest([folder])
    synth = {"chunks": report.chunks, "seconds": round(report.seconds, 2),
             "chunks_per_s": round(report.chunks / report.seconds, 2)}
    await kb.close()
    await store.close()
    return {"seed_document": seed, "synthetic": synth}


def is_hit(passages, expect: list[list[str]], k: int) -> bool:
    top = [p.text for p in passages[:k]]
    return all(any(s in text for text in top for s in group) for group in expect)


async def quality(workdir: Path, eval_file: Path) -> dict:
    questions = [json.loads(line) for line in eval_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    facts = [q for q in questions if q["kind"] == "fact"]
    kb, store = await open_kb(workdir / "quality", LocalE5Embedder())
    await kb.ingest()
    methods = {"dense": kb.search_dense, "bm25": kb.search_lexical, "hybrid": kb.search}
    result: dict = {"questions": len(facts)}
    for name, search in methods.items():
        hits = [(is_hit(p, q["expect"], 1), is_hit(p, q["expect"], 5))
                for q in facts for p in [await search(q["question"], 5)]]
        result[name] = {"hit@1": round(sum(h1 for h1, _ in hits) / len(facts), 3),
                        "hit@5": round(sum(h5 for _, h5 in hits) / len(facts), 3)}
    await kb.close()
    await store.close()
    return result


def print_table(report: dict) -> None:
    print("\nchunks    hybrid p50/p95 ms   dense p50/p95 ms   bm25 p50/p95 ms   build s")
    for row in report["latency"]:
        h, d, b = row["hybrid"], row["dense"], row["bm25"]
        print(f"{row['chunks']:>7}   {h['p50_ms']:>7.1f} /{h['p95_ms']:>7.1f}   {d['p50_ms']:>7.1f} /{d['p95_ms']:>7.1f}"
              f"   {b['p50_ms']:>6.1f} /{b['p95_ms']:>6.1f}   {row['build_seconds']:>6.1f}")
    q = report["query_embedding_ms"]
    print(f"(random unit vectors for the corpus; the local model's query embedding adds "
          f"p50 {q['p50_ms']} ms / p95 {q['p95_ms']} ms)")
    if "ingest" in report:
        for name, row in report["ingest"].items():
            print(f"ingest {name}: {row['chunks']} chunks in {row['seconds']} s = {row['chunks_per_s']} chunks/s")
    if "quality" in report:
        for name in ("dense", "bm25", "hybrid"):
            row = report["quality"][name]
            print(f"{name:>6}: hit@1 {row['hit@1']:.3f}  hit@5 {row['hit@5']:.3f}  "
                  f"({report['quality']['questions']} fact questions)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--queries", type=int, default=200, help="queries per latency measurement")
    parser.add_argument("--synthetic-ingest", type=int, default=300, help="synthetic chunks to ingest (0: skip)")
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, help="eval file (jsonl)")
    parser.add_argument("--skip-quality", action="store_true", help="skip hit@k")
    parser.add_argument("--skip-ingest", action="store_true", help="skip ingest throughput")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict:
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    report: dict = {"vectors": "random unit vectors (384-d) for the synthetic corpus and its queries",
                    "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="qdbot-bench-") as tmp:
        workdir = Path(tmp)
        # model timings first: Chroma's background threads after a large build skew them
        report["query_embedding_ms"] = await asyncio.to_thread(query_embedding_latency, 50)
        if not args.skip_ingest:
            report["ingest"] = await ingest_throughput(workdir, args.synthetic_ingest)
        if not args.skip_quality and args.eval.exists():
            report["quality"] = await quality(workdir, args.eval)
        report["latency"] = [await latency_at(size, args.queries, workdir) for size in sizes]
    return report


def main(argv: list[str] | None = None) -> None:
    report = asyncio.run(run(parse_args(argv)))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print_table(report)


if __name__ == "__main__":
    main()
