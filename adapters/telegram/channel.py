"""TelegramChannel: python-telegram-bot's Application wired to the Engine.

    update --(polling: dedupe update_id in the store, shared by every worker;
              webhook: POST /telegram/webhook -> the durable inbox, idempotent on update_id,
              stored before the 200 -> an inbox worker)
           --> in the staff group (TELEGRAM_STAFF_CHAT_ID): managers' topic messages and
                         buttons -> StaffRoom -> the handoff desk (never Engine.handle)
                     --> message: translate -> Engine.handle (typing, streaming preview)
                     --> callback query: answerCallbackQuery, feedback / handoff, mark the keyboard
                     --> my_chat_member in a private chat: blocked / unblocked
    Engine._send --> TelegramChannel.send --> Sender (HTML, split, keyboard, errors)
    desk ticket event --> TelegramChannel.on_ticket_event --> StaffRoom (the ticket's forum topic)
"""
from __future__ import annotations

import asyncio

import structlog
from aiohttp import web
from telegram import BotCommand, CallbackQuery, ChatMember, MaybeInaccessibleMessage, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (Application, ApplicationHandlerStop, CallbackQueryHandler,
                          ChatMemberHandler, ContextTypes, MessageHandler, TypeHandler, filters)

import prompts
from adapters.telegram import render, stream, translate
from adapters.telegram.delivery import Sender, TurnResponder
from adapters.telegram.limits import AnswersFirst
from adapters.telegram.ordering import StaffTopicsInOrder
from adapters.telegram.settings import TelegramSettings
from adapters.telegram.staff import StaffRoom
from adapters.telegram.webhook import TelegramApp, WebhookReceiver, parse_update
from bot.engine import Engine
from bot.errors import BadRequestError, ChannelError, ConfigError
from bot.handoff import StaffEvent
from bot.ports import InboundHandler
from bot.types import IncomingMessage, Reply

log = structlog.get_logger("qdbot.telegram")
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
COMMANDS = ("start", "help", "new", "human", "subscribe", "subscriptions", "unsubscribe")


def build_application(config: TelegramSettings) -> TelegramApp:
    """PTB Application: our base URL and proxy, concurrent updates (a staff topic's messages in
    order), Telegram's flood limits kept with answers first, 429s waited out and retried."""
    builder = (Application.builder().token(config.token).base_url(config.telegram_api_base_url)
               .base_file_url(config.base_file_url())
               .concurrent_updates(StaffTopicsInOrder(config.telegram_staff_chat_id))
               .rate_limiter(AnswersFirst(max_retries=config.telegram_rate_limit_retries)))
    if config.telegram_proxy_url:
        builder = builder.proxy(config.telegram_proxy_url).get_updates_proxy(config.telegram_proxy_url)
    if config.webhook_mode:
        builder = builder.updater(None)
    try:
        return builder.build()
    except RuntimeError as exc:  # e.g. a socks5:// proxy without python-telegram-bot[socks]
        raise ConfigError(f"TELEGRAM_PROXY_URL cannot be used: {exc}") from exc


class TelegramChannel:
    """The Telegram channel (the `Channel` port): long polling by default, or a webhook."""

    name = translate.CHANNEL

    def __init__(self, engine: Engine, config: TelegramSettings):
        self.engine, self.config = engine, config
        self.application = build_application(config)
        self.sender = Sender(self.application.bot, engine)
        self.inbox = engine.inbox(self.name, self._process_stored, workers=64) if config.webhook_mode else None
        self.webhook = WebhookReceiver(self.application, config.webhook_secret, self.inbox.accept) \
            if self.inbox is not None else None
        staff_chat = config.telegram_staff_chat_id
        self.staff = StaffRoom(self.application.bot, engine, staff_chat, config.telegram_staff_lang) \
            if staff_chat is not None else None
        self._handler: InboundHandler = engine.handle
        app = self.application
        if self.inbox is None:  # polling; the inbox dedupes webhook updates
            app.add_handler(TypeHandler(Update, self._dedupe), group=-1)
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._on_message))
        app.add_handler(CallbackQueryHandler(self._on_callback))
        app.add_handler(ChatMemberHandler(self._on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self._on_error)

    def routes(self) -> list[web.RouteDef]:
        """The webhook route for the shared aiohttp server ([] when polling)."""
        return [self.webhook.route()] if self.webhook else []

    # -- lifecycle -------------------------------------------------------------

    async def start(self, handler: InboundHandler) -> None:
        """getMe, commands, webhook or polling; handler is Engine.handle (it takes a Responder)."""
        self._handler = handler
        try:
            await self.application.initialize()
            await self._set_commands()
            if self.staff is not None:
                await self.staff.start()
            if self.webhook:
                await self.application.bot.set_webhook(
                    self.config.telegram_webhook_url, secret_token=self.config.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES)
            await self.application.start()
            if self.inbox is not None:
                await self.inbox.start()
            if not self.webhook:
                assert self.application.updater is not None  # built without one only for webhooks
                await self.application.updater.start_polling(poll_interval=0.0, allowed_updates=ALLOWED_UPDATES)
        except InvalidToken as exc:
            raise ConfigError(f"TELEGRAM_BOT_TOKEN was refused by the Bot API: {exc}") from exc
        except TelegramError as exc:
            raise ChannelError(f"Telegram unreachable at start (TELEGRAM_PROXY_URL?): {exc}") from exc
        mode = "webhook" if self.webhook else "polling"
        log.info("telegram_started", mode=mode, bot=self.application.bot.username)

    async def _set_commands(self) -> None:
        for lang in (None, "zh", "en"):
            commands = [BotCommand(c, render.phrase(lang or "zh", f"command_{c}")) for c in COMMANDS]
            try:
                await self.application.bot.set_my_commands(commands, language_code=lang)
            except TelegramError as exc:
                log.warning("set_commands_failed", lang=lang, error=str(exc))

    async def stop(self) -> None:
        """Stop taking updates, let answers in flight finish (bounded), close the HTTP client."""
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if self.inbox is not None:  # finish the stored updates in hand (bounded); the rest stay stored
            await self.inbox.stop(self.engine.settings.shutdown_grace_seconds)
        if app.running:
            try:
                await asyncio.wait_for(app.stop(), self.engine.settings.shutdown_grace_seconds)
            except TimeoutError:
                log.warning("telegram_stop_timeout")
        await app.shutdown()

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        return await self.sender.send(chat_id, reply)

    async def on_ticket_event(self, event: StaffEvent) -> None:
        """The handoff desk's staff-channel hook: the ticket's topic in the staff group (if configured)."""
        if self.staff is not None:
            await self.staff.on_event(event)

    def _staff_of(self, message: MaybeInaccessibleMessage | None) -> StaffRoom | None:
        """The staff room when the message is in the staff group, else None."""
        if self.staff is not None and message is not None and message.chat.id == self.staff.chat_id:
            return self.staff
        return None

    # -- inbound -----------------------------------------------------------------

    async def _process_stored(self, payload: str, recovered: bool) -> None:
        """One update from the inbox, through PTB's handlers (and its concurrency rules)."""
        app = self.application
        try:
            update = parse_update(payload, app.bot)
        except BadRequestError as exc:  # stored before the webhook refused such payloads: done, not retried
            log.warning("telegram_inbox_payload_refused", error=str(exc)[:200])
            return
        await app.update_processor.process_update(update, app.process_update(update))
        if recovered and update.message is not None:  # stored by a worker that died, perhaps unanswered
            await self.engine.resume(self.name, f"{update.message.chat.id}:{update.message.message_id}")

    async def _dedupe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self.engine.seen_event(f"tg:{update.update_id}"):
            log.info("telegram_duplicate", update_id=update.update_id)
            raise ApplicationHandlerStop

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:  # the handler's filter lets only messages through
            return
        if (staff := self._staff_of(message)) is not None:
            await staff.on_message(message)
            return
        msg = translate.incoming(update, self.application.bot.bot)
        if msg is None:
            return
        chat = message.chat
        asks = msg.kind == "text" and bool(msg.text.strip()) and not msg.text.startswith("/")
        turn = stream.begin(self.application.bot, chat.id, private=chat.type == "private", lang=msg.lang,
                            reply_to=message.message_id, typing=asks)
        await self._run(turn, msg)

    async def _run(self, turn: stream.Turn, msg: IncomingMessage) -> None:
        try:
            await self._handler(msg, TurnResponder(self.sender, turn))
        finally:
            await turn.close()

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every press is acknowledged; feedback is stored, "human" asks for a technology manager."""
        query = update.callback_query
        if query is None:  # the handler takes only callback queries
            return
        message = query.message
        if (staff := self._staff_of(message)) is not None:
            await staff.on_callback(query)
            return
        action = render.parse_callback(query.data) if message else None
        lang = translate.lang_hint(query.from_user.language_code)
        if message is None or query.data is None or action is None:  # parse_callback: no data, no action
            await self._acknowledge(query, None)
            return
        if action[0] == render.HUMAN:
            await self._acknowledge(query, render.phrase(lang, "handoff_requested"))
            await self._choose(query, render.HUMAN, True)
            chat = message.chat
            await self._run(stream.begin(self.application.bot, chat.id, private=chat.type == "private",
                                         lang=lang), translate.handoff_request(query, chat.id))
            return
        toast: str | None = None
        chosen: bool | None = None
        try:
            if action[0] == "feedback" and action[1] is not None and action[2] is not None:
                toast, chosen = await self._feedback(query, message, action[1], action[2], lang)
            elif action[1] is not None:
                toast, chosen = await self._action(query, message, action[1], lang)
        finally:
            await self._acknowledge(query, toast)
        if chosen is not None:
            await self._choose(query, query.data, chosen)

    async def _feedback(self, query: CallbackQuery, message: MaybeInaccessibleMessage, value: str, message_id: int,
                        lang: str | None) -> tuple[str, bool | None]:
        """Store 👍/👎 (pressing the chosen one again withdraws it): (toast, now chosen?)."""
        withdraw = render.is_chosen(getattr(message, "reply_markup", None), query.data or "")
        ok = await self.engine.feedback(self.name, str(message.chat.id), message_id,
                                        None if withdraw else value)
        if not ok:
            return render.phrase(lang, "feedback_unavailable"), None
        if withdraw:
            return render.phrase(lang, "feedback_withdrawn"), False
        return prompts.text(lang, "feedback_thanks"), True

    async def _action(self, query: CallbackQuery, message: MaybeInaccessibleMessage, action: str,
                      lang: str | None) -> tuple[str, bool | None]:
        """Another engine button (e.g. a rating of the technology manager's service)."""
        ok = await self.engine.button(self.name, str(message.chat.id), str(query.from_user.id), action)
        if not ok:
            return render.phrase(lang, "feedback_unavailable"), None
        return prompts.text(lang, "rate_thanks" if action.startswith("rate:") else "feedback_thanks"), True

    async def _acknowledge(self, query: CallbackQuery, toast: str | None) -> None:
        try:
            await query.answer(toast)
        except TelegramError as exc:
            log.info("callback_answer_failed", error=str(exc))

    async def _choose(self, query: CallbackQuery, data: str, chosen: bool) -> None:
        markup = getattr(query.message, "reply_markup", None)
        if markup is None:
            return
        try:
            await query.edit_message_reply_markup(render.with_choice(markup, data, chosen))
        except TelegramError as exc:
            log.info("keyboard_edit_failed", error=str(exc))

    async def _on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A user blocking (kicked) or unblocking (member) the bot in a private chat."""
        change = update.my_chat_member
        if change is None or change.chat.type != "private":  # the handler takes only my_chat_member updates
            return
        await self.engine.set_blocked(self.name, str(change.chat.id), change.new_chat_member.status == ChatMember.BANNED)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram_handler_failed", error=repr(context.error),
                  update_id=getattr(update, "update_id", None))
