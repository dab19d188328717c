"""The real server, started as `qdbot serve` starts it (on the bundled knowledge base), and headless Chromium.

The server runs in a thread with its own event loop, once per module (the first build ingests the
bundled document with the local embedder); the tests drive Debian's chromium through playwright.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app, make_web_app, run_server
from bot.settings import Settings, load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path("/tmp/qdbot-screenshots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """`build_app` + `make_web_app` + `run_server` on a loop of its own; `call` runs a coroutine there."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.qdbot_port}"
        self.loop = asyncio.new_event_loop()
        self.app: App | None = None
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="qdbot-serve", daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by wait_healthy
            self.error = exc

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.app = await build_app(self.settings)
        try:
            await run_server(self.app, make_web_app(self.app), self._stop)
        finally:
            await self.app.close()

    def start(self, timeout: float = 120.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.error is not None:
                raise RuntimeError("the server failed to start") from self.error
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("/healthz did not answer")

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(15)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing and CI requires it")
    pytest.skip(f"{CHROMIUM} is not installed (not CI): skipping")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """Embedded defaults on a temporary data dir, isolated from the environment and any `.env`."""
    _require_chromium()
    home = tmp_path_factory.mktemp("serve")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL", "CHROMA_HOST", "EMBEDDING_PROVIDER"):
            mp.delenv(var, raising=False)
        srv = ServerThread(load_settings(qdbot_data_dir=home / "data", qdbot_port=_free_port()))
        srv.start()
        yield srv
        srv.stop()


@pytest.fixture(scope="module")
def browser(server: ServerThread):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


def open_page(browser, server: ServerThread, device: dict, **options):
    """A page in a new browser context; `page.problems` collects console errors and uncaught exceptions."""
    context = browser.new_context(locale="zh-CN", base_url=server.url, **device, **options)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.problems = problems
    return pg


@pytest.fixture
def page(browser, server: ServerThread):
    """A fresh phone (new localStorage, so a new session)."""
    pg = open_page(browser, server, PHONE)
    yield pg
    pg.context.close()


@pytest.fixture
def desktop(browser, server: ServerThread):
    """`desktop(page)`: the same browser profile (session, language) on a desktop screen."""
    opened = []

    def make(phone):
        pg = open_page(browser, server, DESKTOP, storage_state=phone.context.storage_state())
        opened.append(pg)
        return pg
    yield make
    for pg in opened:
        pg.context.close()


@pytest.fixture
def streaming_llm(server: ServerThread):
    """The running server answers in LLM mode, streamed slowly from a loopback OpenAI-compatible server."""
    from bot.llm import make_chat_model
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeOpenAI(api_key="k")
    server.call(fake.start())
    fake.stream_delay = 0.1
    settings = load_settings(openai_base_url=fake.base_url, openai_api_key="k", llm_max_retries=0)
    server.app.answerer.llm = make_chat_model(settings)
    yield fake
    server.app.answerer.llm = None
    server.call(fake.stop())


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory):
    """Save a screenshot under a temp dir and copy it to /tmp/qdbot-screenshots/ for people to look at."""
    folder = tmp_path_factory.mktemp("screenshots")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(pg, name: str, full_page: bool = False) -> Path:
        path = folder / f"{name}.png"
        pg.screenshot(path=str(path), full_page=full_page)
        shutil.copy(path, SCREENSHOTS / path.name)
        return path
    return take


@pytest.fixture
def held_llm(server: ServerThread):
    """The running server answers in LLM mode from a loopback model that holds each stream after its first
    text chunk until `fake.release` is set (from this thread: `server.loop.call_soon_threadsafe`)."""
    from bot.llm import make_chat_model
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeOpenAI(api_key="k")
    server.call(fake.start())
    fake.hold_streams = True
    settings = load_settings(openai_base_url=fake.base_url, openai_api_key="k", llm_max_retries=0)
    server.app.answerer.llm = make_chat_model(settings)
    yield fake
    server.loop.call_soon_threadsafe(fake.release.set)
    server.app.answerer.llm = None
    server.call(fake.stop())
