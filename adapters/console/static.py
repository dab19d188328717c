"""The console's own assets (stylesheet and script), served from memory with an ETag; no CDN."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from aiohttp import web
from adapters.console.context import ConsoleContext


FOLDER = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@lru_cache(maxsize=1)
def assets() -> dict[str, tuple[bytes, str, str]]:
    """name -> (body, content type, etag)."""
    return {p.name: (p.read_bytes(), TYPES[p.suffix], hashlib.sha256(p.read_bytes()).hexdigest()[:20])
            for p in FOLDER.iterdir() if p.suffix in TYPES}


async def asset(console: ConsoleContext, request: web.Request) -> web.Response:
    found = assets().get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound(text="not found")
    body, ctype, etag = found
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=ctype, charset="utf-8", headers=headers)
