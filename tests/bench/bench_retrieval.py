"""Retrieval benchmark: latency at scale and quality on the eval questions, ours against a plain
langchain-chroma dense search with the same embedder, measured in the same run.

    python -m tests.bench.bench_retrieval [--sizes 1000,10000,100000] [--queries 200]
                                          [--eval PATH[,PATH]] [--skip-quality]

Prints one JSON object, then a short table. What is measured:

- latency: p50/p95 of hybrid (`KnowledgeBase.search`), dense-only (`search_dense`), BM25-only
  (`search_lexical`) and `langchain_chroma.Chroma.similarity_search(query, k=5)` over a synthetic
  corpus of N chunks (sentences of the bundled document recombined, with fresh numbers). To build
  100k chunks in minutes, corpus and query vectors are *random unit vectors* (384 dims), not the
  model's, and both pipelines get the very same vectors: the figures time Chroma, BM25, fusion and
  the SQL registry. The real model's query embedding time is measured separately and adds to every
  figure but BM25's. Ours run through `asyncio.to_thread` as in the bot; langchain is called directly.
  Then hybrid and dense-only once more with each query embedded by the real model inside the search
  (`with_query_embedding`, the query cache off: every search pays its own embedding, as an uncached
  question does), and the ratio of their p95.
- quality: hit@1, hit@5 and MRR (first hit within the top 10) of dense-only, BM25-only, hybrid and
  langchain-chroma, with the real local model, on the bundled document, for the `fact` questions of
  each eval file (a hit: the top-k passages contain one string of every `expect` group). The
  langchain store holds the same chunks as ours, embedded as plain text (ours prepends the section).

Ingest throughput: `tests/bench/bench_ingest.py`.
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

from langchain_core.embeddings import Embeddings  # noqa: E402

from bot.ports import Embedder  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.records import ChunkRecord, DocumentRecord  # noqa: E402
from knowledge import KnowledgeBase, bundled_documents_dir  # noqa: E402
from knowledge.chunking import chunk_id  # noqa: E402
from knowledge.cleaning import clean_text  # noqa: E402
from knowledge.embeddings import LocalE5Embedder  # noqa: E402
from knowledge.structure import split_sentences  # noqa: E402

DIM = 384
DOC_CHUNKS = 1000
TOP_K, MRR_DEPTH = 5, 10
SEED_FILE = bundled_documents_dir() / "000_fc93bdf836211329.txt"
SHARED_EVAL = Path(os.environ.get("QDBOT_SHARED_DIR", REPO.parent / "shared")) / "eval" / "qa.jsonl"
DEFAULT_EVALS = f"{SHARED_EVAL},{REPO / 'tests' / 'eval' / 'paraphrases.jsonl'}"


class RandomVectorEmbedder:
    """Unit vectors seeded by the text's hash: instant, deterministic, meaningless as semantics.
    With `query_model` set, queries are embedded by that model instead (same dimension)."""

    model_id = "bench/random-unit-384"
    dim = DIM
    query_model: Embedder | None = None

    @staticmethod
    def _vector(text: str) -> list[float]:
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))
        v = rng.standard_normal(DIM).astype(np.float32)
        return (v / np.linalg.norm(v)).tolist()

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.query_model.embed_query(text) if self.query_model else self._vector(text)


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


class LangchainEmbeddings(Embeddings):
    """Our embedder as a langchain `Embeddings` (passages and queries keep their own encodings)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)


def langchain_store(path: Path, embedder: Embedder, chunks: Sequence[ChunkRecord]):
    """A plain langchain-chroma store (own PersistentClient, cosine) holding the chunks' texts."""
    import chromadb
    from langchain_chroma import Chroma

    client = chromadb.PersistentClient(path=str(path))
    store = Chroma(collection_name="langchain", embedding_function=LangchainEmbeddings(embedder),
                   client=client, collection_metadata={"hnsw:space": "cosine"})
    for start in range(0, len(chunks), 2000):
        part = chunks[start:start + 2000]
        store.add_texts([c.text for c in part], ids=[c.id for c in part])
    return store


# -- measurements --------------------------------------------------------------------------------
async def open_kb(data_dir: Path, embedder, query_cache: int = 4096) -> tuple[KnowledgeBase, Store]:
    settings = load_settings(qdbot_data_dir=data_dir, chroma_host=None, database_url=None,
                             embedding_query_cache=query_cache)
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
        result = fn(q)
        if asyncio.iscoroutine(result):
            await result
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def build_synthetic(kb: KnowledgeBase, store: Store, size: int) -> list[ChunkRecord]:
    """Our indexes over the synthetic corpus (vectors, registry, BM25); returns its chunks."""
    everything: list[ChunkRecord] = []
    for doc, chunks in synthetic_records(size):
        vectors = kb.embedder.inner.embed_passages([c.text for c in chunks])
        await asyncio.to_thread(kb.vectors.upsert, [c.id for c in chunks], vectors)
        await store.kb.replace_document(doc, chunks)
        everything.extend(chunks)
    await kb.retriever.rebuild(await store.kb.generation())
    return everything


async def latency_at(size: int, n_queries: int, workdir: Path) -> dict:
    embedder = RandomVectorEmbedder()
    kb, store = await open_kb(workdir / f"size-{size}", embedder, query_cache=0)
    started = time.perf_counter()
    chunks = await build_synthetic(kb, store, size)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    baseline = await asyncio.to_thread(langchain_store, workdir / f"langchain-{size}", embedder, chunks)
    langchain_build_s = time.perf_counter() - started
    queries = bench_queries(n_queries)
    await kb.search(queries[0])  # warm up
    baseline.similarity_search(queries[0], k=TOP_K)
    result = {"chunks": size, "build_seconds": round(build_s, 1),
              "langchain_build_seconds": round(langchain_build_s, 1),
              "hybrid": await timed(kb.search, queries), "dense": await timed(kb.search_dense, queries),
              "bm25": await timed(kb.search_lexical, queries),
              "langchain": await timed(lambda q: baseline.similarity_search(q, k=TOP_K), queries)}
    result["with_query_embedding"] = await with_query_embedding(kb, embedder, queries)
    await kb.close()
    await store.close()
    return result


async def with_query_embedding(kb: KnowledgeBase, embedder: RandomVectorEmbedder, queries: list[str]) -> dict:
    """Hybrid and dense-only p50/p95 with every query embedded by the local model in the search."""
    embedder.query_model = LocalE5Embedder()
    embedder.query_model.embed_query("预热")
    try:
        hybrid, dense = await timed(kb.search, queries), await timed(kb.search_dense, queries)
    finally:
        embedder.query_model = None
    return {"hybrid": hybrid, "dense": dense, "p95_ratio": round(hybrid["p95_ms"] / dense["p95_ms"], 2)}


async def query_embedding_latency(n: int) -> dict[str, float]:
    embedder = LocalE5Embedder()
    embedder.embed_query("预热")
    return await timed(embedder.embed_query, bench_queries(n))


def first_hit(texts: list[str], expect: list[list[str]]) -> int | None:
    """The smallest k whose top-k texts contain one string of every `expect` group, or None."""
    for k in range(1, len(texts) + 1):
        if all(any(s in text for text in texts[:k] for s in group) for group in expect):
            return k
    return None


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    return {"hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 3)}


def fact_questions(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [q for q in rows if q["kind"] == "fact"]


async def quality(workdir: Path, eval_files: list[Path]) -> dict:
    embedder = LocalE5Embedder()
    kb, store = await open_kb(workdir / "quality", embedder)
    await kb.ingest()
    baseline = await asyncio.to_thread(langchain_store, workdir / "langchain-quality", embedder,
                                       await store.kb.all_chunks())

    async def langchain(query: str, k: int) -> list:
        return await asyncio.to_thread(baseline.similarity_search, query, k)

    methods = {"dense": kb.search_dense, "bm25": kb.search_lexical, "hybrid": kb.search, "langchain": langchain}
    result: dict = {}
    for path in eval_files:
        facts = fact_questions(path)
        row: dict = {"questions": len(facts)}
        for name, search in methods.items():
            ranks = []
            for q in facts:
                found = await search(q["question"], MRR_DEPTH)
                ranks.append(first_hit([getattr(p, "text", None) or p.page_content for p in found], q["expect"]))
            row[name] = scores(ranks)
        result[path.name] = row
    await kb.close()
    await store.close()
    return result


def print_table(report: dict) -> None:
    methods = ("hybrid", "dense", "bm25", "langchain")
    print("\n chunks" + "".join(f"{m + ' p50/p95 ms':>22}" for m in methods) + "   build s ours/langchain")
    for row in report["latency"]:
        cells = "".join(f"{row[m]['p50_ms']:>13.1f} /{row[m]['p95_ms']:>6.1f}" for m in methods)
        print(f"{row['chunks']:>7}{cells}   {row['build_seconds']:>7.1f} / {row['langchain_build_seconds']}")
    for row in report["latency"]:
        w = row["with_query_embedding"]
        print(f"{row['chunks']:>7} with the model's query embedding in each search: hybrid "
              f"{w['hybrid']['p50_ms']:.1f} / {w['hybrid']['p95_ms']:.1f}, dense {w['dense']['p50_ms']:.1f} / "
              f"{w['dense']['p95_ms']:.1f} ms p50/p95 (hybrid/dense p95 {w['p95_ratio']})")
    q = report["query_embedding_ms"]
    print(f"(random unit vectors; the local model's query embedding adds p50 {q['p50_ms']} / p95 {q['p95_ms']} ms "
          "to all but bm25)")
    for name, row in report.get("quality", {}).items():
        title = f"{name} ({row['questions']} fact questions)"
        print(f"\n{title:<36}" + "".join(f"{h:>7}" for h in ("hit@1", "hit@5", "MRR")))
        for method in ("dense", "bm25", "hybrid", "langchain"):
            print(f"  {method:<34}" + "".join(f"{row[method][m]:>7.3f}" for m in ("hit@1", "hit@5", "mrr")))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--queries", type=int, default=200, help="queries per latency measurement")
    parser.add_argument("--eval", default=DEFAULT_EVALS, help="comma-separated eval files (jsonl)")
    parser.add_argument("--skip-quality", action="store_true", help="skip hit@k and MRR")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> dict:
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    eval_files = [Path(p) for p in args.eval.split(",") if p.strip() and Path(p).exists()]
    report: dict = {"vectors": "random unit vectors (384-d) for the synthetic corpus and its queries, "
                               "the same for ours and langchain-chroma", "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="qdbot-bench-") as tmp:
        workdir = Path(tmp)
        # model timings first: Chroma's background threads after a large build skew them
        report["query_embedding_ms"] = await query_embedding_latency(50)
        if not args.skip_quality and eval_files:
            report["quality"] = await quality(workdir, eval_files)
        report["latency"] = [await latency_at(size, args.queries, workdir) for size in sizes]
    return report


def emit(report: dict, table) -> None:
    """Print the report as JSON (with the load average it was measured under), then `table(report)`."""
    report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, ensure_ascii=False, indent=2))
    table(report)


def main(argv: list[str] | None = None) -> None:
    emit(asyncio.run(run(parse_args(argv))), print_table)


if __name__ == "__main__":
    main()
