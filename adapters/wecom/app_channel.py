"""The WeCom self-built app channel ("wecom"): callback in, ``message/send`` out.

    POST /wecom/callback -> checks (callback.py) -> kf trigger? hand it to the kf channel
                         -> queued, 200 with an empty body at once
    worker (a bounded pool) -> dedupe claim (MsgId / FromUserName+CreateTime) in the database,
                               shared by every worker process -> engine.handle, whose replies
                               come back through ``send``

The acknowledgement does no database work: under load a claim costs milliseconds of event-loop
time each, and hundreds of them would hold up acknowledgements that WeCom wants within 5 s.
A redelivery loses the claim in the worker (and, failing that, the engine's store-first write).

It is also a staff channel for the handoff desk (``on_ticket_event``): technology managers on the
roster get ticket notices here and act with text commands (app_staff); ``tell`` is how other
WeCom parts (the kf handoff) reach a manager.
"""
from __future__ import annotations

from collections.abc import Sequence

import structlog
from aiohttp import web

from adapters.wecom import callback, render, translate
from adapters.wecom.tokens import StoreTokens
from adapters.wecom.api import WeComClient
from adapters.wecom.app_staff import AppStaff
from adapters.wecom.budget import SendBudget
from adapters.wecom.settings import WeComSettings
from adapters.wecom.tasks import WorkQueue
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
        self.client = client or wecom.make_client(StoreTokens(engine.store, settings.secret_key()))
        self.budget = budget or SendBudget()
        self.links = render.AnswerLinks(settings)
        self.endpoint = callback.CallbackEndpoint(wecom.make_crypto(), wecom.wecom_callback_max_age,
                                                  self._dispatch, lambda: self._handler is not None)
        self.jobs = WorkQueue(wecom.wecom_workers)
        self.staff = AppStaff(engine, self.tell)
        self._handler: InboundHandler | None = None
        self._draining: InboundHandler | None = None  # while stopping: finish accepted callbacks

    def routes(self) -> list[web.RouteDef]:
        return self.endpoint.routes(self.wecom.wecom_callback_path)

    async def start(self, handler: InboundHandler) -> None:
        self._handler = handler
        self.jobs.start()

    async def stop(self) -> None:
        """Refuse new callbacks (503: WeCom delivers them again), finish the accepted ones."""
        handler, self._handler = self._handler, None
        self._draining = handler
        await self.jobs.stop(self.settings.shutdown_grace_seconds)
        self._draining = None
        await self.client.close()

    # --- inbound --------------------------------------------------------------------------

    async def _dispatch(self, fields: dict[str, str]) -> web.Response:
        trigger = translate.kf_trigger(fields)
        if trigger is not None:
            return self._forward(trigger)
        agent = fields.get("AgentID", "")
        if agent and agent != str(self.wecom.wecom_agent_id):
            log.warning("wecom_other_agent", agent=agent)
            return callback.ack()
        if self.jobs.full():
            log.warning("wecom_queue_full", pending=self.jobs.pending)
            return web.Response(status=503)  # not acknowledged: WeCom delivers it again
        self.jobs.submit(lambda: self._process(fields), "wecom_message")
        return callback.ack()

    def _forward(self, trigger: translate.KfTrigger) -> web.Response:
        kf = self.engine.channels.get(translate.KF_CHANNEL)
        if kf is None or not hasattr(kf, "on_trigger"):
            log.warning("wecom_kf_event_without_kf_channel", open_kfid=trigger.open_kfid)
        else:
            kf.on_trigger(trigger)
        return callback.ack()

    async def _process(self, fields: dict[str, str]) -> None:
        """Handle one accepted callback, unless another delivery of it was claimed first."""
        key = translate.dedupe_key(fields)
        try:
            if await self.engine.store.seen_event(key):
                log.info("wecom_duplicate", key=key)
                return
        except StorageError as exc:  # the engine's store-first write still drops a redelivery
            log.warning("wecom_dedupe_failed", key=key, error=str(exc))
        msg = translate.app_message(fields)
        handler = self._handler or self._draining
        if msg is None or handler is None:
            log.info("wecom_event_ignored", msg_type=fields.get("MsgType"), event=fields.get("Event"))
            return
        if not await self.staff.handle(msg):  # a manager's ticket command, or a question
            await handler(msg)

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
