"""The WeCom self-built app channel ("wecom"): callback in, ``message/send`` out.

    POST /wecom/callback -> checks (callback.py) -> kf trigger? hand it to the kf channel
                         -> stored in the inbox (key: MsgId / FromUserName+CreateTime; a
                            redelivery finds it there), then 200 with an empty body
    inbox worker (a bounded pool) -> engine.handle, whose replies come back through ``send``

The acknowledgement waits for one database commit shared by every callback arriving within a
few milliseconds (group commit, ``bot.store.inbox``), so a callback WeCom saw acknowledged
survives a crash: the next start (or another worker) answers it, exactly once (``bot.inbox``).
A callback that cannot be stored is answered 503, so WeCom delivers it again.

It is also a staff channel for the handoff desk (``on_ticket_event``): technology managers on the
roster get ticket notices here and act with text commands (app_staff); ``tell`` is how other
WeCom parts (the kf handoff) reach a manager.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import structlog
from aiohttp import web

from adapters.wecom import callback, render, translate
from adapters.wecom.tokens import StoreTokens
from adapters.wecom.api import WeComClient
from adapters.wecom.app_staff import AppStaff
from adapters.wecom.ports import TriggerSink
from adapters.wecom.budget import SendBudget
from adapters.wecom.settings import WeComSettings
from bot.engine import Engine
from bot.errors import DeliveryError, StorageError
from bot.handoff import StaffEvent
from bot.ports import InboundHandler
from bot.settings import Settings
from bot.types import Reply

log = structlog.get_logger("qdbot.wecom")
SEND_PATH = "/cgi-bin/message/send"


class WeComAppChannel:
    name = translate.APP_CHANNEL

    def __init__(self, engine: Engine, settings: Settings, wecom: WeComSettings,
                 client: WeComClient | None = None, budget: SendBudget | None = None):
        self.engine, self.settings, self.wecom = engine, settings, wecom
        self.client = client or wecom.make_client(StoreTokens(engine, settings.secret_key()))
        self.budget = budget or SendBudget()
        self.links = render.AnswerLinks(settings)
        self.endpoint = callback.CallbackEndpoint(wecom.make_crypto(), wecom.wecom_callback_max_age,
                                                  self._dispatch, lambda: self._handler is not None)
        self.inbox = engine.inbox(self.name, self._process, workers=wecom.wecom_workers,
                                  lease=settings.inbox_lease_seconds)
        self.staff = AppStaff(engine, self.tell)
        self._handler: InboundHandler | None = None
        self._draining: InboundHandler | None = None  # while stopping: finish accepted callbacks

    def routes(self) -> list[web.RouteDef]:
        return self.endpoint.routes(self.wecom.wecom_callback_path)

    async def start(self, handler: InboundHandler) -> None:
        self._handler = handler
        await self.inbox.start()

    async def stop(self) -> None:
        """Refuse new callbacks (503: WeCom delivers them again), finish the accepted ones."""
        handler, self._handler = self._handler, None
        self._draining = handler
        await self.inbox.stop(self.settings.shutdown_grace_seconds)
        self._draining = None
        await self.client.close()

    # --- inbound --------------------------------------------------------------------------

    async def _dispatch(self, fields: dict[str, str]) -> web.Response:
        trigger = translate.kf_trigger(fields)
        if trigger is not None:
            return await self._forward(trigger)
        agent = fields.get("AgentID", "")
        if agent and agent != str(self.wecom.wecom_agent_id):
            log.warning("wecom_other_agent", agent=agent)
            return callback.ack()
        if self.inbox.full():
            log.warning("wecom_queue_full", pending=self.inbox.pending)
            return web.Response(status=503)  # not acknowledged: WeCom delivers it again
        try:
            await self.inbox.accept(translate.dedupe_key(fields), json.dumps(fields, ensure_ascii=False))
        except StorageError as exc:
            log.warning("wecom_not_stored", error=str(exc))
            return web.Response(status=503)  # not acknowledged: WeCom delivers it again
        return callback.ack()

    async def _forward(self, trigger: translate.KfTrigger) -> web.Response:
        kf = self.engine.channel(translate.KF_CHANNEL)
        if not isinstance(kf, TriggerSink):
            log.warning("wecom_kf_event_without_kf_channel", open_kfid=trigger.open_kfid)
            return callback.ack()
        return await kf.accept_trigger(trigger)

    async def _process(self, payload: str, recovered: bool) -> None:
        """Handle one stored callback (``recovered``: a worker died while handling it before)."""
        fields = json.loads(payload)
        msg = translate.app_message(fields)
        handler = self._handler or self._draining
        if msg is None:
            log.info("wecom_event_ignored", msg_type=fields.get("MsgType"), event=fields.get("Event"))
            return
        if handler is None:
            raise RuntimeError("the WeCom app channel is not running")  # the row stays for later
        if await self.staff.handle(msg):  # a manager's ticket command
            return
        await handler(msg)
        if recovered:  # stored by the worker that died, perhaps not answered
            await self.engine.resume(msg.channel, msg.channel_message_id)

    # --- outbound -------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Deliver one reply as at most two text messages (within the member's budget)."""
        last = None
        for content in render.text_messages(reply, self.links(reply.message_id)):
            await self.budget.acquire(chat_id)
            body = {"touser": chat_id, "msgtype": "text", "agentid": self.wecom.wecom_agent_id,
                    "text": {"content": content}}
            data = await self.client.call(SEND_PATH, self.wecom.app_secret, body)
            last = str(data.get("msgid") or "") or last
        return last

    async def tell(self, userids: Sequence[str], text: str) -> None:
        """A staff notice to one or more members in one message/send (touser "a|b"): at most two
        messages of 2048 bytes; a member whose budget is spent is left out (and logged)."""
        users = list(dict.fromkeys(u for u in userids if u))
        for content in render.text_messages(Reply(text), None):
            users = [u for u in users if await self._room_for(u)]
            if not users:
                return
            body = {"touser": "|".join(users), "msgtype": "text", "agentid": self.wecom.wecom_agent_id,
                    "text": {"content": content}}
            await self.client.call(SEND_PATH, self.wecom.app_secret, body)

    async def _room_for(self, userid: str) -> bool:
        try:
            await self.budget.acquire(userid)
            return True
        except DeliveryError as exc:
            log.warning("wecom_staff_budget_spent", member=userid, error=str(exc))
            return False

    async def on_ticket_event(self, event: StaffEvent) -> None:
        """The handoff desk's staff-channel hook: notices to technology managers in the app."""
        await self.staff.on_event(event)
