"""The composition root: the one place that wires concrete classes (knowledge, adapters) to the core."""
from __future__ import annotations

from dataclasses import dataclass

from langchain_core.runnables import Runnable

from bot.answerer import Answerer
from bot.engine import Engine
from bot.llm import make_chat_model
from bot.settings import Settings
from bot.store import Store
from knowledge import KnowledgeBase
from knowledge.embeddings import cached, make_embedder


@dataclass
class App:
    settings: Settings
    store: Store
    kb: KnowledgeBase
    answerer: Answerer
    engine: Engine

    async def close(self) -> None:
        await self.kb.close()
        await self.store.close()


async def build_app(settings: Settings, *, llm: Runnable | None = None, ingest_if_empty: bool = True) -> App:
    """Open the store and the knowledge base, ingest the bundled documents on first start, wire the engine."""
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    embedder = cached(make_embedder(settings), settings)
    kb = KnowledgeBase(settings, store, embedder=embedder)
    if ingest_if_empty:
        await kb.ingest_if_empty()
    if llm is None and settings.llm_enabled:
        llm = make_chat_model(settings)
    answerer = Answerer(kb, settings, llm=llm, embedder=embedder)
    return App(settings, store, kb, answerer, Engine(settings, store, answerer))
