from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.engine import POLICY
from tests.fakes.retriever import MemoryRetriever



@pytest.fixture
def retriever() -> MemoryRetriever:
    return MemoryRetriever(POLICY)


@pytest.fixture
async def fake_llm():
    async with FakeOpenAI(api_key="sk-test") as fake:
        yield fake
