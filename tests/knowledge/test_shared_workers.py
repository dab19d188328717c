"""Two processes sharing one PostgreSQL database and one `chroma run` server behave as one
knowledge base: what one ingests or removes, the other sees within about two seconds."""
from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import pytest

from bot.store import Store
from knowledge import KnowledgeBase
from knowledge.ingest import doc_id_for
from tests.knowledge.conftest import make_settings
from tests.knowledge.kb_fakes import HashEmbedder

REPO = Path(__file__).resolve().parents[2]
QUANTUM, TUNNEL = "量子通信产业园已于2025年投入运营", "海底隧道实验基地的编号为QD-7788"
SEEN_WITHIN = 2.5  # seconds: the generation is checked once a second, then BM25 is rebuilt

pytestmark = [pytest.mark.postgres, pytest.mark.chroma_server]


class Worker:
    """The other process: `tests.knowledge.kb_worker`, one JSON command and answer per line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, overrides: dict) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.knowledge.kb_worker", json.dumps(overrides), cwd=REPO,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        worker = cls(process)
        assert await worker._read() == {"ready": True}
        return worker

    async def _read(self) -> dict:
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), timeout=60))

    async def call(self, **command) -> dict:
        self.process.stdin.write((json.dumps(command, ensure_ascii=False) + "\n").encode())
        await self.process.stdin.drain()
        return await self._read()

    async def stop(self) -> None:
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), timeout=30)


@pytest.fixture
async def shared(chroma_server, pg_url: str, tmp_path: Path):
    """(knowledge base in this process, worker process): own data dirs, one database, one collection."""
    host, port = chroma_server
    common = {"chroma_host": host, "chroma_port": port, "chroma_collection": f"kb-{uuid.uuid4().hex[:8]}",
              "database_url": pg_url}
    settings = make_settings(tmp_path / "a", **common)
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    kb = KnowledgeBase(settings, store, HashEmbedder())
    worker = await Worker.start({**common, "qdbot_data_dir": str(tmp_path / "b")})
    yield kb, worker
    await worker.stop()
    await kb.close()
    await store.close()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "shared-docs"
    folder.mkdir()
    (folder / "quantum.txt").write_text(f"一、产业\n{QUANTUM}。", encoding="utf-8")
    (folder / "tunnel.txt").write_text(f"一、设施\n{TUNNEL}。", encoding="utf-8")
    return folder


async def _until(predicate, seconds: float = SEEN_WITHIN * 2) -> float:
    """Seconds until the async predicate holds (fails after `seconds`)."""
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < seconds, "not seen in time"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _sides(kb_or_worker: KnowledgeBase | Worker, fact: str) -> set[str]:
    """The sides of the search ("lexical", "dense") on which that process finds `fact`."""
    found = set()
    for mode in ("lexical", "dense"):
        if isinstance(kb_or_worker, Worker):
            texts = (await kb_or_worker.call(op="search", query=fact, mode=mode))["texts"]
        else:
            search = kb_or_worker.search_lexical if mode == "lexical" else kb_or_worker.search_dense
            texts = [p.text for p in await search(fact)]
        if any(fact in t for t in texts):
            found.add(mode)
    return found


async def _seen(kb_or_worker: KnowledgeBase | Worker, fact: str) -> bool:
    return await _sides(kb_or_worker, fact) == {"lexical", "dense"}


async def _gone(kb_or_worker: KnowledgeBase | Worker, fact: str) -> bool:
    return not await _sides(kb_or_worker, fact)


async def test_an_ingest_by_one_process_is_searchable_in_the_other_within_two_seconds(shared, docs: Path) -> None:
    """The worker ingests; this process, never restarted, finds both documents on both sides."""
    kb, worker = shared
    assert await _gone(kb, QUANTUM)
    assert (await worker.call(op="ingest", path=str(docs)))["added"] == 2
    assert await _until(lambda: _seen(kb, QUANTUM)) < SEEN_WITHIN
    assert await _seen(kb, TUNNEL)


async def test_a_document_removed_by_either_process_leaves_both_indexes_of_both(shared, docs: Path) -> None:
    """Removed here: gone from the worker's BM25 and Chroma; removed there: gone from ours."""
    kb, worker = shared
    await worker.call(op="ingest", path=str(docs))
    await _until(lambda: _seen(kb, TUNNEL))
    tunnel_ids = await kb.store.kb.chunk_ids(doc_id_for("shared-docs/tunnel.txt"))
    assert await kb.remove_document(doc_id_for("shared-docs/tunnel.txt"))
    assert await _until(lambda: _gone(worker, TUNNEL)) < SEEN_WITHIN
    assert kb.vectors.existing(tunnel_ids) == set()
    assert (await worker.call(op="remove", doc_id=doc_id_for("shared-docs/quantum.txt")))["removed"]
    assert await _until(lambda: _gone(kb, QUANTUM)) < SEEN_WITHIN
    assert await kb.store.kb.all_chunks() == [] and kb.vectors.count() == 0
