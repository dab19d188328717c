"""A second knowledge-base process for the scale-out tests: a long-lived worker driven by JSON lines.

    python -m tests.knowledge.kb_worker '<settings overrides as JSON>'

Reads one command per line on stdin and answers one JSON line on stdout:
``{"op": "ingest", "path": ...}`` -> the report's counts; ``{"op": "remove", "doc_id": ...}`` ->
``{"removed": bool}``; ``{"op": "search", "query": ..., "mode": "hybrid"|"dense"|"lexical"}`` ->
``{"texts": [...]}``. Embeds with the tests' HashEmbedder; says ``{"ready": true}`` once open.
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.settings import load_settings
from bot.store import Store
from knowledge import KnowledgeBase
from tests.knowledge.kb_fakes import HashEmbedder


async def handle(kb: KnowledgeBase, command: dict) -> dict:
    if command["op"] == "ingest":
        report = await kb.ingest([Path(command["path"])])
        return {"added": report.added, "failed": report.failed, "chunks": report.chunks}
    if command["op"] == "remove":
        return {"removed": await kb.remove_document(command["doc_id"])}
    search = {"hybrid": kb.search, "dense": kb.search_dense, "lexical": kb.search_lexical}[command["mode"]]
    return {"texts": [p.text for p in await search(command["query"])]}


def _say(message: dict) -> None:
    print(json.dumps(message, ensure_ascii=False), flush=True)


async def main(overrides: dict) -> None:
    settings = load_settings(**overrides)
    settings.ensure_data_dir()
    store = await Store.open(settings.db_url)
    kb = KnowledgeBase(settings, store, HashEmbedder())
    _say({"ready": True})
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            _say(await handle(kb, json.loads(line)))
    finally:
        await kb.close()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
