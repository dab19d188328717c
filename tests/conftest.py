"""Shared fixtures: settings on a temporary data dir and a Store on SQLite and on PostgreSQL.

PostgreSQL tests use the local server (127.0.0.1:5432, trust auth). Each test gets a fresh
database. When the server is unreachable they skip with that reason, except under CI
(`CI=true` or `QDBOT_REQUIRE_POSTGRES=1`), where they fail so they never skip silently.
"""
from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from bot.store import Store

PG_HOST = os.environ.get("QDBOT_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_URL = f"postgresql+asyncpg://postgres@{PG_HOST}/test"
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QDBOT_SHARED_DIR", REPO.parent / "shared"))


def _pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, 5432), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    if _pg_reachable():
        return
    if os.environ.get("CI") or os.environ.get("QDBOT_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL at {PG_HOST}:5432 is unreachable and CI requires it")
    pytest.skip(f"PostgreSQL at {PG_HOST}:5432 is unreachable (not CI): skipping")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, user="postgres", database="test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_pg_database() -> tuple[str, str]:
    name = f"qdbot_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+asyncpg://postgres@{PG_HOST}/{name}"


async def drop_pg_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded defaults on a temporary data dir, isolated from any developer `.env`."""
    monkeypatch.chdir(tmp_path)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL", "CHROMA_HOST", "EMBEDDING_PROVIDER"):
        monkeypatch.delenv(var, raising=False)
    return load_settings(qdbot_data_dir=tmp_path / "data")


@pytest.fixture
async def pg_url():
    require_postgres()
    name, url = await create_pg_database()
    yield url
    await drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path):
    """A migrated Store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        st = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
        yield st
        await st.close()
        return
    require_postgres()
    name, url = await create_pg_database()
    st = await Store.open(url)
    yield st
    await st.close()
    await drop_pg_database(name)


def _clean_env(env: dict[str, str], data_dir: Path) -> dict[str, str]:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL", "CHROMA_HOST", "EMBEDDING_PROVIDER",
                "TELEGRAM_BOT_TOKEN", "WECOM_CORP_ID"):
        env.pop(var, None)
    env["QDBOT_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir where the bundled document was ingested by the real local model (built once)."""
    from bot.app import build_app

    data_dir = tmp_path_factory.mktemp("seeded-app") / "data"

    async def build() -> None:
        app = await build_app(load_settings(qdbot_data_dir=data_dir))
        await app.close()

    asyncio.run(build())
    return data_dir


@pytest.fixture
def app_data_dir(seeded_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded data dir."""
    import shutil

    target = tmp_path / "data"
    shutil.copytree(seeded_dir, target)
    return target


@pytest.fixture
def cli_env(app_data_dir: Path, tmp_path: Path) -> dict[str, str]:
    """Environment for running `qdbot` in a subprocess on a seeded copy, away from any `.env`."""
    return _clean_env(dict(os.environ), app_data_dir)
