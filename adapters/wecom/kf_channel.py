"""The WeChat Customer Service channel ("wecom_kf"): pull with ``kf/sync_msg``, answer with ``kf/send_msg``.

    kf_msg_or_event (Token, OpenKfId) -> stored in the inbox (key: open_kfid + Token, so WeCom's
    retries of one callback are one row) -> ack -> an inbox worker asks for a pull and the row is
    done when a pull that began after it has finished; one pull task per open_kfid, serial across
    workers (the store's named lock; a trigger during a pull makes it pull once more, newest token):
        page = sync_msg(cursor, token)        cursor from the store
        handle every message (per customer in order, customers concurrently), skipping msgids
            marked handled in the store (shared by all workers), marking each once handled
        store next_cursor                     after every page, empty ones too
        repeat while has_more
    origin 3 text       -> engine.handle (bot states; with a human (2/3): through the engine when
                           a ticket is open, so it is stored and relayed to the staff while the
                           sender refuses every reply; without a ticket stored only)
    menu click          -> feedback on the answer, a rating, or "/human"
    origin 5            -> stored in the transcript as the technology manager's message
    enter_session       -> the welcome, sent with its welcome_code
    session_status_change / msg_send_fail -> a note in the transcript (and the log); session
                           changes also move the handoff ticket (kf_handoff)

As a staff channel (``on_ticket_event``) it moves sessions with the ticket: to the pool, to the
claiming manager's servicer account, ended when the ticket closes (see kf_handoff).

A trigger stored but not pulled for (a crash) is pulled for by the next start or another worker;
a page is handled again when its cursor was not stored, and customer messages in it are answered
once (the engine stores each by msgid first). The sync token is kept in the store too, so a
restarted worker resumes an unfinished batch while the token is valid (10 minutes).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import structlog
from aiohttp import web

from adapters.wecom import callback, render, texts
from adapters.wecom.tokens import StoreTokens
from adapters.wecom.api import WeComAPIError, WeComClient
from adapters.wecom.kf_handoff import KfHandoff
from adapters.wecom.kf_send import KfResponder, KfSender
from adapters.wecom.settings import WeComSettings
from adapters.wecom.tasks import TaskGroup
from adapters.wecom.translate import (
    KF_CHANNEL, KfClick, KfEvent, KfServicerText, KfTrigger, kf_item, kf_trigger,
)
from bot.engine import Engine
from bot.errors import ChannelError, StorageError
from bot.handoff import StaffEvent
from bot.ports import InboundHandler
from bot.settings import Settings
from bot.states import ButtonAction, MessageStatus
from bot.types import IncomingMessage, Reply, Role

log = structlog.get_logger("qdbot.wecom")
SYNC = "/cgi-bin/kf/sync_msg"
TOKEN_TTL = 600.0  # a sync token is valid 10 minutes
MAX_EMPTY_PAGES = 20  # has_more with nothing in it, again and again: stop and wait for a callback
SessionHook = Callable[[KfEvent], Awaitable[None]]


class WeComKfChannel:
    name = KF_CHANNEL

    def __init__(self, engine: Engine, settings: Settings, wecom: WeComSettings,
                 client: WeComClient | None = None, *, page_limit: int = 1000, state_ttl: float = 3.0):
        self.engine, self.settings, self.wecom = engine, settings, wecom
        self.client = client or wecom.make_client(StoreTokens(engine, settings.secret_key()))
        self.sender = KfSender(self.client, wecom.kf_secret, render.AnswerLinks(settings), state_ttl)
        self.kfids, self.page_limit = wecom.kf_open_kfids, page_limit
        self.endpoint = callback.CallbackEndpoint(wecom.make_crypto(), wecom.wecom_callback_max_age,
                                                  self._dispatch, lambda: self._handler is not None)
        self.tasks = TaskGroup()
        self.handoff = KfHandoff(engine, self.client, wecom.kf_secret, self.sender)
        self.on_session_change: SessionHook | None = self.handoff.on_session_change
        self._handler: InboundHandler | None = None
        self._stopping = False
        self._tokens: dict[str, tuple[str, float]] = {}  # open_kfid -> (sync token, expires at)
        self._pulling: set[str] = set()
        self._again: set[str] = set()
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}  # open_kfid -> inbox rows awaiting a pull
        self.inbox = engine.inbox(self.name, self._process_trigger, workers=max(4, len(self.kfids)),
                                  lease=settings.inbox_lease_seconds)
        self._chats_at_once = asyncio.Semaphore(wecom.wecom_workers)  # customers served at once

    def routes(self) -> list[web.RouteDef]:
        """Its own callback route, unless the app channel serves the same URL and forwards."""
        if self.wecom.wecom_agent_id is not None and \
                self.wecom.wecom_callback_path == self.wecom.wecom_kf_callback_path:
            return []
        return self.endpoint.routes(self.wecom.wecom_kf_callback_path)

    async def start(self, handler: InboundHandler) -> None:
        self._handler, self._stopping = handler, False
        await self._resume()
        await self.inbox.start()

    async def stop(self) -> None:
        """Finish the message in hand, start no other; the cursor stays at the last whole page."""
        self._stopping = True
        await self.tasks.drain(self.settings.shutdown_grace_seconds)
        await self.inbox.stop(0)  # rows waiting for a pull stay stored for the next start
        self._handler = None
        await self.client.close()

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        closing = await self.handoff.closing_for(chat_id)
        if closing is not None:  # the handed-over session is being ended: its msg_code
            return await self.handoff.send_closing(closing, reply)
        return await self.sender.send(chat_id, reply)

    async def on_ticket_event(self, event: StaffEvent) -> None:
        """The handoff desk's staff-channel hook: the session follows the ticket."""
        await self.handoff.on_event(event)

    # --- triggers and pulls -----------------------------------------------------------------

    async def _dispatch(self, fields: dict[str, str]) -> web.Response:
        trigger = kf_trigger(fields)
        if trigger is None:
            log.info("wecom_kf_callback_ignored", msg_type=fields.get("MsgType"), event=fields.get("Event"))
            return callback.ack()
        return await self.accept_trigger(trigger)

    async def accept_trigger(self, trigger: KfTrigger) -> web.Response:
        """A kf_msg_or_event callback: stored (then acknowledged), and a pull of that account asked
        for (once started, if it is not); 503 when it cannot be stored (WeCom delivers it again)."""
        if trigger.open_kfid not in self.kfids or not trigger.token:
            log.warning("wecom_kf_unknown_account", open_kfid=trigger.open_kfid)
            return callback.ack()
        payload = json.dumps({"open_kfid": trigger.open_kfid, "token": trigger.token,
                              "expires": time.time() + TOKEN_TTL})
        try:
            await self.inbox.accept(f"{trigger.open_kfid}:{trigger.token}", payload)
        except StorageError as exc:
            log.warning("wecom_kf_not_stored", error=str(exc))
            return web.Response(status=503)
        return callback.ack()

    async def _process_trigger(self, payload: str, recovered: bool) -> None:
        """An inbox row: pull its account with its token; returns once a pull that began after
        this call has finished (raises when the channel stopped first: the row stays stored)."""
        data = json.loads(payload)
        kfid = data["open_kfid"]
        if self._stopping or self._handler is None:
            raise ChannelError("the kf channel is not running")
        self._tokens[kfid] = max(self._tokens.get(kfid, ("", 0.0)), (data["token"], float(data["expires"])),
                                 key=lambda t: t[1])
        pulled = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(kfid, []).append(pulled)
        self._schedule(kfid)
        await pulled

    def _schedule(self, kfid: str) -> None:
        if self._stopping or self._handler is None:  # not started: start() pulls with this token
            return
        if kfid in self._pulling:
            self._again.add(kfid)
            return
        self._pulling.add(kfid)
        self.tasks.spawn(self._pull_loop(kfid), f"kf_pull:{kfid}")

    async def _pull_loop(self, kfid: str) -> None:
        """One pull task per account here; the store's named lock keeps other workers out. Inbox
        rows waiting when a pull begins are released when it ends (whole: not stopped inside)."""
        waiters: list[asyncio.Future[None]] = []
        try:
            async with self.engine.hold(_key("pull", kfid)):
                while not self._stopping:
                    self._again.discard(kfid)
                    waiters = self._waiting.pop(kfid, [])
                    finished = await self._pull(kfid)
                    _release(waiters, None if finished else ChannelError("stopped inside a pull"))
                    if kfid not in self._again:
                        return
        except Exception as exc:
            _release(waiters, exc)
            raise
        finally:
            self._pulling.discard(kfid)
            if kfid in self._waiting and (self._stopping or kfid not in self._again):
                _release(self._waiting.pop(kfid), ChannelError("the kf channel stopped"))

    async def _pull(self, kfid: str) -> bool:
        """Pull until has_more is 0; False when stopped inside a page (its cursor not stored)."""
        token, expires = self._tokens[kfid]
        await self.engine.set_state(_key("token", kfid), json.dumps({"token": token, "expires": expires}))
        empty = 0
        while not self._stopping and empty < MAX_EMPTY_PAGES:
            cursor = await self.engine.get_state(_key("cursor", kfid)) or ""
            body = {"cursor": cursor, "token": token, "limit": self.page_limit, "open_kfid": kfid}
            try:
                page = await self.client.call(SYNC, self.wecom.kf_secret, body, idempotent=True)
            except WeComAPIError as exc:  # e.g. an expired token: the next callback brings a new one
                log.warning("wecom_kf_sync_failed", open_kfid=kfid, error=str(exc))
                return True
            msgs = page.get("msg_list") or []
            if not await self._handle_page(msgs):
                return False  # stopped inside the page: its cursor is not stored, the rest comes again
            await self.engine.set_state(_key("cursor", kfid), str(page.get("next_cursor") or cursor))
            if not page.get("has_more"):
                return True
            empty = 0 if msgs else empty + 1
        if empty >= MAX_EMPTY_PAGES:
            log.warning("wecom_kf_empty_pages", open_kfid=kfid, pages=empty)
        return not self._stopping

    async def _resume(self) -> None:
        """Pull with a token still valid: one that came before start, or one a previous worker
        stored (a restart inside a batch)."""
        for kfid in self.kfids:
            if kfid not in self._tokens:
                raw = await self.engine.get_state(_key("token", kfid))
                saved = json.loads(raw) if raw else {}
                if saved.get("token"):
                    self._tokens[kfid] = (saved["token"], float(saved.get("expires", 0)))
            if self._tokens.get(kfid, ("", 0.0))[1] > time.time() + 5:
                self._schedule(kfid)

    # --- one page -----------------------------------------------------------------------------

    async def _handle_page(self, msgs: list[dict[str, Any]]) -> bool:
        """Every message of a page: per chat in order, chats concurrently; False if stopped."""
        chats: dict[str, list[tuple[str, object]]] = {}
        for raw in msgs:
            item = kf_item(raw)
            if item is None:
                continue
            chat = item.msg.chat_id if isinstance(item, KfClick) else item.chat_id
            if raw.get("origin") == 3:
                self.sender.customer_spoke(chat)  # WeCom restarted the quota when it arrived
            chats.setdefault(chat, []).append((str(raw.get("msgid", "")), item))
        done = await asyncio.gather(*(self._handle_chat(items) for items in chats.values()))
        return all(done)

    async def _handle_chat(self, items: list[tuple[str, object]]) -> bool:
        async with self._chats_at_once:
            return await self._handle_items(items)

    async def _handle_items(self, items: list[tuple[str, object]]) -> bool:
        for msgid, item in items:
            if self._stopping:
                return False
            key = f"{KF_CHANNEL}:msg:{msgid}"
            try:  # marked after handling: a crash in between handles it again (answered once: the
                if not msgid or not await self.engine.has_event(key):  # engine stores by msgid)
                    await self._handle_item(item)
                    if msgid:
                        await self.engine.seen_event(key)
            except Exception:
                log.exception("wecom_kf_message_failed", msgid=msgid)
        return True

    async def _handle_item(self, item: object) -> None:
        if isinstance(item, KfClick):
            await self._click(item)
        elif isinstance(item, IncomingMessage):
            await self._customer(item)
        elif isinstance(item, KfServicerText):
            await self._servicer(item)
        elif isinstance(item, KfEvent):
            await self._event(item)

    async def _customer(self, msg: IncomingMessage) -> None:
        state = await self.sender.state(msg.chat_id)
        if state in (2, 3) and not await self.handoff.has_ticket(msg.chat_id):
            await self._store_only(msg, state)  # with a human, no ticket: keep it, stay silent
            return
        assert self._handler is not None
        await self._handler(msg, KfResponder(self.sender, msg.chat_id, msg.channel_message_id or ""))

    async def _store_only(self, msg: IncomingMessage, state: int) -> None:
        await self.engine.keep(msg, "with_servicer", service_state=state)
        log.info("wecom_kf_silent", chat=msg.chat_id, service_state=state)

    async def _click(self, click: KfClick) -> None:
        """"handoff" and quick replies ("say:<text>": intake choices, skip, cancel) go the customer-message
        way (stored, deduped, state-checked); the rest
        (feedback, ratings) to ``Engine.button``."""
        if click.action == ButtonAction.HANDOFF or click.action.startswith(f"{ButtonAction.SAY}:"):  # as if the customer typed it
            await self._customer(replace(click.msg, text="/human" if click.action == ButtonAction.HANDOFF else click.action[4:]))
            return
        msg = click.msg
        ok = await self.engine.button(KF_CHANNEL, msg.chat_id, msg.user_id, click.action,
                                      KfResponder(self.sender, msg.chat_id, msg.channel_message_id or ""))
        log.info("wecom_kf_button", chat=msg.chat_id, action=click.action, ok=ok)

    async def _servicer(self, item: KfServicerText) -> None:
        author = await self.handoff.manager_id(item.servicer_userid) or item.servicer_userid
        await self.engine.record_platform_message(
            IncomingMessage(KF_CHANNEL, item.chat_id, item.external_userid, ""), Role.MANAGER, item.text,
            MessageStatus.DELIVERED, author=author,
            meta={"kf_msgid": item.msgid, "origin": 5, "servicer_userid": item.servicer_userid})
        await self.handoff.servicer_spoke(item.chat_id)

    # --- events -------------------------------------------------------------------------------

    async def _event(self, event: KfEvent) -> None:
        kind = event.event_type
        if kind == "enter_session":
            await self._welcome(event)
        elif kind == "session_status_change":
            self.sender.forget_state(event.chat_id)
            await self._note(event, texts.session_change(event.data))
            if self.on_session_change is not None:
                await self.on_session_change(event)
        elif kind == "msg_send_fail":
            await self._note(event, texts.text("zh", "kf_send_fail", fail_type=event.data.get("fail_type", "?"),
                                               msgid=event.data.get("fail_msgid", "?")))
        else:
            log.info("wecom_kf_event", event_type=kind, chat=event.chat_id)

    async def _welcome(self, event: KfEvent) -> None:
        code = str(event.data.get("welcome_code") or "")
        if not code or self._handler is None:
            return
        msg = IncomingMessage(KF_CHANNEL, event.chat_id, event.external_userid, "/start",
                              channel_message_id=event.msgid)
        await self._handler(msg, KfResponder(self.sender, event.chat_id, event.msgid, welcome_code=code))

    async def _note(self, event: KfEvent, text: str) -> None:
        """Record a platform event in the transcript (a system line operators see) and the log."""
        log.info("wecom_kf_event", event_type=event.event_type, chat=event.chat_id, text=text)
        meta = {"kf_event": event.event_type, "kf_msgid": event.msgid,
                **{k: v for k, v in event.data.items() if k != "welcome_code"}}
        await self.engine.record_platform_message(IncomingMessage(KF_CHANNEL, event.chat_id, event.external_userid, ""),
                                                  Role.SYSTEM, text, MessageStatus.EVENT, meta=meta)


def _release(waiters: list[asyncio.Future[None]], exc: BaseException | None) -> None:
    for future in waiters:
        if not future.done():
            future.set_exception(exc) if exc is not None else future.set_result(None)


def _key(kind: str, kfid: str) -> str:
    return f"{KF_CHANNEL}:{kind}:{kfid}"

