"""POST /telegram/webhook on the shared aiohttp server: verify the secret, store the update, 200.

Telegram sends the secret registered with setWebhook in ``X-Telegram-Bot-Api-Secret-Token``:
missing -> 401, wrong -> 403 (constant-time comparison), body not an Update (or JSON nested deeper
than ``MAX_JSON_DEPTH``, checked before any recursive parser sees it) -> 400, channel not
running or the update not storable -> 503 (Telegram retries non-2xx later). An accepted update is
stored in the channel's durable inbox (idempotent on update_id; one commit shared by concurrent
requests) before the 200; answering happens in the background, so Telegram never waits for the
LLM, and an acknowledged update survives a crash.
"""
from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from telegram import Bot, Update
from telegram.ext import Application

from bot.errors import BadRequestError, SignatureError, StorageError

TelegramApp = Application[Any, Any, Any, Any, Any, Any]  # PTB's Application, whatever its context types

log = structlog.get_logger("qdbot.telegram")
PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_JSON_DEPTH = 32  # a real Update nests about 8 levels (update > message > reply_to_message > entities > user)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


class WebhookReceiver:
    """The aiohttp handler for Telegram's webhook requests."""

    def __init__(self, application: TelegramApp, secret: str,
                 accept: Callable[[str, str], Awaitable[object]]):
        """``accept(key, payload)`` stores the update (StorageError when it cannot)."""
        self.application, self.secret, self.accept = application, secret, accept

    def route(self) -> web.RouteDef:
        return web.post(PATH, self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        try:
            self.verify(request.headers.get(SECRET_HEADER))
        except SignatureError as exc:
            status = 401 if request.headers.get(SECRET_HEADER) is None else 403
            log.warning("webhook_rejected", status=status, reason=str(exc), peer=request.remote)
            return web.json_response({"ok": False, "error": "forbidden"}, status=status)
        if not self.application.running:
            return web.json_response({"ok": False, "error": "not running"}, status=503)
        body = await request.read()
        try:
            update = self.parse(body)
        except BadRequestError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        try:
            await self.accept(str(update.update_id), body.decode("utf-8"))
        except StorageError as exc:
            log.warning("webhook_not_stored", update_id=update.update_id, error=str(exc))
            return web.json_response({"ok": False, "error": "not stored"}, status=503)
        return web.json_response({"ok": True})

    def verify(self, given: str | None) -> None:
        """SignatureError unless given equals the registered secret."""
        if given is None:
            raise SignatureError("missing secret token header")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise SignatureError("wrong secret token")

    def parse(self, body: bytes) -> Update:
        """The Update in body; BadRequestError for anything else."""
        return parse_update(body, self.application.bot)


def parse_update(body: bytes | str, bot: Bot | None) -> Update:
    """The Update in a webhook body (or a stored one); BadRequestError for anything else, including
    JSON nested deeper than MAX_JSON_DEPTH (refused before json and PTB recurse into it)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise BadRequestError(f"bad update: JSON nested {depth} levels deep (limit {MAX_JSON_DEPTH})")
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not a Telegram Update")
        return Update.de_json(data, bot)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise BadRequestError(f"bad update: {exc}") from exc


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), without recursion."""
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw)):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest
