"""The knowledge base: documents -> chunks -> Chroma (dense) + BM25 (lexical) -> hybrid retriever.

`KnowledgeBase` is the entry point; `IngestReport` is what an ingest returns. They are imported on
first use, so a process that needs only `knowledge.loaders` (the parse worker) stays small.
"""
from __future__ import annotations

from typing import Any

__all__ = ["KnowledgeBase", "IngestReport", "bundled_documents_dir"]


def __getattr__(name: str) -> Any:
    if name == "KnowledgeBase":
        from knowledge.base import KnowledgeBase

        return KnowledgeBase
    if name in ("IngestReport", "bundled_documents_dir"):
        from knowledge import ingest

        return getattr(ingest, name)
    raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
