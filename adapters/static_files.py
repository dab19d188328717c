"""The one static-file server of the web chat and the console: files of one folder, and the files both share
(`adapters/static`: the colour palette), read once, served from memory with an ETag (revalidated on every
use: `no-cache`, 304 when the browser's copy is current)."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

from aiohttp import web

SHARED = Path(__file__).parent / "static"  # served next to every folder's own files
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


class Asset:
    def __init__(self, path: Path):
        self.body = path.read_bytes()
        self.content_type = TYPES.get(path.suffix, "application/octet-stream")
        self.etag = hashlib.sha256(self.body).hexdigest()[:20]

    def response(self, request: web.Request, headers: Mapping[str, str]) -> web.Response:
        """The file, or 304 when the browser's copy is current."""
        sent = {"ETag": f'"{self.etag}"', "Cache-Control": "no-cache", **headers}
        if request.headers.get("If-None-Match") == sent["ETag"]:
            return web.Response(status=304, headers=sent)
        return web.Response(body=self.body, content_type=self.content_type, charset="utf-8", headers=sent)


class StaticFiles:
    """The files of `folder` whose suffix is in `suffixes`, with `headers` on every answer."""

    def __init__(self, folder: Path, suffixes: tuple[str, ...], headers: Mapping[str, str]):
        self.folder, self.suffixes, self.headers = folder, suffixes, dict(headers)

    @cached_property
    def assets(self) -> dict[str, Asset]:
        files = [*SHARED.iterdir(), *self.folder.iterdir()]  # a folder's own file wins over a shared one
        return {p.name: Asset(p) for p in files if p.suffix in self.suffixes}

    def response(self, request: web.Request, name: str) -> web.Response:
        asset = self.assets.get(name)
        if asset is None:
            raise web.HTTPNotFound(text="not found")
        return asset.response(request, self.headers)
