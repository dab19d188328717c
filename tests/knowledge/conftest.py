"""Fixtures of the knowledge tests: a SQLite store, knowledge bases on fast or real embedders,
a once-per-session ingest of the bundled document with the real local model, a `chroma run` server.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from bot.store import Store
from knowledge import KnowledgeBase
from tests.knowledge.kb_fakes import CountingE5Embedder, HashEmbedder


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"chroma_host": None, "database_url": None, **overrides}
    return load_settings(qdbot_data_dir=data_dir, **values)


@pytest.fixture
def kb_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded defaults on a temporary data dir, isolated from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    for var in ("CHROMA_HOST", "EMBEDDING_PROVIDER", "DATABASE_URL", "CHROMA_COLLECTION"):
        monkeypatch.delenv(var, raising=False)
    settings = make_settings(tmp_path / "data")
    settings.ensure_data_dir()
    return settings


@pytest.fixture
async def kb_store(kb_settings: Settings):
    store = await Store.open(kb_settings.db_url)
    yield store
    await store.close()


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
async def hash_kb(kb_settings: Settings, kb_store: Store, hash_embedder: HashEmbedder):
    """A knowledge base on the fast hashing embedder."""
    kb = KnowledgeBase(kb_settings, kb_store, hash_embedder)
    yield kb
    await kb.close()


async def _ingest_bundled(data_dir: Path) -> None:
    settings = make_settings(data_dir)
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    kb = KnowledgeBase(settings, store, CountingE5Embedder())
    await kb.ingest()
    await kb.close()
    await store.close()


@pytest.fixture(scope="session")
def seeded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the bundled document ingested by the real local model (built once)."""
    data_dir = tmp_path_factory.mktemp("seeded") / "data"
    asyncio.run(_ingest_bundled(data_dir))
    return data_dir


@pytest.fixture
async def seeded(seeded_data_dir: Path, tmp_path: Path):
    """(settings, store, knowledge base on the real local model) over a copy of the seeded data dir."""
    data_dir = tmp_path / "seeded"
    shutil.copytree(seeded_data_dir, data_dir)
    settings = make_settings(data_dir)
    store = await Store.open(settings.db_url)
    kb = KnowledgeBase(settings, store, CountingE5Embedder())
    yield settings, store, kb
    await kb.close()
    await store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_heartbeat(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"chroma run did not answer {url} within {timeout} s")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `chroma run` server on a free loopback port; yields (host, port)."""
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_heartbeat(f"http://127.0.0.1:{port}/api/v2/heartbeat", process)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
