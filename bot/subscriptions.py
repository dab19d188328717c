"""Subscriptions and proactive notices (issue 16).

Commands, on every channel: "/subscribe 研发 青岛市" or "订阅 研发 青岛市" (topics, and regions from
bot/regions.py), "/subscriptions" or "我的订阅", "/unsubscribe", "退订" or "取消订阅".

`Notices.tick()` (every NOTICE_CHECK_SECONDS): for each active subscription, documents added or
changed since it last looked and calendar windows closing within NOTICE_CLOSING_DAYS that match its
topics and regions become notice items; the pending items of a conversation are sent packed in one
message, at most one per NOTICE_DIGEST_HOURS, and only where the platform allows it now:
Telegram private chats, WeCom app members, WeChat Customer Service inside the 48-hour / 5-message
window after the user's last message (otherwise they wait for the next window), the web chat
(stored and shown on the next visit). Notices go through the outbox (`bot.outbox`), so each is stored with its
delivery status (author `qdbot-notices`). Operators can pause them (`paused`).
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import structlog

import prompts
from bot import regions
from bot.calendar import CalendarEntry
from bot.clock import Clock
from bot.status import PolicyState, Status, states
from bot.store.calendar import NOTICE_AUTHOR, Change, Subscription
from bot.types import Conversation, Reply, Role

log = structlog.get_logger(__name__)
PAUSED_KEY = "notices_paused"
KF_WINDOW = timedelta(hours=48)
KF_QUOTA = 5
_SUBSCRIBE = re.compile(r"^(?:/subscribe(?:@\w+)?|订阅(?:政策提醒|提醒)?)(?:\s+|$)(.*)$", re.I | re.S)
_LIST = re.compile(r"^(?:/subscriptions(?:@\w+)?|我的订阅|查看订阅)$", re.I)
_UNSUBSCRIBE = re.compile(r"^(?:/unsubscribe(?:@\w+)?|退订|取消订阅|退订提醒)$", re.I)
_SPLIT = re.compile(r"[\s,，、;；]+")


def parse_terms(args: str) -> tuple[list[str], list[str]]:
    """(topics, regions) of a subscribe command's arguments."""
    topics, places = [], []
    for word in (w for w in _SPLIT.split(args.strip()) if w):
        found = regions.find_places(word)
        if len(found) == 1 and len(word) <= len(found[0]) + 1:  # "青岛" / "青岛市": a place, not a topic
            places.append(found[0])
        else:
            topics.append(word)
    return topics, places


def matches(sub: Subscription, text: str, region: str) -> bool:
    if sub.regions and region and not any(regions.applies(region, r) for r in sub.regions):
        return False
    lowered = text.lower()
    return not sub.topics or any(t.lower() in lowered for t in sub.topics)


class Notices:
    """Subscription commands and the notice digest, over the engine's one outbound path."""

    def __init__(self, engine: Any, clock: Clock):  # the Engine (importing bot.engine would close a circle)
        self.engine, self.clock = engine, clock
        self.store, self.settings = engine.store, engine.settings

    # ------------------------------------------------------------------ commands

    async def command(self, conv: Conversation, text: str, lang: str) -> str | None:
        """The reply to a subscription command, or None when `text` is not one."""
        text = text.strip()
        if _UNSUBSCRIBE.match(text):
            done = await self.store.calendar.unsubscribe(conv.id)
            return self._say(lang, "unsubscribed" if done else "not_subscribed")
        if _LIST.match(text):
            sub = await self.store.calendar.subscription(conv.id)
            if sub is None or not sub.active:
                return self._say(lang, "subscriptions_none")
            return self._say(lang, "subscriptions_list", **self._terms(sub, lang))
        match = _SUBSCRIBE.match(text)
        if match is None:
            return None
        if not self._private(conv):
            return self._say(lang, "subscribe_private_only")
        topics, places = parse_terms(match.group(1))
        sub = await self.store.calendar.subscribe(conv.id, conv.channel, topics, places)
        return self._say(lang, "subscribed", hours=f"{self.settings.notice_digest_hours:g}", **self._terms(sub, lang))

    def _terms(self, sub: Subscription, lang: str) -> dict[str, str]:
        sep = ", " if lang == "en" else "、"
        topics = sep.join(sub.topics) or self._say(lang, "subscribed_all")
        places = self._say(lang, "subscribed_regions", regions=sep.join(sub.regions)) if sub.regions else ""
        return {"topics": topics, "regions": places}

    @staticmethod
    def _say(lang: str, key: str, **fields: object) -> str:
        return prompts.text_from("calendar", lang, key, **fields)

    @staticmethod
    def _private(conv: Conversation) -> bool:
        return conv.channel != "telegram" or not conv.chat_id.startswith("-")

    # ------------------------------------------------------------------ pausing

    async def paused(self) -> bool:
        return bool((await self.store.get_state(PAUSED_KEY)) == "1")

    async def pause(self, paused: bool) -> None:
        await self.store.set_state(PAUSED_KEY, "1" if paused else "0")

    # ------------------------------------------------------------------ the digest

    async def tick(self) -> int:
        """Queue what is new for every subscriber and send what may be sent now; returns messages sent."""
        if await self.paused():
            return 0
        subs = await self.store.calendar.active_subscriptions()
        if not subs:
            return 0
        changes = await self.store.calendar.changes_after(min(s.since_change_id for s in subs))
        closing = await self._closing()
        sent = 0
        for sub in subs:
            await self._queue(sub, changes, closing)
            sent += await self.deliver(sub)
        return sent

    async def _closing(self) -> list[tuple[CalendarEntry, int]]:
        """Visible entries of documents in force whose window closes within NOTICE_CLOSING_DAYS."""
        today = self.clock.today()
        docs = {d.id: s for d, s in _with_states(await self.store.calendar.policies(), today)}
        out = []
        for entry in await self.store.calendar.entries():
            state = docs.get(entry.doc_id)
            opens, closes = entry.window(today)
            if closes is None or (state is not None and state.status not in (Status.CURRENT,)):
                continue
            days = (closes - today).days
            if 0 <= days <= self.settings.notice_closing_days and (opens is None or opens <= today):
                out.append((entry, days))
        return out

    async def _queue(self, sub: Subscription, changes: list[Change], closing: list[tuple[CalendarEntry, int]]) -> None:
        lang = sub.lang or "zh"
        for ch in (c for c in changes if c.id > sub.since_change_id):
            if matches(sub, f"{ch.title}\n{ch.text}", ch.region):
                key = "notice_updated_document" if ch.kind == "updated" else "notice_new_document"
                await self.store.calendar.add_item(sub.conversation_id, f"doc:{ch.doc_id}:{ch.id}",
                                                   self._say(lang, key, title=ch.title))
        if changes:
            await self.store.calendar.advance(sub.id, changes[-1].id)
        for entry, days in closing:
            if matches(sub, f"{entry.what}\n{entry.clause}\n{entry.title}", entry.region):
                closes = entry.window(self.clock.today())[1]
                await self.store.calendar.add_item(
                    sub.conversation_id, f"closing:{entry.id}:{closes}",
                    self._say(lang, "notice_closing", what=entry.what, closes=closes, days=days, title=entry.title))

    async def deliver(self, sub: Subscription) -> int:
        """Send the conversation's pending items packed in one message, when the digest period and
        the platform allow it; 1 when a message went out."""
        now = self.clock.now()
        if sub.last_notice_at and now - sub.last_notice_at < timedelta(hours=self.settings.notice_digest_hours):
            return 0
        items = await self.store.calendar.pending_items(sub.conversation_id)
        conv = await self.store.get_conversation(sub.conversation_id)
        if not items or conv is None or not await self._may_send(conv):
            return 0
        lang = sub.lang or "zh"
        terms = self._terms(sub, lang)
        lines = [self._say(lang, "notice_header", topics=terms["topics"]), *(f"• {i.text}" for i in items),
                 self._say(lang, "notice_footer")]
        reply = await self.engine.outbox.deliver(conv, Reply("\n".join(lines), role=Role.SYSTEM), author=NOTICE_AUTHOR)
        await self.store.calendar.delivered([i.id for i in items], reply.message_id)
        await self.store.calendar.noticed(sub.id, now)
        log.info("notice_sent", channel=conv.channel, conversation=conv.id, items=len(items))
        return 1

    async def _may_send(self, conv: Conversation) -> bool:
        if conv.blocked:
            return False
        if conv.channel == "telegram":
            return self._private(conv)
        if conv.channel == "wecom_kf":
            last = await self.store.calendar.last_user_message_at(conv.id)
            return (last is not None and self.clock.now() - last < KF_WINDOW
                    and await self.store.calendar.sent_since(conv.id, last) < KF_QUOTA)
        return conv.channel in ("web", "wecom")


def _with_states(docs: list[Any], today: date) -> list[tuple[Any, PolicyState]]:
    found = states(docs, today)
    return [(d, found[d.id]) for d in docs]
