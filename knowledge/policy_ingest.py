"""What ingest records for issue 16 after a document is written: the titles it repeals (policy
status), its application windows (calendar entries, by rules and, when a model is configured, by
the LLM), and one entry in the change log that subscriptions are notified from."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.runnables import Runnable

from bot.store import Store
from bot.records import ChunkRecord, DocumentRecord
from knowledge.calendar_llm import llm_entries
from knowledge.policy_text import calendar_entries, repealed_titles


class PolicyIngest:
    """`Ingestor.on_document`: called once per added or changed document."""

    def __init__(self, store: Store, llm: Runnable[Any, Any] | None = None,
                 on_change: Callable[[], None] | None = None):
        self.store, self.llm, self.on_change = store, llm, on_change

    async def __call__(self, doc: DocumentRecord, chunks: list[ChunkRecord], updated: bool) -> None:
        sections = [(c.section, c.text) for c in chunks]
        identity = doc.identity or {}
        where = dict(doc_id=doc.id, title=doc.title, source=chunks[0].source if chunks else doc.source,
                     region=identity.get("region", ""))
        entries = calendar_entries(sections, **where)
        if self.llm is not None:
            known = {e.clause for e in entries}
            entries += [e for e in await llm_entries(self.llm, sections, **where) if e.clause not in known]
        await self.store.calendar.set_policy(doc.id, {"repeals": repealed_titles(t for _, t in sections)})
        await self.store.calendar.replace_entries(doc.id, entries)
        head = "\n".join(t for _, t in sections)[:4000]
        await self.store.calendar.record_change(doc.id, doc.title, where["region"], "updated" if updated else "added",
                                                head)
        if self.on_change is not None:
            self.on_change()
