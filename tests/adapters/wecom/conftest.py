"""Fixtures for the WeCom channel tests (the deployment itself is in ``harness``).

``wecom`` runs on SQLite; ``wecom_db`` on every store backend (SQLite and PostgreSQL), for the
behaviour that rests on the database: dedupe shared by workers, cursors that survive a restart.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.store import Store
from tests.adapters.wecom.harness import Deployment, deployment
from tests.fakes.wecom_server import FakeWeCom


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeCom]:
    async with FakeWeCom() as server:
        yield server


@pytest.fixture
async def lite_store(tmp_path: Path) -> AsyncIterator[Store]:
    st = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'wecom.db'}")
    yield st
    await st.close()


@pytest.fixture
async def wecom(fake: FakeWeCom, lite_store: Store, settings: Settings) -> AsyncIterator[Deployment]:
    async with deployment(fake, lite_store, settings) as dep:
        yield dep


@pytest.fixture
async def wecom_db(fake: FakeWeCom, store: Store, settings: Settings) -> AsyncIterator[Deployment]:
    async with deployment(fake, store, settings) as dep:
        yield dep
