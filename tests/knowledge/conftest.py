"""Fixtures of the knowledge tests: a SQLite store, knowledge bases on fast or real embedders,
a once-per-session ingest of the bundled document with the real local model, a `chroma run` server.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
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


class ChromaProcess:
    """A `chroma run` server on a fixed loopback port and path that can be killed and restarted."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path, self.host, self.port = path, "127.0.0.1", port or _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> ChromaProcess:
        chroma = Path(sys.executable).parent / "chroma"
        self.process = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.path), "--host", self.host, "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_heartbeat(f"http://{self.host}:{self.port}/api/v2/heartbeat", self.process)
        return self

    def ensure_running(self) -> ChromaProcess:
        """Resume a stopped server or start a dead one (after a test that killed it failed)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            return self
        return self.start()

    def kill(self) -> None:
        """SIGKILL, as when the server crashes; waits until the process is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `chroma run` server on a free loopback port; yields (host, port)."""
    server = ChromaProcess(tmp_path_factory.mktemp("chroma-server"))
    try:
        server.start()
        yield server.host, server.port
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _killable_chroma(tmp_path_factory: pytest.TempPathFactory):
    server = ChromaProcess(tmp_path_factory.mktemp("chroma-killable"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chroma_process(_killable_chroma: ChromaProcess) -> ChromaProcess:
    """A `chroma run` server the test may kill, stop and restart (running when the test starts;
    use a collection of the test's own)."""
    return _killable_chroma.ensure_running()
