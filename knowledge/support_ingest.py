"""What ingest records for issue 17 after a document is written: its support items, read by rules and,
when a model is configured, by the LLM (checked against the text). `chain` runs several
`Ingestor.on_document` hooks in order (issue 16's `PolicyIngest`, then this one)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables import Runnable

from bot.store import Store
from bot.records import ChunkRecord, DocumentRecord
from knowledge.support_items import support_items
from knowledge.support_llm import llm_items

Hook = Callable[[DocumentRecord, list[ChunkRecord], bool], Awaitable[None]]


class SupportIngest:
    """`Ingestor.on_document` hook: the document's support items replace those read before (operators'
    corrections are kept; a clause keeps its review state)."""

    def __init__(self, store: Store, llm: Runnable[Any, Any] | None = None, publish: bool = False):
        self.store, self.llm, self.publish = store, llm, publish

    async def __call__(self, doc: DocumentRecord, chunks: list[ChunkRecord], updated: bool) -> None:
        sections = [(c.section, c.text) for c in chunks]
        where = dict(doc_id=doc.id, title=doc.title, source=chunks[0].source if chunks else doc.source,
                     region=(doc.identity or {}).get("region", ""))
        items = support_items(sections, **where)
        if self.llm is not None:
            items += [i for i in await llm_items(self.llm, sections, **where)
                      if not any(i.clause in r.clause or r.clause in i.clause for r in items)]
        await self.store.eligibility.replace_items(doc.id, items, publish=self.publish)


def chain(*hooks: Hook | None) -> Hook:
    """One `on_document` hook that runs each given hook in order."""
    present = [h for h in hooks if h is not None]

    async def run(doc: DocumentRecord, chunks: list[ChunkRecord], updated: bool) -> None:
        for hook in present:
            await hook(doc, chunks, updated)

    return run
