"""Sending on WeChat Customer Service: session state, the 5-per-48h quota, idempotent msgids.

- The bot sends only while the session is in state 0 (new) or 1 (assistant); the state comes from
  ``kf/service_state/get``, cached for ``state_ttl`` seconds and forgotten whenever a customer
  message or a session event arrives. A 95018 answer is treated the same way. Not sending raises
  ``SendSkipped`` so the engine records the reply as not delivered, with the reason.
- Each customer message allows 5 messages within 48 h; the count restarts when a page of
  ``sync_msg`` shows a new customer message (WeCom restarted it when the message arrived).
- ``msgid`` is an idempotency key (<= 32 chars of ``[0-9a-zA-Z_-]``): derived from the inbound
  msgid, the reply's position among the replies to it and the part number, so a retried send can
  never be delivered twice. Replies with no inbound message (e.g. a technology manager's relay)
  derive it from the stored reply id.
"""
from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from adapters.wecom import render, texts
from adapters.wecom.api import WeComAPIError, WeComClient
from adapters.wecom.translate import split_chat_id
from bot.errors import DeliveryError
from bot.types import Reply

log = structlog.get_logger("qdbot.wecom")
SEND, SEND_ON_EVENT, STATE_GET = ("/cgi-bin/kf/send_msg", "/cgi-bin/kf/send_msg_on_event",
                                  "/cgi-bin/kf/service_state/get")
BOT_STATES = frozenset({0, 1})
QUOTA = 5
NOT_IN_BOT_STATE, QUOTA_USED = 95018, 95001


class SendSkipped(DeliveryError):
    """The bot may not send now (session with a human, ended, or quota used up)."""


@dataclass
class Inbound:
    """The customer message being handled: seeds the msgids of the replies to it."""

    msgid: str
    welcome_code: str | None = None
    replies: Iterator[int] = field(default_factory=itertools.count)


class KfResponder:
    """The engine's `Responder` for one customer message (or event with a welcome code): its replies get
    msgids derived from the message's, and the first one may use the welcome code."""

    def __init__(self, sender: KfSender, chat_id: str, msgid: str, welcome_code: str | None = None):
        self.sender, self.chat_id, self.inbound = sender, chat_id, Inbound(msgid, welcome_code)

    async def reply(self, reply: Reply) -> str | None:
        return await self.sender.send(self.chat_id, reply, self.inbound)

    async def delta(self, text: str) -> None:
        return None  # WeChat Customer Service shows whole messages only

    async def typing(self) -> None:
        return None


def derive_msgid(seed: str, reply_index: int, part: int) -> str:
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:20]
    return f"q{digest}-{reply_index}-{part}"[:32]


class KfSender:
    def __init__(self, client: WeComClient, secret: str, links: render.AnswerLinks,
                 state_ttl: float = 3.0):
        self.client, self.secret, self.links, self.state_ttl = client, secret, links, state_ttl
        self._states: dict[str, tuple[int, float]] = {}
        self._used: dict[str, int] = {}

    # --- state and quota --------------------------------------------------------------------

    def customer_spoke(self, chat_id: str) -> None:
        self._used[chat_id] = 0
        self.forget_state(chat_id)

    def forget_state(self, chat_id: str) -> None:
        self._states.pop(chat_id, None)

    async def state(self, chat_id: str) -> int | None:
        """The session's service_state (cached briefly); None when it cannot be read."""
        cached = self._states.get(chat_id)
        if cached and time.monotonic() - cached[1] < self.state_ttl:
            return cached[0]
        open_kfid, user = split_chat_id(chat_id)
        try:
            data = await self.client.call(STATE_GET, self.secret, {"open_kfid": open_kfid,
                                                                   "external_userid": user}, idempotent=True)
        except WeComAPIError as exc:
            log.warning("wecom_kf_state_unknown", chat=chat_id, error=str(exc))
            return None
        state = int(data.get("service_state", -1))
        self._states[chat_id] = (state, time.monotonic())
        return state

    def remember(self, chat_id: str, state: int) -> None:
        """The state just set (``service_state/trans``) or inferred, cached like a read one."""
        self._states[chat_id] = (state, time.monotonic())

    # --- sending ------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply, inbound: Inbound | None = None) -> str | None:
        """Send one reply; with `inbound` (the customer message it answers) its msgids derive from that
        message's, so a retried delivery is recognised by WeCom; else from our stored reply id."""
        index = next(inbound.replies) if inbound else 0
        seed = inbound.msgid if inbound else f"reply{reply.message_id}"
        if inbound and inbound.welcome_code:
            code, inbound.welcome_code = inbound.welcome_code, None
            return await self._welcome(chat_id, reply, code, derive_msgid(seed, index, 0))
        await self._check_state(chat_id)
        payloads = render.kf_payloads(reply, self.links(reply.message_id), QUOTA - self._used.get(chat_id, 0))
        if not payloads:
            raise SendSkipped(texts.text("zh", "kf_quota_skipped"))
        last = None
        for part, payload in enumerate(payloads):
            last = await self._send_one(chat_id, payload, derive_msgid(seed, index, part))
        return last

    async def _check_state(self, chat_id: str) -> None:
        state = await self.state(chat_id)
        if state is not None and state not in BOT_STATES:
            raise SendSkipped(_state_note(state))

    async def _send_one(self, chat_id: str, payload: dict[str, Any], msgid: str) -> str:
        open_kfid, user = split_chat_id(chat_id)
        body = {"touser": user, "open_kfid": open_kfid, "msgid": msgid, **payload}
        try:
            data = await self.client.call(SEND, self.secret, body, idempotent=True)
        except WeComAPIError as exc:
            skipped = self._skipped(chat_id, exc)
            if skipped is None:
                raise
            raise skipped from exc
        self._used[chat_id] = self._used.get(chat_id, 0) + 1
        return str(data.get("msgid") or msgid)

    def _skipped(self, chat_id: str, exc: WeComAPIError) -> SendSkipped | None:
        if exc.errcode == NOT_IN_BOT_STATE:
            self.remember(chat_id, 3)  # not 0 or 1; the exact state is read again later
            return SendSkipped(texts.text("zh", "kf_state_skipped", state="2/3/4", state_name="95018"))
        if exc.errcode == QUOTA_USED:
            self._used[chat_id] = QUOTA
            return SendSkipped(texts.text("zh", "kf_quota_skipped"))
        return None

    async def _welcome(self, chat_id: str, reply: Reply, code: str, msgid: str) -> str:
        content = render.text_messages(reply, None, max_parts=1)
        return await self.send_on_event(code, render.text_payload(content[0] if content else ""), msgid)

    async def send_on_event(self, code: str, payload: dict[str, Any], msgid: str) -> str:
        """One message with an event's code (welcome_code, msg_code): allowed in any state, once."""
        body = {"code": code, "msgid": msgid, **payload}
        data = await self.client.call(SEND_ON_EVENT, self.secret, body, idempotent=True)
        return str(data.get("msgid") or msgid)


def _state_note(state: int) -> str:
    name = texts.text("zh", f"state_{state}") if 0 <= state <= 4 else str(state)
    return texts.text("zh", "kf_state_skipped", state=state, state_name=name)
