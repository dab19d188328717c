"""structlog configuration: one line per event to stderr, personal data masked, secrets never logged."""
from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from bot.privacy import mask

_SECRET_KEYS = ("token", "secret", "password", "api_key", "apikey", "authorization", "cookie")


def _scrub(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if any(s in key.lower() for s in _SECRET_KEYS) and key != "event":
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = mask(value)
    return event


def configure(level: str = "INFO", fmt: str = "console") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(level=lvl, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # a library that sets its own logger to DEBUG (bm25s does,
        handler.setLevel(lvl)                     # at import) still prints nothing below the level
    for noisy in ("httpx", "chromadb", "jieba", "bm25s", "aiohttp.access", "telegram", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json" else \
        structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), _scrub,
                    structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
