"""The base of every loopback fake: an aiohttp server on 127.0.0.1 (a free port unless one is given),
started and stopped as an async context manager, that records every request it receives.

A fake subclasses it and adds its routes in ``routes(app)`` (and middlewares in ``middlewares()``); a
test that only needs to serve a handful of handlers passes an application instead::

    async with FakeOpenAI() as fake:             # a subclass
        client = openai.AsyncOpenAI(base_url=fake.base_url, ...)

    async with LoopbackServer(app) as server:    # an ad-hoc application
        url = server.url("/telegram")
"""
from __future__ import annotations

from typing import Any, NamedTuple, Self

from aiohttp import web
from multidict import CIMultiDict


class Hit(NamedTuple):
    """One request as the base recorded it (a fake may record richer ones, see ``record``)."""

    method: str
    path: str
    query: str
    headers: CIMultiDict


class LoopbackServer:
    """An aiohttp server on 127.0.0.1; ``base_url`` is its root plus ``base_path``."""

    base_path = ""  # appended to the root in ``base_url`` (e.g. "/v1")
    handler_cancellation = True  # cancel a handler whose client went away
    shutdown_timeout = 0.5  # seconds ``stop`` lets open requests finish

    def __init__(self, app: web.Application | None = None, *, port: int = 0,
                 handler_cancellation: bool | None = None) -> None:
        self.port = port
        if handler_cancellation is not None:
            self.handler_cancellation = handler_cancellation
        self.requests: list[Any] = []  # what ``record`` made of each request, in arrival order
        self._app = app
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return self.url(self.base_path)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # -- for subclasses ---------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        """Add the fake's routes to ``app`` (the base serves the application it was given)."""

    def middlewares(self) -> list[Any]:
        """Middlewares that run after the recording one."""
        return []

    async def record(self, request: web.Request) -> Any:
        """What ``requests`` keeps of one request."""
        return Hit(request.method, request.path, request.query_string, CIMultiDict(request.headers))

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> Self:
        app = self._app or web.Application()
        app.middlewares[:0] = [self._recording, *self.middlewares()]
        self.routes(app)
        self._runner = web.AppRunner(app, handler_cancellation=self.handler_cancellation,
                                     shutdown_timeout=self.shutdown_timeout, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @web.middleware
    async def _recording(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(await self.record(request))
        return await handler(request)
