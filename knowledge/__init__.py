"""The knowledge base: documents -> chunks -> Chroma (dense) + BM25 (lexical) -> hybrid retriever.

`KnowledgeBase` is the entry point; `IngestReport` is what an ingest returns.
"""
from knowledge.base import KnowledgeBase
from knowledge.ingest import IngestReport, bundled_documents_dir

__all__ = ["KnowledgeBase", "IngestReport", "bundled_documents_dir"]
