"""Storage of the application calendar, the policy status fields, the knowledge-base change log,
subscriptions and notice items (tables of `calendar_models`, migration 0010)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.calendar import CalendarEntry
from bot.states import MessageStatus
from bot.store import mappers
from bot.store.calendar_models import CalendarEntryRow, KbChangeRow, NoticeItemRow, SubscriptionRow
from bot.store.models import ConversationRow, DocumentRow, MessageRow
from bot.types import Role, utcnow

NOTICE_AUTHOR = "qdbot-notices"  # the `author` of every notice message (messages table)
_ENTRY_FIELDS = ("what", "who", "opens", "closes", "recurrence", "clause", "section", "title", "source", "region",
                 "origin", "hidden")


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """What the policy status of one document is computed from."""

    id: str
    title: str
    identity: dict[str, str]
    policy: dict[str, Any]
    override: dict[str, str]
    source: str = ""


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    conversation_id: int
    channel: str
    chat_id: str
    topics: tuple[str, ...]
    regions: tuple[str, ...]
    active: bool
    since_change_id: int
    last_notice_at: datetime | None
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    doc_id: str
    title: str
    region: str
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class NoticeItem:
    id: int
    key: str
    text: str


@dataclass
class NoticeStats:
    subscribers: dict[str, int] = field(default_factory=dict)  # channel -> active subscriptions
    notices: dict[str, int] = field(default_factory=dict)  # message status -> count
    pending: int = 0  # items not yet delivered


def _entry(row: CalendarEntryRow) -> CalendarEntry:
    return CalendarEntry(id=row.id, doc_id=row.doc_id, **{k: getattr(row, k) for k in _ENTRY_FIELDS})


class CalendarStore:
    def __init__(self, session: async_sessionmaker[AsyncSession]):
        self._session = session

    # ------------------------------------------------------------------ policy status

    async def set_policy(self, doc_id: str, policy: dict[str, Any]) -> None:
        async with self._session() as s, s.begin():
            await s.execute(update(DocumentRow).where(DocumentRow.id == doc_id).values(policy=policy or None))

    async def set_policy_override(self, doc_id: str, override: dict[str, str]) -> bool:
        async with self._session() as s, s.begin():
            row = await s.get(DocumentRow, doc_id)
            if row is None:
                return False
            row.policy_override = {k: v for k, v in override.items() if v} or None
            return True

    async def policies(self) -> list[PolicyRecord]:
        async with self._session() as s:
            rows = await s.scalars(select(DocumentRow).where(DocumentRow.status == "ok"))
            return [PolicyRecord(r.id, r.title, {**(r.identity or {}), **(r.identity_override or {})},
                                 dict(r.policy or {}), dict(r.policy_override or {}), r.source) for r in rows]

    # ------------------------------------------------------------------ calendar entries

    async def replace_entries(self, doc_id: str, entries: list[CalendarEntry]) -> int:
        """The document's entries read at ingest; entries an operator added or corrected are kept
        (and a read entry with the same clause as one of those is not added again)."""
        async with self._session() as s, s.begin():
            await s.execute(delete(CalendarEntryRow).where(CalendarEntryRow.doc_id == doc_id,
                                                           CalendarEntryRow.origin != "operator"))
            kept = set(await s.scalars(select(CalendarEntryRow.clause).where(CalendarEntryRow.doc_id == doc_id)))
            fresh = [e for e in entries if e.clause not in kept]
            s.add_all(CalendarEntryRow(doc_id=doc_id, **{k: getattr(e, k) for k in _ENTRY_FIELDS}) for e in fresh)
            return len(fresh)

    async def entries(self, *, include_hidden: bool = False) -> list[CalendarEntry]:
        async with self._session() as s:
            q = select(CalendarEntryRow).order_by(CalendarEntryRow.closes, CalendarEntryRow.id)
            if not include_hidden:
                q = q.where(CalendarEntryRow.hidden.is_(False))
            return [_entry(r) for r in await s.scalars(q)]

    async def get_entry(self, entry_id: int) -> CalendarEntry | None:
        async with self._session() as s:
            row = await s.get(CalendarEntryRow, entry_id)
            return _entry(row) if row else None

    async def update_entry(self, entry_id: int, **changes: Any) -> bool:
        """An operator's correction: the entry is then the operator's and survives re-ingests."""
        values = {k: v for k, v in changes.items() if k in _ENTRY_FIELDS}
        async with self._session() as s, s.begin():
            done = await s.execute(update(CalendarEntryRow).where(CalendarEntryRow.id == entry_id)
                                   .values(**values, origin="operator", updated_at=utcnow()))
            return mappers.changed(done) > 0

    async def add_entry(self, entry: CalendarEntry) -> int | None:
        async with self._session() as s, s.begin():
            if await s.get(DocumentRow, entry.doc_id) is None:
                return None
            row = CalendarEntryRow(doc_id=entry.doc_id, **{k: getattr(entry, k) for k in _ENTRY_FIELDS})
            s.add(row)
            await s.flush()
            return row.id

    # ------------------------------------------------------------------ change log

    async def record_change(self, doc_id: str, title: str, region: str, kind: str, text: str) -> int:
        async with self._session() as s, s.begin():
            row = KbChangeRow(doc_id=doc_id, title=title, region=region, kind=kind, text=text[:4000])
            s.add(row)
            await s.flush()
            return row.id

    async def last_change_id(self, s: AsyncSession | None = None) -> int:
        if s is not None:
            return int(await s.scalar(select(func.max(KbChangeRow.id))) or 0)
        async with self._session() as s2:
            return await self.last_change_id(s2)

    async def changes_after(self, change_id: int) -> list[Change]:
        async with self._session() as s:
            rows = await s.scalars(select(KbChangeRow).where(KbChangeRow.id > change_id).order_by(KbChangeRow.id))
            return [Change(r.id, r.doc_id, r.title, r.region, r.kind, r.text) for r in rows]

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, conversation_id: int, channel: str, topics: list[str], regions: list[str]) -> Subscription:
        """Add topics and regions to the conversation's subscription (starting it when needed):
        documents already in the knowledge base are not news to it."""
        async with self._session() as s, s.begin():
            row = await s.scalar(select(SubscriptionRow).where(SubscriptionRow.conversation_id == conversation_id))
            if row is None:
                row = SubscriptionRow(conversation_id=conversation_id, channel=channel, topics=[], regions=[],
                                      active=False)
                s.add(row)
            if not row.active:
                row.topics, row.regions, row.active = [], [], True
                row.since_change_id = await self.last_change_id(s)
            row.topics = _merged(row.topics, topics)
            row.regions = _merged(row.regions, regions)
            row.updated_at = utcnow()
            await s.flush()
            return await self._subscription(s, row)

    async def unsubscribe(self, conversation_id: int) -> bool:
        """Cancel; pending notice items are dropped. False when there was nothing to cancel."""
        async with self._session() as s, s.begin():
            done = await s.execute(update(SubscriptionRow).where(SubscriptionRow.conversation_id == conversation_id,
                                                                 SubscriptionRow.active.is_(True))
                                   .values(active=False, updated_at=utcnow()))
            await s.execute(delete(NoticeItemRow).where(NoticeItemRow.conversation_id == conversation_id,
                                                        NoticeItemRow.message_id.is_(None)))
            return mappers.changed(done) > 0

    async def subscription(self, conversation_id: int) -> Subscription | None:
        async with self._session() as s:
            row = await s.scalar(select(SubscriptionRow).where(SubscriptionRow.conversation_id == conversation_id))
            return await self._subscription(s, row) if row is not None else None

    async def active_subscriptions(self) -> list[Subscription]:
        async with self._session() as s:
            rows = list(await s.scalars(select(SubscriptionRow).where(SubscriptionRow.active.is_(True))
                                        .order_by(SubscriptionRow.id)))
            return [await self._subscription(s, r) for r in rows]

    async def _subscription(self, s: AsyncSession, row: SubscriptionRow) -> Subscription:
        conv = await s.get(ConversationRow, row.conversation_id)
        return Subscription(row.id, row.conversation_id, row.channel, conv.chat_id if conv else "",
                            tuple(row.topics or ()), tuple(row.regions or ()), bool(row.active),
                            int(row.since_change_id or 0), row.last_notice_at, conv.lang if conv else None)

    async def advance(self, subscription_id: int, change_id: int) -> None:
        async with self._session() as s, s.begin():
            await s.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id,
                                                          SubscriptionRow.since_change_id < change_id)
                            .values(since_change_id=change_id))

    async def noticed(self, subscription_id: int, when: datetime) -> None:
        async with self._session() as s, s.begin():
            await s.execute(update(SubscriptionRow).where(SubscriptionRow.id == subscription_id)
                            .values(last_notice_at=when))

    # ------------------------------------------------------------------ notice items

    async def add_item(self, conversation_id: int, key: str, text: str) -> bool:
        """Queue one item for a subscriber; False when it was queued (or delivered) before."""
        async with self._session() as s:
            s.add(NoticeItemRow(conversation_id=conversation_id, key=key[:200], text=text))
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                return False
            return True

    async def pending_items(self, conversation_id: int) -> list[NoticeItem]:
        async with self._session() as s:
            rows = await s.scalars(select(NoticeItemRow).where(NoticeItemRow.conversation_id == conversation_id,
                                                               NoticeItemRow.message_id.is_(None))
                                   .order_by(NoticeItemRow.id))
            return [NoticeItem(r.id, r.key, r.text) for r in rows]

    async def delivered(self, item_ids: list[int], message_id: int) -> None:
        async with self._session() as s, s.begin():
            await s.execute(update(NoticeItemRow).where(NoticeItemRow.id.in_(item_ids)).values(message_id=message_id))

    # ------------------------------------------------------------------ platform windows and figures

    async def last_user_message_at(self, conversation_id: int) -> datetime | None:
        async with self._session() as s:
            return await s.scalar(select(func.max(MessageRow.created_at)).where(
                MessageRow.conversation_id == conversation_id, MessageRow.role == Role.USER.value))

    async def sent_since(self, conversation_id: int, since: datetime) -> int:
        """Messages we sent to the conversation after its user's message of `since` (the kf quota)."""
        async with self._session() as s:
            last_user = await s.scalar(select(func.max(MessageRow.id)).where(
                MessageRow.conversation_id == conversation_id, MessageRow.role == Role.USER.value,
                MessageRow.created_at <= since))
            return int(await s.scalar(select(func.count(MessageRow.id)).where(
                MessageRow.conversation_id == conversation_id, MessageRow.role != Role.USER.value,
                MessageRow.id > (last_user or 0), MessageRow.status == MessageStatus.SENT)) or 0)

    async def stats(self) -> NoticeStats:
        async with self._session() as s:
            subs = await s.execute(select(SubscriptionRow.channel, func.count()).where(SubscriptionRow.active.is_(True))
                                   .group_by(SubscriptionRow.channel))
            sent = await s.execute(select(MessageRow.status, func.count()).where(MessageRow.author == NOTICE_AUTHOR)
                                   .group_by(MessageRow.status))
            pending = await s.scalar(select(func.count(NoticeItemRow.id)).join(
                SubscriptionRow, SubscriptionRow.conversation_id == NoticeItemRow.conversation_id).where(
                NoticeItemRow.message_id.is_(None), SubscriptionRow.active.is_(True)))
            return NoticeStats(dict(subs.all()), dict(sent.all()), int(pending or 0))


def _merged(old: list[Any] | None, new: list[str]) -> list[str]:
    out = list(old or [])
    for item in new:
        if item and item not in out:
            out.append(item)
    return out
