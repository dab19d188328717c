"""The web chat channel: the page, its JSON/SSE API, and delivery of replies to open requests.

    GET  /                       the chat page          GET /static/{name}   its assets
    GET  /api/ui?lang=           the page's sentences   GET /answer/{token}  one answer, signed link
    POST /api/chat               one message -> the answer as JSON
    POST /api/chat/stream        the same as server-sent events: delta*, reply*, done
    POST /api/chat/stop          stop the answer being written for this session (in whichever worker)
    POST /api/feedback           👍/👎 on an answer     GET /api/chat/history?after=
    POST /api/button             a rating button (rate:<ticket>:<stars>); other buttons send their text

The session is a secret the server issues in the HttpOnly `qdbot_chat` cookie (or an API client's own
`session_id` in the body / `X-Chat-Session` header); conversations are stored under an id derived from
it, which is all staff ever see (`adapters.web.session`).

A chat message (either POST /api/chat*) from a client address over WEB_RATE_LIMIT_PER_IP a minute is
refused at the door with 429 and Retry-After: not stored, never seen by the engine.
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from adapters.client_address import client_ip, trusted_proxies
from adapters.web import pages, render, session, translate
from adapters.web.feed import SSE_HEADERS, Feed, Hub, pump
from adapters.web.limit import AddressLimit
from adapters.web.translate import CHANNEL, BadInput
from bot import links
from bot.errors import StorageError
from bot.engine import Engine
from bot.ports import InboundHandler
from bot.privacy import mask
from bot.states import MessageStatus
from bot.settings import Settings
from bot.text import detect_lang
from bot.types import IncomingMessage, Reply, Role

log = structlog.get_logger("qdbot.web")
STOP_CHANNEL = "qdbot_chat_stop"  # a stop pressed on one worker, for the worker writing the answer
HISTORY_PAGE = 500  # messages per history answer; the page asks again while `more`
Handler = Callable[["WebChannel", web.Request], Awaitable[web.StreamResponse]]


def _api(fn: Handler) -> Handler:
    """Refuse while stopped; turn a `BadInput` into a JSON error in the asker's language."""
    @functools.wraps(fn)
    async def wrapper(self: WebChannel, request: web.Request) -> web.StreamResponse:
        lang = translate.lang_of(request.query.get("lang"))
        if not self.accepting:
            return _error("error_unavailable", 503, lang)
        try:
            return await fn(self, request)
        except BadInput as exc:
            return _error(exc.key, exc.status, exc.lang, exc.headers, **exc.fields)
        except StorageError:  # the database is down or restarting: nothing was accepted, try again
            log.warning("web_storage_unavailable", path=request.path)
            return _error("error_unavailable", 503, lang)
    return wrapper


def _error(key: str, status: int, lang: str, headers: dict[str, str] | None = None,
           **fields: object) -> web.Response:
    return web.json_response({"error": pages.say(lang, key, **fields), "code": key.removeprefix("error_")},
                             status=status, headers=headers)


class WebChannel:
    """The built-in web chat (always on): one browser session is one conversation."""

    name = CHANNEL

    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.hub = Hub()
        self.accepting = False
        self._tasks: set[asyncio.Task[dict[str, Any] | None]] = set()
        self.per_address = AddressLimit(settings.web_rate_limit_per_ip)
        self._proxies = trusted_proxies(settings.web_trusted_proxies)

    @functools.cached_property
    def _secret(self) -> bytes:
        return self.settings.secret_key()

    # ------------------------------------------------------------ Channel port

    async def start(self, handler: InboundHandler) -> None:
        """Take messages; they go to `engine.handle` directly, which also streams the answer. Hear the stops
        pressed on other workers."""
        self.accepting = True
        self.engine.subscribe(STOP_CHANNEL, self._stop_here)

    def _stop_here(self, notice: dict[str, Any]) -> None:
        if isinstance(notice.get("chat_id"), str) and self.engine.stop(CHANNEL, notice["chat_id"]):
            log.info("web_answer_stopped", session=notice["chat_id"], by="broadcast")

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """The engine stored the reply already: hand it to the request (or open streams) of this session."""
        self.hub.publish(chat_id, reply)
        return str(reply.message_id) if reply.message_id is not None else None

    async def stop(self) -> None:
        """Take no new messages; answers in flight finish (the engine drains them)."""
        self.accepting = False

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.index),
            web.get("/static/{name}", self.static),
            web.get("/api/ui", self.ui),
            web.post("/api/chat", self.chat),
            web.post("/api/chat/stream", self.chat_stream),
            web.post("/api/chat/stop", self.chat_stop),
            web.post("/api/feedback", self.feedback),
            web.post("/api/button", self.button),
            web.get("/api/chat/history", self.history),
            web.get("/answer/{token}", self.answer_page),
        ]

    # ------------------------------------------------------------ running a message

    def _spawn(self, feed: Feed, msg: IncomingMessage) -> asyncio.Task[dict[str, Any] | None]:
        """Handle the message in its own task, so a client that goes away cancels nothing."""
        task = asyncio.create_task(self._handle(feed, msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _handle(self, feed: Feed, msg: IncomingMessage) -> dict[str, Any] | None:
        """The engine's outcome as the API's JSON (also the `done` event), or None when it failed."""
        try:
            out = await self.engine.handle(msg, feed)
        except StorageError:  # nothing was accepted: the client is told to try again (503)
            feed.end("error", {"error": pages.say(msg.lang or "zh", "error_unavailable"), "code": "unavailable"})
            raise
        except Exception:
            log.exception("web_handle_failed", session=msg.chat_id)
            feed.end("error", {"error": pages.say(msg.lang or "zh", "error_server")})
            return None
        payload = render.outcome_json(out, feed.replies, self.engine.answerer.mode.value)
        feed.end("done", payload)
        return payload

    async def _chat_input(self, request: web.Request) -> translate.ChatIn:
        lang = translate.lang_of(request.query.get("lang"))
        self._admit(request, lang)
        body = await translate.read_body(request)
        return translate.parse_chat(body, self.settings.max_message_chars, lang)

    def _credential(self, request: web.Request, given: str | None, lang: str) -> tuple[str, bool]:
        """The session secret: the client's own (body or header), else the cookie, else a new one that the
        response issues (True). A cookie only counts on a JSON request (a cross-site form cannot send one)."""
        if given:
            return given, False
        cookie = session.from_cookie(request)
        if cookie and request.method == "POST" and request.content_type != "application/json":
            raise BadInput("error_bad_json", 415, lang)
        return (cookie, False) if cookie else (session.new_secret(), True)

    def _issue(self, resp: web.StreamResponse, request: web.Request, secret: str, issued: bool) -> None:
        if issued:
            session.set_cookie(resp, request, secret, self.settings.qdbot_public_url)

    def _admit(self, request: web.Request, lang: str) -> None:
        """Count a chat message against its client address; over the limit it is refused (429)."""
        wait = self.per_address.take(client_ip(request, self._proxies))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise BadInput("error_rate_limited", 429, lang, {"Retry-After": str(seconds)}, seconds=seconds)

    # ------------------------------------------------------------ API

    @_api
    async def chat(self, request: web.Request) -> web.StreamResponse:
        chat = await self._chat_input(request)
        secret, issued = self._credential(request, chat.session_id, chat.lang or "zh")
        public = session.public_id(self._secret, secret)
        with self.hub.open(public, events=False) as feed:
            payload = await asyncio.shield(self._spawn(feed, translate.to_message(chat, public)))
        resp = _error("error_server", 500, chat.lang or "zh") if payload is None else web.json_response(payload)
        self._issue(resp, request, secret, issued)
        return resp

    @_api
    async def chat_stream(self, request: web.Request) -> web.StreamResponse:
        chat = await self._chat_input(request)
        secret, issued = self._credential(request, chat.session_id, chat.lang or "zh")
        public = session.public_id(self._secret, secret)
        resp = web.StreamResponse(headers=SSE_HEADERS)
        self._issue(resp, request, secret, issued)
        await resp.prepare(request)
        with self.hub.open(public) as feed:
            self._spawn(feed, translate.to_message(chat, public))
            try:
                await pump(feed, resp)
                await resp.write_eof()
            except ConnectionResetError:
                log.info("web_stream_client_gone", session=public)
        return resp

    @_api
    async def chat_stop(self, request: web.Request) -> web.StreamResponse:
        """Stop the session's answer: here when this worker writes it, else every other worker is told (the
        one writing it stops it). Either way the stream ends with the part written so far, stored as stopped;
        `stopped` says whether it was found here. Nothing being written: nothing happens."""
        lang = translate.lang_of(request.query.get("lang"))
        stop = translate.parse_stop(await translate.read_body(request), lang)
        secret, issued = self._credential(request, stop.session_id, lang)
        if issued:
            return _error("error_not_found", 404, lang)
        public = session.public_id(self._secret, secret)
        here = self.engine.stop(CHANNEL, public)
        if not here:
            await self.engine.publish(STOP_CHANNEL, {"chat_id": public})
        log.info("web_stop", session=public, here=here)
        return web.json_response({"ok": True, "stopped": here})

    @_api
    async def feedback(self, request: web.Request) -> web.StreamResponse:
        lang = translate.lang_of(request.query.get("lang"))
        fb = translate.parse_feedback(await translate.read_body(request), lang)
        secret, issued = self._credential(request, fb.session_id, lang)
        if issued or not await self.engine.feedback(CHANNEL, session.public_id(self._secret, secret),
                                                    fb.message_id, fb.value):
            return _error("error_not_found", 404, lang)
        return web.json_response({"ok": True})

    @_api
    async def button(self, request: web.Request) -> web.StreamResponse:
        """A rating button; what the engine says back (thanks) arrives with the next history poll."""
        lang = translate.lang_of(request.query.get("lang"))
        pressed = translate.parse_button(await translate.read_body(request), lang)
        secret, issued = self._credential(request, pressed.session_id, lang)
        public = session.public_id(self._secret, secret)
        if issued or not await self.engine.button(CHANNEL, public, public, pressed.action):
            return _error("error_not_found", 404, lang)
        return web.json_response({"ok": True})

    @_api
    async def history(self, request: web.Request) -> web.StreamResponse:
        """The session's stored messages after `after`, oldest first, and `cursor`: the id to ask after next
        time (the last one looked at, shown or withheld). Ids of a conversation are given in commit order
        (`Store._touch`), so a page that always asks after the cursor it was given sees every message once,
        whatever it sent meanwhile and whichever worker answers. Also the open ticket, for the banner."""
        q = translate.parse_history(request.query)
        secret, issued = self._credential(request, session.from_header(request), "zh")
        public = session.public_id(self._secret, secret)
        stored, ticket = ([], None) if issued else await self.engine.transcript(CHANNEL, public, q.after, HISTORY_PAGE)
        shown = [render.message_json(m) for m in stored if m.status != MessageStatus.SUPPRESSED]
        resp = web.json_response({"messages": shown, "cursor": stored[-1].id if stored else q.after,
                                  "more": len(stored) == HISTORY_PAGE, "ticket": render.ticket_json(ticket)},
                                 headers={"Cache-Control": "no-store"})
        self._issue(resp, request, secret, issued)
        return resp

    async def ui(self, request: web.Request) -> web.Response:
        lang = translate.lang_of(request.query.get("lang"))
        return web.json_response({"lang": lang, "strings": pages.ui(lang),
                                  "max_chars": self.settings.max_message_chars},
                                 headers={"Cache-Control": "no-cache"})

    # ------------------------------------------------------------ pages

    async def index(self, request: web.Request) -> web.Response:
        """The chat page; a browser without a session gets its secret in the HttpOnly cookie here."""
        resp = pages.asset_response(request, "index.html")
        if session.from_cookie(request) is None:
            self._issue(resp, request, session.new_secret(), True)
        return resp

    async def static(self, request: web.Request) -> web.Response:
        return pages.asset_response(request, request.match_info["name"])

    async def answer_page(self, request: web.Request) -> web.Response:
        """One stored answer behind a signed, expiring link; anything else is a 404 page."""
        lang = translate.lang_of(request.query.get("lang"))
        ident = links.verify(self._secret, request.match_info["token"], "answer")
        answer = await self.engine.message(int(ident)) if ident and ident.isdigit() else None
        if answer is None or answer.role != Role.ASSISTANT.value:
            return pages.html_response(pages.not_found_html(lang), 404)
        question = await self.engine.message(answer.reply_to_id) if answer.reply_to_id else None
        lang = answer.meta.get("lang") or detect_lang(question.text if question else answer.text)
        if question is not None:  # whoever holds the link sees the question with contact details masked
            question = dataclasses.replace(question, text=mask(question.text))
        return pages.html_response(pages.answer_html(answer, question, lang))
