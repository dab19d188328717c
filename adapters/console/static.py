"""The console's own assets (stylesheet and script), served from memory with an ETag; no CDN."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from adapters.console.context import ConsoleContext
from adapters.static_files import StaticFiles

FILES = StaticFiles(Path(__file__).parent / "static", (".js", ".css", ".svg"), {"X-Content-Type-Options": "nosniff"})


async def asset(console: ConsoleContext, request: web.Request) -> web.Response:
    return FILES.response(request, request.match_info["name"])
