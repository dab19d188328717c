"""A loopback Telegram Bot API server that python-telegram-bot 22 talks to unchanged.

    async with FakeTelegram() as fake:
        app = Application.builder().token(fake.token).base_url(fake.base_url) \
            .base_file_url(fake.base_file_url).build()

It speaks the wire protocol (POST form-urlencoded or multipart, ``{"ok": ..., "result": ...}``,
error status and description as Telegram sends them), keeps chats, messages, topics and the
update queue in memory, and lets tests queue updates, inspect calls and inject faults.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import re
from collections import defaultdict, deque

import aiohttp
from aiohttp import web

from tests.fakes import telegram_objects as tg
from tests.fakes.telegram_objects import (
    CHAT_ACTIONS, FAULT_KINDS, ApiError, Call, ChatState, Fault, Signal, read_params)
from tests.fakes.loopback import LoopbackServer

DEFAULT_TOKEN = "123456789:FAKE-telegram-token_0123456789abcdef"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_REGISTERED = object()  # deliver_webhook: use the secret registered by setWebhook
_API: dict[str, object] = {}


def api(name: str):
    """Register a Bot API method handler (method names are case-insensitive, as on Telegram)."""
    def register(handler):
        _API[name.lower()] = handler
        return handler
    return register


class FakeTelegram(ChatState, LoopbackServer):
    """Loopback Bot API on 127.0.0.1 and a free port; see the module docstring."""

    base_path = "/bot"

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "fake_qd_bot"):
        ChatState.__init__(self, tg.bot_user(int(token.split(":")[0]), bot_username))
        LoopbackServer.__init__(self)
        self.token = token
        self.delay = 0.0  # seconds added before every reply
        self.calls: list[Call] = []
        self.updates: list[dict] = []  # queued, not yet confirmed by getUpdates offset
        self.webhook_url, self.webhook_secret = "", ""
        self._update_ids = itertools.count(10_000)
        self._callback_ids: set[str] = set()
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._new_updates, self._recorded = Signal(), Signal()
        self.listeners: list = []  # callables given every recorded Call (benchmarks wait on them)
        self._poll_generation = 0
        self._closing = False

    # -- lifecycle ----------------------------------------------------------

    @property
    def base_file_url(self) -> str:
        return self.url("/file/bot")

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    async def stop(self) -> None:
        self._closing = True
        self._new_updates.notify()  # release pending long polls
        await super().stop()

    # -- control API: updates -------------------------------------------------

    def push_update(self, update: dict) -> dict:
        """Queue an update for getUpdates (assigning update_id when missing); returns it."""
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._new_updates.notify()
        return update

    def user_message(self, chat_id: int, user_id: int, text: str = "", *,
                     chat_type: str = "private", first_name: str = "Test User",
                     language_code: str | None = "zh-hans", message_thread_id: int | None = None,
                     is_topic_message: bool | None = None, entities: list[dict] | None = None,
                     reply_to: int | dict | None = None, sticker: bool = False,
                     photo: bool = False, voice: bool = False) -> dict:
        """Queue a Message update from a user; text becomes the caption of a photo or voice."""
        chat = self._remember_chat(chat_id, chat_type, first_name, bool(is_topic_message))
        if is_topic_message and message_thread_id:
            self.topics.setdefault((chat_id, message_thread_id),
                                   tg.forum_topic(message_thread_id, f"Topic {message_thread_id}", None))
        fields = self._content(text, entities, sticker=sticker, photo=photo, voice=voice)
        msg = self._store(tg.message(
            next(self._message_ids[chat_id]), chat, tg.user(user_id, first_name, language_code),
            message_thread_id=message_thread_id, is_topic_message=is_topic_message,
            reply_to_message=self._reply_target(chat, reply_to), **fields))
        return self.push_update({"message": msg})

    def callback_query(self, chat_id: int, user_id: int, data: str, message_id: int, *,
                       first_name: str = "Test User", language_code: str | None = "zh-hans") -> dict:
        """Queue a CallbackQuery update for a button under message_id in chat_id."""
        query_id = str(next(self._serials))
        self._callback_ids.add(query_id)
        chat = self._chat(chat_id)
        message = self.messages.get((chat_id, message_id)) or tg.message(message_id, chat, self.me)
        return self.push_update({"callback_query": {
            "id": query_id, "from": tg.user(user_id, first_name, language_code),
            "chat_instance": f"ci{chat_id}", "data": data, "message": message}})

    async def deliver_webhook(self, update: dict, url: str | None = None, *,
                              secret: str | None | object = _REGISTERED) -> int:
        """POST update to the webhook (secret header as registered, or as given; None omits it)."""
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no webhook registered: call setWebhook first or pass url")
        secret = self.webhook_secret if secret is _REGISTERED else secret
        headers = {SECRET_HEADER: secret} if secret else {}
        async with aiohttp.ClientSession() as session, \
                session.post(target, json=update, headers=headers) as response:
            status = response.status
        if 200 <= status < 300 and update in self.updates:
            self.updates.remove(update)
        return status

    # -- control API: faults and inspection ------------------------------------

    def fail_next(self, method: str, kind: str, n: int = 1, *, retry_after: int = 1,
                  seconds: float = 1.0) -> None:
        """Make the next n calls of method fail with kind (one of FAULT_KINDS); slow = delayed."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        self._faults[method.lower()].extend(Fault(kind, retry_after, seconds) for _ in range(n))

    @property
    def sent(self) -> list[Call]:
        """Calls that succeeded (status 200), in order; ``calls`` also holds the failed ones."""
        return [call for call in self.calls if call.ok]

    def sent_messages(self, chat_id: int | None = None) -> list[dict]:
        """Params of successful sendMessage calls, optionally for one chat."""
        return [call.params for call in self._matching("sendMessage")
                if chat_id is None or call.params.get("chat_id") == chat_id]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5,
                       predicate=None) -> list[Call]:
        """Wait until count successful calls of method (matching predicate(params)) arrived."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found := self._matching(method, predicate)) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [(call.method, call.status) for call in self.calls]
                raise AssertionError(f"wanted {count} x {method}, got {len(found)}; calls: {seen}")
            await self._recorded.wait(remaining)
        return found

    def _matching(self, method: str, predicate=None) -> list[Call]:
        return [call for call in self.sent if call.method.lower() == method.lower()
                and (predicate is None or predicate(call.params))]

    # -- request pipeline ---------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method, params = request.match_info["method"], await read_params(request)
        try:
            result = await self._dispatch(request.match_info["token"], method, params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.status, exc.body()
        call = Call(method, params, status)
        self.calls.append(call)
        self._recorded.notify()
        for listener in self.listeners:
            listener(call)
        return web.json_response(body, status=status)

    async def _dispatch(self, token: str, method: str, params: dict):
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise ApiError(401, "Unauthorized")
        handler = _API.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        await self._apply_faults(method)
        return await handler(self, params)

    async def _apply_faults(self, method: str) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        queue = self._faults.get(method.lower())
        if not queue:
            return
        fault = queue.popleft()
        if fault.kind != "slow":
            raise fault.error()
        await asyncio.sleep(fault.seconds)

    # -- Bot API methods ---------------------------------------------------------------

    @api("getMe")
    async def _get_me(self, params: dict) -> dict:
        return self.me

    @api("setWebhook")
    async def _set_webhook(self, params: dict) -> bool:
        secret = params.get("secret_token") or ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url, self.webhook_secret = params.get("url") or "", secret
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    @api("deleteWebhook")
    async def _delete_webhook(self, params: dict) -> bool:
        return await self._set_webhook({"drop_pending_updates": params.get("drop_pending_updates")})

    @api("getWebhookInfo")
    async def _get_webhook_info(self, params: dict) -> dict:
        return {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self.updates)}

    @api("getUpdates")
    async def _get_updates(self, params: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        self.updates = tg.unconfirmed(self.updates, params.get("offset"))
        self._poll_generation += 1
        generation, loop = self._poll_generation, asyncio.get_running_loop()
        self._new_updates.notify()  # an older long poll is terminated, as on Telegram
        deadline = loop.time() + float(params.get("timeout") or 0)
        while not self.updates and not self._closing and loop.time() < deadline:
            await self._new_updates.wait(deadline - loop.time())
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
        return self.updates[: int(params.get("limit") or 100)]

    @api("sendMessage")
    async def _send_message(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id"))
        thread = self._thread(chat["id"], params.get("message_thread_id"))
        text, entities = tg.rendered_text(params)
        markup = params.get("reply_markup")
        return self._store(tg.message(
            next(self._message_ids[chat["id"]]), chat, self.me, text=text, entities=entities,
            message_thread_id=thread, is_topic_message=True if thread else None,
            reply_markup=markup if isinstance(markup, dict) and "inline_keyboard" in markup else None))

    @api("editMessageText")
    async def _edit_message_text(self, params: dict) -> dict:
        msg = self._bot_message(params)
        text, entities = tg.rendered_text(params)
        markup = params.get("reply_markup")
        if (msg.get("text"), msg.get("entities"), msg.get("reply_markup")) == (text, entities, markup):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content "
                                "and reply markup are exactly the same as a current content and "
                                "reply markup of the message")
        fields = {"text": text, "entities": entities, "reply_markup": markup}
        msg.update({key: value for key, value in fields.items() if value is not None})
        for key in (key for key, value in fields.items() if value is None):
            msg.pop(key, None)
        msg["edit_date"] = msg["date"] + 1
        return msg

    @api("editMessageReplyMarkup")
    async def _edit_message_reply_markup(self, params: dict) -> dict:
        msg = self._bot_message(params)
        markup = params.get("reply_markup")
        markup = markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None
        if msg.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content "
                                "and reply markup are exactly the same as a current content and "
                                "reply markup of the message")
        if markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = markup
        msg["edit_date"] = msg["date"] + 1
        return msg

    @api("deleteMessage")
    async def _delete_message(self, params: dict) -> bool:
        key = (params.get("chat_id"), params.get("message_id"))
        if self.messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    @api("sendMessageDraft")
    async def _send_message_draft(self, params: dict) -> bool:
        if self._chat(params.get("chat_id"))["type"] != "private":
            raise ApiError(400, "Bad Request: TEXTDRAFT_PEER_INVALID")
        if not params.get("draft_id"):
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        text, _ = tg.rendered_text(params, allow_empty=True)
        self.drafts[(params["chat_id"], params["draft_id"])] = text
        return True

    @api("sendChatAction")
    async def _send_chat_action(self, params: dict) -> bool:
        self._chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    @api("answerCallbackQuery")
    async def _answer_callback_query(self, params: dict) -> bool:
        if params.get("callback_query_id") not in self._callback_ids:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self._callback_ids.discard(params["callback_query_id"])
        return True

    @api("createForumTopic")
    async def _create_forum_topic(self, params: dict) -> dict:
        chat = self._chat(params.get("chat_id"))
        if not chat.get("is_forum"):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        thread_id = next(self._message_ids[chat["id"]])  # the topic's service message id
        topic = tg.forum_topic(thread_id, params.get("name") or "", params.get("icon_color"))
        self.topics[(chat["id"], thread_id)] = topic
        return topic

    @api("editForumTopic")
    async def _edit_forum_topic(self, params: dict) -> bool:
        topic = self._topic(params)
        if params.get("name") == topic["name"]:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["name"] = params.get("name") or topic["name"]
        return True

    @api("closeForumTopic")
    async def _close_forum_topic(self, params: dict) -> bool:
        topic = self._topic(params)
        key = (params["chat_id"], topic["message_thread_id"])
        if key in self.closed_topics:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        self.closed_topics.add(key)
        return True

    @api("deleteForumTopic")
    async def _delete_forum_topic(self, params: dict) -> bool:
        self._topic(params)
        self.delete_topic(params["chat_id"], params["message_thread_id"])
        return True

    @api("getChat")
    async def _get_chat(self, params: dict) -> dict:
        return tg.chat_full_info(self._chat(params.get("chat_id")))

    @api("setMyCommands")
    async def _set_my_commands(self, params: dict) -> bool:
        self.commands = list(params.get("commands") or [])
        return True

    @api("getMyCommands")
    async def _get_my_commands(self, params: dict) -> list[dict]:
        return self.commands
